"""The satchel error tree.

Every error satchel raises is a :class:`SatchelError`. Most subclasses also inherit the built-in exception a
Python user already catches (``NotFound`` is a ``FileNotFoundError``, ``InvalidPath`` a ``ValueError``), so
code written against plain files keeps working.

Each error carries the ``key``, the ``operation`` and the ``backend`` it concerns, and ``retryable`` tells the
retry layer whether trying again may succeed. Messages never contain credentials: backends build them from
keys and operation names only.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "InvalidPath",
    "NotFound",
    "NotModified",
    "NotSupported",
    "PermissionDenied",
    "PreconditionFailed",
    "RangeNotSatisfiable",
    "SatchelError",
    "StorageFull",
    "TransientError",
    "Unauthenticated",
]


class SatchelError(Exception):
    """Base class of every error satchel raises.

    Attributes:
        key: the object key concerned, when there is one.
        operation: the operation that failed (``"put"``, ``"get"``, ...), when known.
        backend: a short name of the backend (``"local"``, ``"memory"``, ``"s3"``, ...), when known.
        retryable: True when the same call may succeed if tried again.
    """

    retryable_default = False

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        operation: str | None = None,
        backend: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.operation = operation
        self.backend = backend
        self.retryable = self.retryable_default if retryable is None else retryable

    def __str__(self) -> str:
        where = []
        if self.backend:
            where.append(self.backend)
        if self.operation:
            where.append(self.operation)
        if self.key is not None:
            where.append(repr(self.key))
        return f"{self.message} ({' '.join(where)})" if where else self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (multiprocessing, the crash tests); keep the keywords on the way.
        return (
            _rebuild,
            (type(self), self.message, self.key, self.operation, self.backend, self.retryable),
        )


def _rebuild(
    cls: type[SatchelError],
    message: str,
    key: str | None,
    operation: str | None,
    backend: str | None,
    retryable: bool,
) -> SatchelError:
    return cls(message, key=key, operation=operation, backend=backend, retryable=retryable)


class NotFound(SatchelError, FileNotFoundError):
    """The object does not exist (or has expired)."""


class AlreadyExists(SatchelError, FileExistsError):
    """A create-only write found the object already present."""


class PreconditionFailed(SatchelError):
    """An ``if_match`` / ``if_unmodified_since`` condition did not hold."""


class NotModified(SatchelError):
    """An ``if_none_match`` / ``if_modified_since`` condition says the caller's copy is current."""


class RangeNotSatisfiable(SatchelError, ValueError):
    """The requested byte range starts at or past the end of the object."""


class InvalidPath(SatchelError, ValueError):
    """A key is malformed, or cannot be stored by this backend."""


class PermissionDenied(SatchelError, PermissionError):
    """The caller may not perform this operation (including writes to a read-only store)."""


class Unauthenticated(SatchelError, PermissionError):
    """Credentials are missing, wrong or expired."""


class NotSupported(SatchelError, NotImplementedError):
    """The backend lacks a capability the call needs; raised before any I/O."""


class ConfigError(SatchelError, ValueError):
    """A URL, option or configuration value is invalid."""


class StorageFull(SatchelError, OSError):
    """The backend has no space left (ENOSPC, quota exceeded); the previous data is intact."""


class TransientError(SatchelError):
    """A failure that may go away on retry: timeouts, throttling, connection resets."""

    retryable_default = True
