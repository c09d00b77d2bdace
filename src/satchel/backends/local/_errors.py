"""Translation of OS errors into satchel errors, done in one place for the whole backend."""

from __future__ import annotations

import errno
from types import TracebackType

from satchel.errors import (
    AlreadyExists,
    InvalidPath,
    NotFound,
    PermissionDenied,
    SatchelError,
    StorageFull,
    TransientError,
)

__all__ = ["BACKEND_NAME", "from_os_error", "local_error", "translate_os_errors"]

BACKEND_NAME = "local"

_BY_ERRNO: dict[int, tuple[type[SatchelError], str]] = {
    errno.ENOSPC: (StorageFull, "no space left on the device"),
    errno.EDQUOT: (StorageFull, "disk quota exceeded"),
    errno.EACCES: (PermissionDenied, "the filesystem denied access"),
    errno.EPERM: (PermissionDenied, "the filesystem does not permit this"),
    errno.EROFS: (PermissionDenied, "the filesystem is read-only"),
    errno.ELOOP: (PermissionDenied, "a symlink is in the way, and symlinks are never followed"),
    errno.ENOENT: (NotFound, "no such object"),
    errno.EEXIST: (AlreadyExists, "the object already exists"),
    errno.ENAMETOOLONG: (InvalidPath, "a segment of the key is too long for this filesystem"),
    errno.ENOTDIR: (InvalidPath, "a part of the key is a file, not a directory"),
    errno.EISDIR: (InvalidPath, "the key is a directory on this filesystem"),
    errno.EAGAIN: (TransientError, "the resource is temporarily unavailable"),
    errno.ETIMEDOUT: (TransientError, "the filesystem timed out"),
    errno.ESTALE: (TransientError, "stale file handle"),
    errno.EMFILE: (TransientError, "too many open files in this process"),
    errno.ENFILE: (TransientError, "too many open files in the system"),
}


def local_error(cls: type[SatchelError], message: str, *, key: str | None, operation: str) -> SatchelError:
    """Return a ``cls`` error of this backend about ``key`` and ``operation``."""
    return cls(message, key=key, operation=operation, backend=BACKEND_NAME)


def from_os_error(exc: OSError, key: str | None, operation: str) -> SatchelError:
    """Return the satchel error that best describes the OS error ``exc`` (the caller chains ``exc``)."""
    code = exc.errno if exc.errno is not None else 0
    cls, text = _BY_ERRNO.get(code, (SatchelError, f"filesystem error: {exc.strerror or exc}"))
    error = local_error(cls, f"{text} [{errno.errorcode.get(code, code)}]", key=key, operation=operation)
    if isinstance(error, OSError):
        # Code that already inspects errno on the built-in exception keeps working.
        error.errno = exc.errno
        error.strerror = exc.strerror
    return error


class translate_os_errors:
    """Turn an ``OSError`` escaping the block into the most specific satchel error, keeping it as the cause.

    Satchel errors pass through unchanged (``StorageFull`` and ``NotFound`` are ``OSError``s themselves). A
    class rather than a generator-based context manager: it wraps every call, and this is several times cheaper.
    """

    __slots__ = ("key", "operation")

    def __init__(self, key: str | None, operation: str) -> None:
        self.key = key
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if isinstance(exc, OSError) and not isinstance(exc, SatchelError):
            raise from_os_error(exc, self.key, self.operation) from exc
