"""keg-storage's RemoteFile: a file-like object over :meth:`satchel.Store.open`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import TracebackType

from satchel.flask_ext._values import FileMode
from satchel.io import ObjectReader, ObjectWriter

__all__ = ["RemoteFile"]


class RemoteFile:
    """A remote file opened for reading or for writing (``mode``), as :meth:`StorageBackend.open` returns.

    A file opened for writing becomes the object when closed. Leaving a ``with`` block on an exception, or
    :meth:`abort`, discards what was written and leaves the previous object as it was.
    """

    iter_chunk_size = 5 * 1024 * 1024

    def __init__(self, mode: FileMode, handle: ObjectReader | ObjectWriter) -> None:
        self.mode = mode
        self._handle = handle

    @property
    def closed(self) -> bool:
        """True once closed or aborted."""
        return self._handle.closed

    def read(self, size: int = -1) -> bytes:
        """Read and return up to ``size`` bytes (all that is left when negative); ``b""`` at the end.

        Raises:
            io.UnsupportedOperation: the file was opened for writing.
        """
        if not isinstance(self._handle, ObjectReader):
            raise io.UnsupportedOperation("this remote file was opened for writing")
        return self._handle.read(size)

    def write(self, data: bytes) -> None:
        """Write ``data`` to the remote file; it becomes visible when the file is closed.

        Raises:
            io.UnsupportedOperation: the file was opened for reading.
        """
        if not isinstance(self._handle, ObjectWriter):
            raise io.UnsupportedOperation("this remote file was opened for reading")
        self._handle.write(data)

    def close(self) -> None:
        """Release the file; a file opened for writing is stored now. Closing twice does nothing.

        Raises:
            SatchelError: the store refused the write; nothing new is visible.
        """
        self._handle.close()

    def abort(self) -> None:
        """Discard everything written (a file opened for reading is just closed)."""
        if isinstance(self._handle, ObjectWriter):
            self._handle.abort()
        else:
            self._handle.close()

    def iter_chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the rest of the file in blocks of ``chunk_size`` bytes (``iter_chunk_size`` by default)."""
        size = chunk_size or self.iter_chunk_size
        while chunk := self.read(size):
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def __enter__(self) -> RemoteFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()
