"""Streams handed to resumable uploads."""

from __future__ import annotations

from satchel.body import ReadableStream

__all__ = ["FullReads"]


class FullReads:
    """A stream adapter for resumable uploads: ``read(n)`` returns ``n`` bytes unless the stream has ended.

    The SDK takes a short read as the end of the stream and asks ``tell()`` where it is; satchel's streams
    (pipes, iterators) may return short reads and need not know their position.
    """

    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        """Read ``size`` bytes (everything left when negative); fewer only at the end of the stream."""
        chunks = []
        want = size
        while want < 0 or want > 0:
            chunk = self._stream.read(want if want > 0 else 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if want > 0:
                want -= len(chunk)
        data = b"".join(chunks)
        self._position += len(data)
        return data

    def tell(self) -> int:
        """Return how many bytes were read so far."""
        return self._position
