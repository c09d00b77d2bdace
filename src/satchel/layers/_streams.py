"""Stream helpers shared by the layers: a seekable-stream protocol, a primed reader and a byte window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from satchel.body import CHUNK_SIZE, Body, ReadableStream, Remainder

__all__ = ["Primed", "SeekableStream", "Window"]


@runtime_checkable
class SeekableStream(Protocol):
    """A readable stream that may be able to seek (``seekable()`` says whether it really can)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seekable(self) -> bool: ...
    def tell(self) -> int: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...


class Primed:
    """A reader that yields ``head`` and then the rest of ``source``."""

    def __init__(self, head: bytes, source: Body) -> None:
        self._head = head
        self._source = source

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._source.read(size)
        if size < 0:
            out, self._head = self._head + self._source.read(), b""
        else:
            out, self._head = self._head[:size], self._head[size:]
        return out


class Window(Body):
    """The bytes of ``stream`` from where :meth:`seek_to` stopped up to ``end``; closing closes ``source``."""

    def __init__(self, stream: ReadableStream, source: Body) -> None:
        super().__init__()
        self._stream = stream
        self._source = source
        self._pending = Remainder()
        self._ended = False
        self.position = 0
        self.end: int | None = None
        self.on_end: Callable[[int], None] | None = None

    def seek_to(self, start: int) -> bool:
        """Discard the bytes before ``start``; return True when at least one byte follows."""
        while self.position < start:
            chunk = self._stream.read(min(start - self.position, CHUNK_SIZE))
            if not chunk:
                return False
            self.position += len(chunk)
        self._pending = Remainder(self._stream.read(CHUNK_SIZE))
        return bool(self._pending)

    def _read(self, n: int) -> bytes:
        if self.end is not None:
            n = min(n, self.end - self.position)
        if n <= 0:
            chunk = b""
        elif self._pending:
            chunk = self._pending.take(n)
        else:
            chunk = self._stream.read(n)
        self.position += len(chunk)
        if (not chunk or self.position == self.end) and not self._ended:
            self._ended = True
            if self.on_end is not None:
                self.on_end(self.position)
        return chunk

    def _close(self) -> None:
        close = getattr(self._stream, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._source.close()
