"""Logs that say which turn they are about, as text or as one JSON object a line (LOG_JSON).

log = turn_logger(turn.pk)          # in the runner, the worker, the sweep
log.warning("lease lost")           # text:  … streaming.worker.runner [turn 3f2a…] lease lost
                                    # JSON:  {…, "turn_id": "3f2a…", "message": "lease lost"}
"""

from __future__ import annotations

import json
import logging
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class TurnLogger(logging.LoggerAdapter):
    """Adds `turn_id` to every record (for JSON logs) and to the message text."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        turn_id = self.extra["turn_id"] if self.extra else ""
        kwargs["extra"] = {**(kwargs.get("extra") or {}), "turn_id": turn_id}
        return f"[turn {turn_id}] {msg}", kwargs


def turn_logger(turn_id: Any, name: str = "streaming") -> TurnLogger:
    return TurnLogger(logging.getLogger(name), {"turn_id": str(turn_id)})


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, extras such as turn_id, and
    the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        turn_id = getattr(record, "turn_id", None)
        if turn_id:  # the text prefix is for people; JSON has the field
            message = message.removeprefix(f"[turn {turn_id}] ")
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        entry.update((key, value) for key, value in record.__dict__.items() if key not in _STANDARD)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
