"""Streams of object bytes: what ``get`` returns and what layers wrap.

A :class:`Body` reads like a binary file (``read(n)``, iteration in chunks, ``close``) and never holds more
than one chunk unless the caller asks for everything with ``read()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = [
    "CHUNK_SIZE",
    "Body",
    "BytesBody",
    "FileBody",
    "IteratorBody",
    "ReadableStream",
    "Remainder",
    "StreamBody",
]

CHUNK_SIZE = 1 << 20


class Remainder:
    """The unread part of one chunk: taking from it copies only the bytes taken.

    Slicing the rest off a bytes chunk on every read copies that rest each time, which costs quadratic time
    when a large chunk is read in small pieces; an offset into the chunk does not.
    """

    __slots__ = ("_chunk", "_offset")

    def __init__(self, chunk: bytes | bytearray | memoryview = b"") -> None:
        self._chunk = chunk
        self._offset = 0

    def __bool__(self) -> bool:
        return self._offset < len(self._chunk)

    def __len__(self) -> int:
        return len(self._chunk) - self._offset

    def take(self, n: int) -> bytes:
        """Return up to ``n`` bytes from the front (all that is left when ``n`` is negative) as bytes."""
        chunk, start = self._chunk, self._offset
        end = len(chunk) if n < 0 else min(len(chunk), start + n)
        self._offset = end
        if start == 0 and end == len(chunk) and isinstance(chunk, bytes):
            self._chunk, self._offset = b"", 0
            return chunk  # the whole chunk: no copy at all
        return bytes(chunk[start:end])


@runtime_checkable
class ReadableStream(Protocol):
    """Anything with a binary ``read(n)``: open files, sockets' file objects, bodies."""

    def read(self, size: int = -1, /) -> bytes: ...


class Body:
    """A readable, closable stream of an object's bytes.

    Subclasses implement :meth:`_read` (at most ``n`` bytes, ``b""`` at the end) and may override
    :meth:`_close`. ``size`` is the number of bytes the body will yield when known.
    """

    size: int | None = None
    closed = False
    _on_close: tuple[Callable[[], None], ...] = ()

    def _read(self, n: int) -> bytes:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def read(self, size: int = -1, /) -> bytes:
        """Read up to ``size`` bytes, or everything left when ``size`` is negative; ``b""`` at the end.

        Raises:
            ValueError: the body is closed.
        """
        if self.closed:
            raise ValueError("read from a closed body")
        if size is None or size < 0:
            return self.readall()
        if size == 0:
            return b""
        return self._read(size)

    def readall(self) -> bytes:
        """Read everything that is left."""
        chunks = []
        while chunk := self._read(CHUNK_SIZE):
            chunks.append(chunk)
        return b"".join(chunks)

    def __iter__(self) -> Iterator[bytes]:
        """Yield the remaining bytes in chunks of at most :data:`CHUNK_SIZE`."""
        while chunk := self.read(CHUNK_SIZE):
            yield chunk

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once when the body is closed (layers use this to record metrics)."""
        self._on_close = (*self._on_close, callback)

    def close(self) -> None:
        """Release the underlying resource; closing twice is harmless."""
        if self.closed:
            return
        self.closed = True
        try:
            self._close()
        finally:
            for callback in self._on_close:
                callback()

    def __enter__(self) -> Body:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        if not self.closed:
            self.close()


class BytesBody(Body):
    """A body over bytes already in memory."""

    def __init__(self, data: bytes | memoryview) -> None:
        self._view = memoryview(data)
        self._pos = 0
        self.size = len(self._view)

    def _read(self, n: int) -> bytes:
        chunk = self._view[self._pos : self._pos + n]
        self._pos += len(chunk)
        return bytes(chunk)

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("read from a closed body")
        rest = self._view[self._pos :]
        self._pos = len(self._view)
        obj = rest.obj
        if self._pos == len(rest) and isinstance(obj, bytes) and len(obj) == len(rest):
            return obj  # the whole, untouched object: no copy
        return bytes(rest)


class FileBody(Body):
    """A body over ``length`` bytes of an open file descriptor, starting at ``start``; owns the descriptor."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self._fd = fd
        self._pos = start
        self._left = length
        self.size = length

    def _read(self, n: int) -> bytes:
        n = min(n, self._left)
        if n <= 0:
            return b""
        chunk = os.pread(self._fd, n, self._pos)
        self._pos += len(chunk)
        self._left -= len(chunk)
        if not chunk:
            self._left = 0
        return chunk

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("read from a closed body")
        want = self._left
        if want <= 0:
            return b""
        # os.pread allocates the result once at the requested size; one call usually returns all of it.
        chunks = []
        got = 0
        while got < want:
            chunk = os.pread(self._fd, want - got, self._pos + got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        self._pos += got
        self._left = 0
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def fileno(self) -> int:
        """The underlying file descriptor (for zero-copy transfers)."""
        return self._fd

    @property
    def position(self) -> int:
        """The file offset the next read starts at."""
        return self._pos

    def _close(self) -> None:
        os.close(self._fd)


class IteratorBody(Body):
    """A body over an iterator of byte chunks, with an optional close hook for the iterator's source."""

    def __init__(
        self, chunks: Iterator[bytes], size: int | None = None, on_close: Callable[[], None] | None = None
    ) -> None:
        self._chunks = chunks
        self._pending = Remainder()
        self._close_source = on_close
        self.size = size

    def _read(self, n: int) -> bytes:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._pending = Remainder(chunk)
        return self._pending.take(n)

    def _close(self) -> None:
        if self._close_source is not None:
            self._close_source()


class StreamBody(Body):
    """A body over a readable binary stream (a file object, a decompressor), closing it with the body."""

    def __init__(self, stream: BinaryIO | ReadableStream, size: int | None = None) -> None:
        self._stream = stream
        self.size = size

    def _read(self, n: int) -> bytes:
        return self._stream.read(n)

    def _close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()
