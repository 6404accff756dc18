"""A server-sent-events decoder: bytes in, frames out (WHATWG event-stream rules).

Pure: no I/O, no Django, no asyncio. Feed it chunks split anywhere (inside a line, inside a
UTF-8 character, between the CR and LF of a CRLF); it yields each frame once its blank line
arrives. Working on bytes and decoding only whole lines is what makes splits inside UTF-8
characters safe, and it measured faster than decoding text first (see bench/parse.py).
"""

from __future__ import annotations

from dataclasses import dataclass

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
        self._data: list[bytes] = []
        self._event = b""
        self._last_id: str | None = None
        self._retry: int | None = None
        self.comments = 0  # keep-alives seen

    def feed(self, chunk: bytes) -> list[Frame]:
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
        lines = buf.split(b"\n")
        self._tail = lines.pop()
        frames: list[Frame] = []
        for line in lines:
            if line:
                self._field(line)
            elif self._data:
                frames.append(self._dispatch())
            else:
                self._event = b""
        return frames

    def close(self) -> list[Frame]:
        """End of stream. A last frame missing only its blank line is still delivered.

        The spec discards an unfinished frame; servers that omit the final blank line are
        common enough that dropping their terminal event would lose data, so a frame whose
        lines were all complete is kept. A half-received line is discarded.
        """
        self._tail = b""
        return [self._dispatch()] if self._data else []

    def _field(self, line: bytes) -> None:
        if line[:5] == b"data:":
            value = line[5:]
            self._data.append(value[1:] if value[:1] == b" " else value)
            return
        if line[:1] == b":":
            self.comments += 1
            return
        name, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value
        elif name == b"data":  # `data` with no colon: an empty data line
            self._data.append(b"")
        elif name == b"id" and b"\0" not in value:
            self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> Frame:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        frame = Frame(
            data=data.decode("utf-8", "replace"),
            event=self._event.decode("utf-8", "replace"),
            id=self._last_id,
            retry=self._retry,
        )
        self._data = []
        self._event = b""
        return frame
