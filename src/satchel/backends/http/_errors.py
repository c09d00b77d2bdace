"""Translation of urllib3's exceptions and the server's error answers into satchel errors, in one place.

An answer's status picks the class (spec a.7, and the server's ``api_error``): 401 Unauthenticated, 403
PermissionDenied, 404 NotFound, 304 NotModified, 412 PreconditionFailed (AlreadyExists where the request
was a create), 416 RangeNotSatisfiable, 405/501 NotSupported, 507 StorageFull, 429/502/503/504 TransientError.
A 400 is an InvalidPath when the server names the key, Unauthenticated when the token is missing or has no
``kid`` (the protocol answers those with 400), a ConfigError otherwise; 413 and 422 are ConfigErrors too.
When the error body carries a ``code`` naming a satchel error class, that class wins.

Messages hold the server's ``detail`` (which never holds a token: the server promises so, and the backend never
puts one in a URL), cut to one line, and the store's location; urllib3's own messages are cut to their first line
with query strings removed.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
from types import TracebackType

import urllib3.exceptions

from satchel import errors
from satchel.errors import (
    ConfigError,
    InvalidPath,
    NotFound,
    NotModified,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
    StorageFull,
    TransientError,
    Unauthenticated,
)

__all__ = ["ErrorContext", "PayloadFailed", "scrub"]

_MAX_MESSAGE = 300
_QUERY = re.compile(r"\?[^\s\"'<>)]*")
_STATUS: dict[int, type[SatchelError]] = {
    304: NotModified,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: NotSupported,
    409: PreconditionFailed,
    413: ConfigError,
    416: RangeNotSatisfiable,
    422: ConfigError,
    429: TransientError,
    501: NotSupported,
    502: TransientError,
    503: TransientError,
    504: TransientError,
    507: StorageFull,
}
_CODES: dict[str, type[SatchelError]] = {
    name: cls
    for name in errors.__all__
    if isinstance(cls := getattr(errors, name), type) and issubclass(cls, SatchelError)
}


class PayloadFailed(Exception):
    """Carries an exception raised by the caller's payload stream through urllib3, which would wrap an OSError."""

    def __init__(self, original: BaseException) -> None:
        super().__init__("the payload stream failed")
        self.original = original


def scrub(text: str) -> str:
    """Return the first line of a message without query strings, at most a few hundred characters."""
    stripped = text.strip()
    first = _QUERY.sub("?…", stripped.splitlines()[0]) if stripped else ""
    return first[:_MAX_MESSAGE] + "…" if len(first) > _MAX_MESSAGE else first


def _detail(body: bytes) -> tuple[str, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return scrub(body.decode("utf-8", "replace")), None
    if not isinstance(data, dict):
        return "", None
    code = data.get("code")
    return scrub(str(data.get("detail", ""))), code if isinstance(code, str) else None


class ErrorContext:
    """Turn urllib3 and socket exceptions escaping the block into satchel errors; build errors from answers.

    ``conflict`` is the class a 412 becomes: :class:`AlreadyExists` for creates, PreconditionFailed otherwise.
    Satchel errors and unrelated exceptions pass through unchanged; a :class:`PayloadFailed` re-raises the
    caller's own exception. A class rather than a generator-based context manager: it wraps every request.
    """

    __slots__ = ("backend", "conflict", "key", "location", "operation")

    def __init__(
        self,
        backend: str,
        location: str,
        key: str | None,
        operation: str,
        conflict: type[SatchelError] = PreconditionFailed,
    ) -> None:
        self.backend = backend
        self.location = location
        self.key = key
        self.operation = operation
        self.conflict = conflict

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, SatchelError):
            return
        if isinstance(exc, PayloadFailed):
            raise exc.original
        error = self.from_exception(exc)
        if error is not None:
            raise error from exc

    def error(self, cls: type[SatchelError], message: str) -> SatchelError:
        """Return an error of class ``cls`` about this context's key, operation and backend."""
        return cls(message, key=self.key, operation=self.operation, backend=self.backend)

    def from_code(self, code: str, message: str) -> SatchelError:
        """Return the error a failure ``code`` names: a satchel error class's name, or SatchelError."""
        return self.error(_CODES.get(code, SatchelError), message)

    def from_exception(self, exc: BaseException) -> SatchelError | None:
        """Return the satchel error for a transport exception, or None for exceptions that are not one."""
        detail = scrub(str(exc))
        if isinstance(exc, urllib3.exceptions.SSLError | ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return self.error(ConfigError, f"the TLS certificate of {self.location} is not trusted: {detail}")
        if isinstance(exc, urllib3.exceptions.LocationParseError):
            return self.error(ConfigError, f"invalid server address {self.location}")
        if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
            return self.error(TransientError, f"the satchel server at {self.location} timed out: {detail}")
        if isinstance(exc, urllib3.exceptions.HTTPError | http.client.HTTPException | OSError):
            return self.error(TransientError, f"the satchel server at {self.location} could not be reached: {detail}")
        return None

    def from_answer(self, status: int, body: bytes) -> SatchelError:
        """Return the satchel error an error answer (``status`` with its JSON ``body``) stands for."""
        detail, code = _detail(body)
        cls = _CODES.get(code) if code is not None else None
        if cls is None:
            cls = self.conflict if status == 412 else _STATUS.get(status)
        if cls is None and status == 400:
            cls = _classify_bad_request(detail, self.key)
        if cls is None:
            cls = SatchelError
        message = f"the satchel server answered {status}"
        if detail:
            message += f": {detail}"
        if cls in (SatchelError, TransientError, ConfigError):
            message += f" ({self.location})"
        return self.error(cls, message)


def _classify_bad_request(detail: str, key: str | None) -> type[SatchelError]:
    lowered = detail.lower()
    if key is not None and lowered.startswith("invalid key"):
        return InvalidPath
    if "auth token" in lowered or "kid" in lowered:
        return Unauthenticated
    return ConfigError
