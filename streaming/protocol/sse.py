"""A server-sent-events decoder: bytes in, frames out (WHATWG event-stream rules).

Pure: no I/O, no Django, no asyncio. Feed it chunks split anywhere (inside a line, inside a
UTF-8 character, between the CR and LF of a CRLF); it yields each frame once its blank line
arrives. Only whole lines are decoded (all the complete lines of a chunk at once), which is
what makes splits inside UTF-8 characters safe: a line feed is never part of a UTF-8 sequence.

`feed_data`/`close_data` give only each frame's data, for readers that need nothing else:
building a `Frame` per event costs more than the rest of the decoding (bench/parse.py
prints both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True, frozen=True)
class Frame:
    data: str
    event: str = ""  # empty when the frame had no `event:` line
    id: str | None = None  # the last event id seen, as the spec defines it
    retry: int | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._tail = b""  # an unfinished line
        self._skip_lf = False  # the previous chunk ended in CR: a leading LF belongs to it
        self._at_start = True  # a BOM may still come
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self.comments = 0  # keep-alives seen

    def feed(self, chunk: bytes) -> list[Frame]:
        return [Frame(*fields) for fields in self._feed(chunk, whole=True)]

    def feed_data(self, chunk: bytes) -> list[str]:
        """`feed`, but only the data of each frame (the other fields are still tracked)."""
        return self._feed(chunk, whole=False)

    def close(self) -> list[Frame]:
        """End of stream. A last frame missing only its blank line is still delivered.

        The spec discards an unfinished frame; servers that omit the final blank line are
        common enough that dropping their terminal event would lose data, so a frame whose
        lines were all complete is kept. A half-received line is discarded.
        """
        return [Frame(*fields) for fields in self._close()]

    def close_data(self) -> list[str]:
        return [fields[0] for fields in self._close()]

    def _close(self) -> list[tuple[str, str, str | None, int | None]]:
        self._tail = b""
        return [self._dispatch()] if self._data else []

    def _feed(self, chunk: bytes, *, whole: bool) -> list[Any]:
        """The frames completed by `chunk`: `(data, event, id, retry)` tuples when `whole`,
        else just each frame's data."""
        if self._skip_lf and chunk:  # an empty chunk must not forget the pending CR
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buf = self._tail + chunk
        if self._at_start:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._tail = buf
                return []
            self._at_start = False
            if buf.startswith(_BOM):
                buf = buf[3:]
        if b"\r" in buf:
            self._skip_lf = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = buf.rfind(b"\n")
        if end < 0:
            self._tail = buf
            return []
        self._tail = buf[end + 1 :]
        frames: list[Any] = []
        # The frame being read lives in locals, and a frame is dispatched inline: the lines
        # of the common fields cost no call and no attribute write (bench/relay.py).
        data, event = self._data, self._event
        for line in buf[:end].decode("utf-8", "replace").split("\n"):
            if not line:
                if data:
                    value = data[0] if len(data) == 1 else "\n".join(data)
                    frames.append((value, event, self._last_id, self._retry) if whole else value)
                    data = []
                event = ""
            elif line[:5] == "data:":
                data.append(line[6:] if line[5:6] == " " else line[5:])
            elif line[:6] == "event:":
                event = line[7:] if line[6:7] == " " else line[6:]
            else:
                self._data, self._event = data, event
                self._field(line)
                data, event = self._data, self._event
        self._data, self._event = data, event
        return frames

    def _field(self, line: str) -> None:
        if line[:1] == ":":
            self.comments += 1
            return
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":  # `data` with no colon: an empty data line
            self._data.append("")
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():  # ASCII digits only
            self._retry = int(value)

    def _dispatch(self) -> tuple[str, str, str | None, int | None]:
        data = self._data
        fields = (
            data[0] if len(data) == 1 else "\n".join(data),
            self._event,
            self._last_id,
            self._retry,
        )
        self._data = []
        self._event = ""
        return fields
