"""File-like access to objects: a seekable reader over ranged gets, and a streaming writer.

:class:`ObjectWriter` buffers small writes and stores them with one put on close; once the buffer passes
``threshold`` it streams the rest through a bounded pipe into a single ``put`` running in a worker thread, so
memory stays flat and the backend decides how to upload a stream (native multipart on the cloud services).
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType

from satchel.backend import Backend
from satchel.body import Body, Remainder
from satchel.errors import RangeNotSatisfiable, SatchelError
from satchel.path import Key
from satchel.types import ByteRange, GetOptions, ObjectMeta, PutOptions, PutResult

__all__ = ["IterableReader", "ObjectReader", "ObjectWriter"]


class IterableReader:
    """Adapts an iterable of byte chunks to a ``read(n)`` stream, holding at most one chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = Remainder()

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (all that is left when negative); ``b""`` at the end."""
        if size is None or size < 0:
            return b"".join([self._pending.take(-1), *(bytes(c) for c in self._chunks)])
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            if not isinstance(chunk, bytes | bytearray | memoryview):
                raise TypeError(f"the iterable yielded {type(chunk).__name__}, not bytes")
            self._pending = Remainder(chunk)
        return self._pending.take(size)


class ObjectReader(io.RawIOBase):
    """A read-only, seekable file over one object.

    Reads stream from the backend; a seek closes the current stream and the next read opens a range at the
    new position. Every range is read with ``if_match`` set to the etag seen at open, so an object replaced
    while it is being read raises :class:`~satchel.errors.PreconditionFailed` instead of mixing versions.
    """

    def __init__(self, backend: Backend, key: Key) -> None:
        super().__init__()
        self._backend = backend
        self._key = key
        result = backend.get(key, GetOptions())
        self.meta: ObjectMeta = result.meta
        self._body: Body | None = result.body
        self._pos = 0
        # A compressed object's stored size is not the size a reader sees; seeking from the end needs it.
        self._size: int | None = self.meta.size if self.meta.attributes.compression is None else None

    @property
    def name(self) -> str:
        """The object's key."""
        return self._key

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to a new position; ``SEEK_END`` needs the size, unknown for compressed objects.

        Raises:
            io.UnsupportedOperation: ``SEEK_END`` on a compressed object.
            ValueError: a negative resulting position.
        """
        self._check_closed()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            if self._size is None:
                raise io.UnsupportedOperation("cannot seek from the end of a compressed object")
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._drop_body()
            self._pos = target
        return self._pos

    def read(self, size: int | None = -1, /) -> bytes:
        """Read up to ``size`` bytes from the current position (everything left when negative)."""
        self._check_closed()
        body = self._current_body()
        if body is None:
            return b""
        data = body.read(-1 if size is None else size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        n = len(data)
        memoryview(buffer).cast("B")[:n] = data
        return n

    def _current_body(self) -> Body | None:
        if self._body is not None:
            return self._body
        if self._size is not None and self._pos >= self._size:
            return None
        options = GetOptions(range=ByteRange.from_offset(self._pos), if_match=self.meta.etag)
        try:
            self._body = self._backend.get(self._key, options).body
        except RangeNotSatisfiable:
            return None
        return self._body

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def _check_closed(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on a closed object reader")

    def close(self) -> None:
        self._drop_body()
        super().close()


_EOF = object()
_ABORT = object()


class _WriteAborted(SatchelError):
    """Raised inside the put of an aborted writer so the backend discards what it received."""


class _PipeReader:
    """The reading end of the writer's bounded pipe, consumed by the backend's put."""

    def __init__(self, pipe: queue.Queue[object]) -> None:
        self._pipe = pipe
        self._pending = Remainder()
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(1 << 20), b""))
        while not self._pending:
            if self._done:
                return b""
            item = self._pipe.get()
            if item is _EOF:
                self._done = True
                return b""
            if item is _ABORT:
                self._done = True
                raise _WriteAborted("the writer was aborted")
            assert isinstance(item, bytes)
            self._pending = Remainder(item)
        return self._pending.take(size)


class ObjectWriter(io.RawIOBase):
    """A write-only file that becomes one object when closed.

    Leaving a ``with`` block on an exception calls :meth:`abort`: nothing written becomes visible. Errors of
    the backend surface from ``write`` or ``close``. ``result`` holds the PutResult after a successful close.
    """

    threshold = 8 << 20
    pipe_depth = 4

    def __init__(self, backend: Backend, key: Key, options: PutOptions) -> None:
        super().__init__()
        self._backend = backend
        self._key = key
        self._options = options
        self._buffer = bytearray()
        self._pipe: queue.Queue[object] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._written = 0
        self.result: PutResult | None = None

    @property
    def name(self) -> str:
        """The object's key."""
        return self._key

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Write ``data``; it becomes visible only on close. Returns the number of bytes taken."""
        if self.closed:
            raise ValueError("write to a closed object writer")
        n = len(data)
        self._written += n
        if self._pipe is None:
            self._buffer += data
            if len(self._buffer) >= self.threshold:
                self._start_streaming()
        else:
            self._send(bytes(data))
        return n

    def _start_streaming(self) -> None:
        self._pipe = queue.Queue(maxsize=self.pipe_depth)
        reader = _PipeReader(self._pipe)
        self._thread = threading.Thread(target=self._run_put, args=(reader,), name=f"satchel-put-{self._key}")
        self._thread.daemon = True
        self._thread.start()
        pending, self._buffer = bytes(self._buffer), bytearray()
        self._send(pending)

    def _run_put(self, reader: _PipeReader) -> None:
        try:
            self.result = self._backend.put(self._key, reader, self._options)
        except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, which re-raises it
            self._error = exc
            # Drain so a writer blocked on a full pipe wakes up and sees the error.
            while self._pipe is not None and not self._pipe.empty():
                self._pipe.get_nowait()

    def _send(self, item: object) -> None:
        assert self._pipe is not None
        assert self._thread is not None
        while True:
            if self._error is not None:
                raise self._error
            try:
                self._pipe.put(item, timeout=0.1)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise self._error or SatchelError("the upload stopped", key=self._key) from None

    def close(self) -> None:
        """Finish the object and make it visible.

        Raises:
            SatchelError: the backend refused the write; nothing new is visible.
        """
        if self.closed:
            return
        try:
            if self._thread is None:
                self.result = self._backend.put(self._key, bytes(self._buffer), self._options)
            else:
                self._send(_EOF)
                self._thread.join()
                if self._error is not None:
                    raise self._error
        finally:
            self._buffer = bytearray()
            super().close()

    def abort(self) -> None:
        """Discard everything written; the object keeps its previous version (or stays absent)."""
        if self.closed:
            return
        try:
            if self._thread is not None:
                if self._error is None:
                    with contextlib.suppress(SatchelError, OSError):
                        self._send(_ABORT)
                self._thread.join()
        finally:
            self._buffer = bytearray()
            super().close()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # io.RawIOBase would close() here and so publish a half-written object; a writer dropped without
        # close() is abandoned, not finished.
        if not self.closed:
            self.abort()
