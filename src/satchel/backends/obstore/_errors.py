"""Translation of obstore's exceptions into satchel errors: the one place it happens for every obstore backend.

obstore raises its own classes for the outcomes the ``object_store`` crate names (already exists, precondition,
not modified, permission, authentication), the built-in ``FileNotFoundError`` for a missing object, and
``GenericError`` for everything else, with the HTTP status in the message. Messages may hold request URLs, and
a presigned or SAS URL carries its signature in the query string: every message is cut to its first line and
stripped of query strings before it reaches a satchel error.
"""

from __future__ import annotations

import re
from types import TracebackType

from obstore import exceptions as obx

from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotModified,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
    TransientError,
    Unauthenticated,
)

__all__ = ["ErrorContext", "from_obstore_error", "scrub"]

_QUERY = re.compile(r"(https?://[^\s?\"'<>]*)\?[^\s\"'<>]*")
_STATUS = re.compile(r"status code: (\d{3})")
_CREDENTIAL_WORDS = re.compile(r"(?i)(secret|signature|token|password|sig=|credential)[^\s]*")
_MAX_MESSAGE = 300
# Error codes of S3-style XML bodies (and their Azure/GCS cousins) that mean "these credentials are wrong",
# as opposed to "these credentials may not do this".
_UNAUTHENTICATED_CODES = (
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "AuthenticationFailed",
    "InvalidClientTokenId",
)
_MISSING_CONTAINER_CODES = ("NoSuchBucket", "ContainerNotFound", "The specified bucket does not exist")
_TRANSIENT_HINTS = (
    "error sending request",
    "connection",
    "timed out",
    "timeout",
    "dns error",
    "broken pipe",
    "reset by peer",
    "io error",
)


def scrub(text: str) -> str:
    """Return the first line of an SDK message, without URL query strings and at most a few hundred characters."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = _QUERY.sub(r"\1?…", first)
    if len(first) > _MAX_MESSAGE:
        first = first[:_MAX_MESSAGE] + "…"
    return first


def _classify_generic(text: str) -> tuple[type[SatchelError], str]:
    match = _STATUS.search(text)
    status = int(match.group(1)) if match else None
    if any(code in text for code in _MISSING_CONTAINER_CODES):
        return ConfigError, "the bucket or container does not exist"
    if status == 416 or "NotPartial" in text:
        return RangeNotSatisfiable, "the range starts at or past the end of the object"
    if any(code in text for code in _UNAUTHENTICATED_CODES) or status == 401:
        return Unauthenticated, "the service rejected the credentials"
    if status == 403:
        return PermissionDenied, "the service denied access"
    if status == 404:
        return NotFound, "no such object"
    if status == 412:
        return PreconditionFailed, "a precondition did not hold"
    if status == 429 or (status is not None and status >= 500):
        return TransientError, f"the service is unavailable or throttling (HTTP {status})"
    lowered = text.lower()
    if status is None and any(hint in lowered for hint in _TRANSIENT_HINTS):
        return TransientError, "the service could not be reached"
    return SatchelError, "the storage service failed"


def from_obstore_error(
    exc: BaseException, *, key: str | None, operation: str, backend: str, location: str
) -> SatchelError | None:
    """Return the satchel error that best describes ``exc``, or None for exceptions that are not obstore's.

    The caller raises the result ``from exc``, so the original stays available as ``__cause__``.
    """
    text = str(exc)
    cls: type[SatchelError]
    if isinstance(exc, obx.AlreadyExistsError):
        cls, message = AlreadyExists, "the object already exists"
    elif isinstance(exc, obx.PreconditionError):
        cls, message = PreconditionFailed, "a precondition did not hold (the etag or date differs)"
    elif isinstance(exc, obx.NotModifiedError):
        cls, message = NotModified, "the object was not modified"
    elif isinstance(exc, obx.UnauthenticatedError):
        cls, message = Unauthenticated, "the service rejected the credentials"
    elif isinstance(exc, obx.PermissionDeniedError):
        cls, message = PermissionDenied, "the service denied access"
    elif isinstance(exc, obx.NotSupportedError):
        cls, message = NotSupported, "the service does not support this"
    elif isinstance(exc, obx.InvalidPathError):
        cls, message = InvalidPath, "the key is not a valid object path"
    elif isinstance(exc, obx.UnknownConfigurationKeyError):
        cls, message = ConfigError, "unknown configuration key"
    elif isinstance(exc, FileNotFoundError | obx.NotFoundError):
        if any(code in text for code in _MISSING_CONTAINER_CODES):
            cls, message = ConfigError, "the bucket or container does not exist"
        else:
            cls, message = NotFound, "no such object"
    elif isinstance(exc, obx.BaseError):
        cls, message = _classify_generic(text)
    elif isinstance(exc, TimeoutError | ConnectionError):
        cls, message = TransientError, "the service could not be reached"
    else:
        return None
    detail = scrub(text)
    if cls is ConfigError or cls is TransientError or cls is SatchelError:
        message = f"{message} at {location}"
    if cls in (SatchelError, TransientError) and detail:
        message = f"{message}: {_CREDENTIAL_WORDS.sub('…', detail)}"
    return cls(message, key=key, operation=operation, backend=backend)


class ErrorContext:
    """Turn an obstore exception escaping the block into the most specific satchel error, keeping the cause.

    Satchel errors and unrelated exceptions pass through unchanged. A class rather than a generator-based
    context manager: it wraps every call, and this is several times cheaper.
    """

    __slots__ = ("backend", "key", "location", "operation")

    def __init__(self, backend: str, location: str, key: str | None, operation: str) -> None:
        self.backend = backend
        self.location = location
        self.key = key
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, SatchelError):
            return
        error = from_obstore_error(
            exc, key=self.key, operation=self.operation, backend=self.backend, location=self.location
        )
        if error is not None:
            raise error from exc
