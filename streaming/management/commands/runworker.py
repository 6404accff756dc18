"""`runworker streaming.worker`, with the relay's sweep running beside the consumer."""

from channels.management.commands.runworker import Command as ChannelsRunWorker

from streaming.worker.consumer import RelayWorker


class Command(ChannelsRunWorker):
    worker_class = RelayWorker
