"""What every request handler shares: the Store, the configuration, the authenticator, the clock, the uploads
in progress; and the translation of satchel's errors into HTTP answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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
    StorageFull,
    TransientError,
    Unauthenticated,
)
from satchel.server.addressing import ObjectAddress
from satchel.server.auth import Authenticator, Grant, LinkSigner
from satchel.server.config import ServerConfig
from satchel.server.errors import ApiError
from satchel.server.observability import Observability
from satchel.store import Store

__all__ = ["RawResponse", "ServerState", "api_error", "error_response", "json_response", "key_response"]

_log = logging.getLogger("satchel.server")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServerState:
    """The server's shared state, built once by :func:`satchel.server.app.create_app`."""

    store: Store
    config: ServerConfig
    auth: Authenticator
    signer: LinkSigner
    observability: Observability
    spool_dir: str
    clock: Callable[[], datetime] = _utcnow
    draining: bool = False
    inline_reads: bool = False
    """Small reads run on the event loop: the Store is a local folder or memory, where a read of a small
    object costs less than the hop to a worker thread (a thread hop is most of a small request's CPU)."""
    inline_writes: bool = False
    """Small writes and deletes run on the event loop too: memory, or a local folder without fsync."""
    created_from_mtime: bool = False
    """Writes store no creation time: the object's ``last_modified`` stands for it. Only for a local folder,
    whose in-place metadata updates (a time-to-idle bump, ``extend_expiry``) keep the file's mtime; a copy
    pins the source's. Saves the timestamp's encoding on every write and the metadata's decoding on every read."""

    def write_created(self) -> datetime | None:
        """Return the creation time a new object stores: now, or None when its mtime stands for it."""
        return None if self.created_from_mtime else self.clock()

    def authorize(self, request: Request, address: ObjectAddress, permission: str) -> Grant | None:
        """Check that ``request`` may do ``permission`` on ``address``.

        Raises:
            ApiError: 400 (no token, no kid), 401 (bad or expired token or signature), 403 (not permitted).
        """
        if not self.auth.active:
            return None
        scope = request.scope
        return self.auth.authorize(
            request.method,
            scope.get("raw_path", b"").decode("latin-1") or scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            request.headers,
            address.usecase,
            address.scopes,
            permission,
        )


class RawResponse(Response):
    """A whole response whose headers are already encoded, sent as two ASGI messages.

    Starlette's ``Response`` re-encodes and re-checks every header of every answer; the object routes build
    their headers once, as bytes, and this sends them as they are. ``raw_headers`` carry ``content-length``
    whenever it is known (a HEAD answer gives the object's, with an empty body).
    """

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes = b"") -> None:
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body})


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_JSON_TYPE = (b"content-type", b"application/json")


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Return a compact JSON response with ``headers`` added."""
    return _json_answer(_JSON.encode(data).encode(), status, headers)


def key_response(key: str, status: int = 200, etag: str | None = None) -> Response:
    """Return ``{"key": key}``, the answer to a write, with the object's ``etag`` header when given."""
    # Encoding a lone string takes the JSON encoder's fast path; a dict builds a new encoder per call.
    body = b'{"key":%s}' % _JSON.encode(key).encode()
    raw = [_JSON_TYPE, (b"content-length", b"%d" % len(body))]
    if etag:
        raw.append((b"etag", etag.encode("latin-1")))
    return RawResponse(status, raw, body)


def _json_answer(body: bytes, status: int, headers: dict[str, str] | None) -> Response:
    raw = [_JSON_TYPE, (b"content-length", b"%d" % len(body))]
    if headers:
        raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    return RawResponse(status, raw, body)


def error_response(error: ApiError) -> Response:
    """Return the protocol's JSON error answer for ``error`` (no body for 304 and HEAD-like statuses)."""
    if error.status == 304:
        return Response(status_code=304, headers=error.headers)
    return json_response(error.body(), error.status, error.headers)


_STATUS: Sequence[tuple[type[SatchelError], int]] = (
    (NotFound, 404),
    (AlreadyExists, 412),
    (PreconditionFailed, 412),
    (NotModified, 304),
    (RangeNotSatisfiable, 416),
    (InvalidPath, 400),
    (ConfigError, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotSupported, 501),
    (StorageFull, 507),
    (TransientError, 503),
)


def api_error(error: SatchelError) -> ApiError:
    """Translate a satchel error into the HTTP answer the client sees.

    The message keeps the error's own words but not its key: the client knows which key it asked for, and
    the storage key (with its usecase and scope prefix) is the server's business.
    """
    for kind, status in _STATUS:
        if isinstance(error, kind):
            headers = {"retry-after": "1"} if status == 503 else None
            detail = error.args[0] if error.args else type(error).__name__
            return ApiError(status, str(detail), headers=headers, code=type(error).__name__)
    if error.retryable:
        return ApiError(503, "the storage is temporarily unavailable", headers={"retry-after": "1"})
    _log.error("storage error: %s", error)
    return ApiError(500, "the storage failed")
