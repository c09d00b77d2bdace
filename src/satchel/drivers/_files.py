"""Byte plumbing of the driver: hashing uploads as they stream, chunked downloads, and saving to local files."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from typing import Any, cast

from satchel.body import Body, ReadableStream

__all__ = ["CountingChunks", "HashingReader", "iter_chunks", "save_body"]

_HASH_BLOCK = 1 << 20
_NO_HARD_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV)


def new_md5() -> Any:
    """Return a fresh MD5 hasher (MD5 because libcloud's ``hash_type`` and S3's plain etags are MD5)."""
    return hashlib.md5(usedforsecurity=False)


class HashingReader:
    """Wraps a binary stream and keeps the MD5 and length of the bytes read through it.

    Seekable when the wrapped stream is, so the retry layer can replay an upload: a seek recomputes the hash
    up to the new position (from where this reader started), so it always covers exactly the bytes sent.
    """

    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream
        self._hash = new_md5()
        self.size = 0
        self._origin = self._position_or_none()

    def _position_or_none(self) -> int | None:
        try:
            return int(self._stream.tell()) if self.seekable() else None  # type: ignore[attr-defined]
        except (OSError, ValueError):
            return None

    def read(self, size: int = -1, /) -> bytes:
        """Read from the wrapped stream and hash what was read."""
        data = self._stream.read(size)
        if data:
            self._hash.update(data)
            self.size += len(data)
        return data

    def seekable(self) -> bool:
        """Report whether the wrapped stream can seek."""
        seekable = getattr(self._stream, "seekable", None)
        return bool(seekable()) if seekable is not None else False

    def tell(self) -> int:
        """Return the wrapped stream's position."""
        return int(self._stream.tell())  # type: ignore[attr-defined]

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Seek the wrapped stream and rehash from where this reader started up to the new position."""
        stream: Any = self._stream
        position = int(stream.seek(offset, whence))
        origin = self._origin or 0
        self._hash = new_md5()
        self.size = 0
        if position > origin:
            stream.seek(origin)
            left = position - origin
            while left > 0:
                block = stream.read(min(left, _HASH_BLOCK))
                if not block:
                    break
                self._hash.update(block)
                self.size += len(block)
                left -= len(block)
        return position

    def hexdigest(self) -> str:
        """The MD5 of the bytes read so far, in lowercase hex."""
        return str(self._hash.hexdigest())


class CountingChunks:
    """Wraps an iterable of chunks, counting the bytes it yields; ``str`` chunks are encoded as UTF-8."""

    def __init__(self, chunks: Iterable[bytes | bytearray | memoryview | str]) -> None:
        self._chunks = chunks
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            self.size += len(data)
            yield cast(bytes, data)  # bytearray and memoryview chunks pass through uncopied


def iter_chunks(body: Body, chunk_size: int | None) -> Iterator[bytes]:
    """Yield ``body`` in chunks of exactly ``chunk_size`` bytes (the last may be shorter), then close it.

    With no ``chunk_size``, chunks are as the body reads them (at most 1 MiB).
    """
    with body:
        if chunk_size is None:
            yield from body
            return
        while True:
            chunk = body.read(chunk_size)
            if not chunk:
                return
            if len(chunk) < chunk_size:
                parts = [chunk]
                have = len(chunk)
                while have < chunk_size and (more := body.read(chunk_size - have)):
                    parts.append(more)
                    have += len(more)
                chunk = b"".join(parts)
            yield chunk


def save_body(body: Body, target: str, *, overwrite: bool, delete_on_failure: bool) -> bool:
    """Write ``body`` to the local file ``target`` through a temporary file in the same folder.

    Returns True when the bytes written match the body's announced size (or it announced none). On a
    short body, the partial file is deleted if ``delete_on_failure`` and otherwise moved to ``target``, and the
    result is False. On an exception the temporary file is removed and ``target`` is left as it was.

    Raises:
        FileExistsError: ``overwrite`` is False and ``target`` appeared meanwhile.
    """
    expected = body.size
    temp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(6)}.part")
    with body:
        # O_EXCL with a random name instead of mkstemp, so the file gets the usual umask-based permissions.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            try:
                written = _copy(body, fd)
            finally:
                os.close(fd)
            complete = expected is None or written == expected
            if complete or not delete_on_failure:
                _place(temp, target, overwrite=overwrite)
            else:
                _remove_quietly(temp)
        except BaseException:
            _remove_quietly(temp)
            raise
    return complete


def _copy(body: Body, fd: int) -> int:
    written = 0
    for chunk in body:
        view = memoryview(chunk)
        while view:
            done = os.write(fd, view)
            view = view[done:]
        written += len(chunk)
    return written


def _place(temp: str, target: str, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    # link() fails if the target exists, so a file created since the caller's check is never clobbered.
    try:
        os.link(temp, target)
    except OSError as err:
        if isinstance(err, FileExistsError) or err.errno not in _NO_HARD_LINKS:
            raise
        # A filesystem without hard links: check, then rename (a file created in between is replaced).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", target) from err
        os.replace(temp, target)
        return
    os.unlink(temp)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
