"""Moving whole files between the local disk and a backend, with progress callbacks."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from typing import BinaryIO

from satchel.backend import Backend
from satchel.body import Body, FileBody
from satchel.path import Key
from satchel.types import GetOptions, ObjectMeta, PutOptions, PutResult

__all__ = ["Progress", "ProgressReader", "download_file", "upload_file"]

Progress = Callable[[int, int | None], object]
"""Called as ``progress(bytes_done, total)``; ``total`` is None when the size is not known in advance."""


class ProgressReader:
    """Wraps a binary stream and reports the bytes read so far to a progress callback."""

    def __init__(self, stream: BinaryIO, total: int | None, progress: Progress) -> None:
        self._stream = stream
        self._total = total
        self._progress = progress
        self.done = 0

    def read(self, size: int = -1, /) -> bytes:
        """Read from the wrapped stream and report progress."""
        data = self._stream.read(size)
        if data:
            self.done += len(data)
            self._progress(self.done, self._total)
        return data

    def seekable(self) -> bool:
        """Report whether the wrapped stream can seek (so a retry can replay it)."""
        return self._stream.seekable()

    def tell(self) -> int:
        """Return the wrapped stream's position."""
        return self._stream.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Seek the wrapped stream; progress restarts from the new position (a retry replays bytes)."""
        position = self._stream.seek(offset, whence)
        self.done = position
        return position


def upload_file(
    backend: Backend, path: str | os.PathLike[str], key: Key, options: PutOptions, progress: Progress | None
) -> PutResult:
    """Stream the local file at ``path`` into ``key``; see :meth:`satchel.Store.upload_file`.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IsADirectoryError: ``path`` is a directory.
    """
    with open(path, "rb") as source:
        if progress is None:
            return backend.put(key, source, options)
        total = os.fstat(source.fileno()).st_size
        progress(0, total)
        return backend.put(key, ProgressReader(source, total, progress), options)


def download_file(backend: Backend, key: Key, path: str | os.PathLike[str], progress: Progress | None) -> ObjectMeta:
    """Write ``key`` to the local file ``path`` through a temporary file renamed into place.

    The file's modification time is set to the object's ``last_modified``, as ``aws s3 cp`` does, so a later
    sync by size and time sees it as current. On any error the temporary file is removed and ``path`` is left
    as it was.

    Raises:
        NotFound: no such object.
    """
    target = os.path.abspath(os.fspath(path))
    result = backend.get(key, GetOptions())
    temp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(6)}.part")
    with result.body as body:
        # O_EXCL with a random name instead of mkstemp, so the file gets the usual umask-based permissions.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            try:
                _copy_body(body, fd, progress)
            finally:
                os.close(fd)
            modified = result.meta.last_modified.timestamp()
            os.utime(temp, (modified, modified))
            os.replace(temp, target)
        except BaseException:
            _remove_quietly(temp)
            raise
    return result.meta


def _copy_body(body: Body, fd: int, progress: Progress | None) -> None:
    total = body.size
    if progress is not None:
        progress(0, total)
    if isinstance(body, FileBody) and progress is None and _copy_file_range(body, fd):
        return
    done = 0
    for chunk in body:
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _copy_file_range(body: FileBody, fd: int) -> bool:
    # Kernel-side copy between two files: no bytes pass through Python. Falls back when the filesystems
    # or the kernel refuse (EXDEV on old kernels, EINVAL on some filesystems).
    left = body.size or 0
    offset = body.position
    try:
        while left > 0:
            copied = os.copy_file_range(body.fileno(), fd, min(left, 1 << 30), offset)
            if copied == 0:
                break
            offset += copied
            left -= copied
    except OSError:
        if offset != body.position:
            raise
        return False
    return True


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
