"""`runworker streaming.worker`, with the relay's sweep running beside the consumer."""

from typing import Any

from channels.management.commands.runworker import Command as ChannelsRunWorker

from streaming.management.heap import freeze_startup_heap
from streaming.worker.consumer import RelayWorker


class Command(ChannelsRunWorker):
    worker_class = RelayWorker

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_startup_heap()
        super().handle(*args, **options)
