"""The Starlette app of ``satchel serve``: routes, the request dispatcher, overload control and the sweeper.

Every object request arrives at ``/v1/...`` and is parsed once into an address (spec a.10 tells the three
protocol generations apart); the resource and the method pick the handler. ``/health``, ``/ready`` and
``/metrics`` are plain routes.

Requests in flight are capped (``max_requests``); past the cap the server answers 503 with ``Retry-After``
at once instead of queueing without bound.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from satchel.backend import innermost
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.errors import SatchelError
from satchel.server.auth import Authenticator, AuthKey, LinkSigner
from satchel.server.bodies import ClientGone, received_bytes
from satchel.server.config import ServerConfig
from satchel.server.dispatch import ObjectRoutes, answered, api_error_answer, client_gone_answer, storage_error_answer
from satchel.server.errors import ApiError
from satchel.server.observability import CONTENT_TYPE_LATEST, Observability
from satchel.server.state import ServerState, error_response
from satchel.server.uploads import Uploads
from satchel.store import Store

__all__ = ["create_app"]

_log = logging.getLogger("satchel.server")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: ServerConfig,
    store: Store,
    *,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """Build the ASGI app serving ``store`` with ``config``.

    Raises:
        ConfigError: an auth key or the signing key cannot be loaded.
    """
    signer = (
        LinkSigner.from_pem_file("satchel-server", config.signing_key)
        if config.signing_key
        else LinkSigner.generate("satchel-server")
    )
    keys = [AuthKey.from_pem_files(k.kid, k.key_files, k.max_permissions) for k in config.keys]
    observability = Observability(access_log=config.access_log)
    spool_dir = _spool_dir()
    now = clock or _utcnow
    authenticator = Authenticator(keys, enforce=config.enforce_auth, clock=now, signer=signer)
    state = ServerState(store, config, authenticator, signer, observability, spool_dir, clock=now)
    bottom = innermost(store.backend)
    state.inline_reads = isinstance(bottom, MemoryBackend | LocalBackend)
    state.inline_writes = isinstance(bottom, MemoryBackend) or (
        isinstance(bottom, LocalBackend) and not bottom.config.fsync
    )
    state.created_from_mtime = isinstance(bottom, LocalBackend)
    uploads = Uploads(spool_dir)

    async def health(request: Request) -> Response:
        return PlainTextResponse("OK")

    async def ready(request: Request) -> Response:
        if state.draining:
            return PlainTextResponse("Shutting down", 503)
        return PlainTextResponse("OK")

    async def metrics(request: Request) -> Response:
        return Response(observability.exposition(), headers={"content-type": CONTENT_TYPE_LATEST})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            if config.sweep_interval > 0:
                group.start_soon(_sweep_forever, state, uploads, config.sweep_interval)
            try:
                yield
            finally:
                state.draining = True
                group.cancel_scope.cancel()
        await anyio.to_thread.run_sync(uploads.close)
        shutil.rmtree(spool_dir, ignore_errors=True)

    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET", "HEAD"]),
            Route("/ready", ready, methods=["GET", "HEAD"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
        exception_handlers={
            ApiError: api_error_answer,
            ClientGone: client_gone_answer,
            SatchelError: storage_error_answer,
        },
    )
    app.state.satchel = state

    return _Guard(app, ObjectRoutes(state, uploads), observability, config.max_requests)  # type: ignore[return-value]


_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"})
_SPOOL_PREFIX = "satchel-serve-spool-"


def _spool_dir() -> str:
    """Make this process's folder for resumable-upload spool files, removing those of dead servers.

    The folder is named after the PID, so a server killed before it could clean up leaves a folder the next
    server recognises as orphaned (its PID is gone) and removes.
    """
    base = tempfile.gettempdir()
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        for entry in entries:
            pid_text = entry.name[len(_SPOOL_PREFIX) :].partition("-")[0]
            if entry.name.startswith(_SPOOL_PREFIX) and pid_text.isdigit() and not _alive(int(pid_text)):
                shutil.rmtree(entry.path, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{_SPOOL_PREFIX}{os.getpid()}-", dir=base)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


SWEEP_SHARE = 0.05
"""The most of the server's time the expiry sweeper may take: a sweep lists the whole store, holding the GIL
for most of it, and expired objects are absent to clients whether or not it has run."""


def sweep_delay(interval: float, last_sweep: float) -> float:
    """Return how long to wait before the next sweep: ``interval``, or longer when the last one took more than
    :data:`SWEEP_SHARE` of that."""
    return max(interval, last_sweep / SWEEP_SHARE - last_sweep)


async def _sweep_forever(state: ServerState, uploads: Uploads, interval: float) -> None:
    took = 0.0
    while True:
        await anyio.sleep(sweep_delay(interval, took))
        started = time.monotonic()
        try:
            deleted = await anyio.to_thread.run_sync(state.store.sweep)
        except SatchelError as err:
            _log.warning("expiry sweep failed: %s", err)
        else:
            if deleted:
                state.observability.expired.inc(deleted)
                _log.info("expiry sweep deleted %d objects", deleted)
        took = time.monotonic() - started
        await anyio.to_thread.run_sync(uploads.discard_idle)


class _Guard:
    """The outermost ASGI wrapper: the in-flight cap, error answers, metrics and access logs."""

    def __init__(self, app: Starlette, objects: ObjectRoutes, observability: Observability, limit: int) -> None:
        self.app = app
        self.objects = objects
        self.observability = observability
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observability = self.observability
        if observability.in_flight >= self.limit:
            observability.refused.inc()
            await _answer(
                scope, receive, send, ApiError(503, "too many requests in flight", headers={"retry-after": "1"})
            )
            return
        observability.in_flight += 1
        started = time.perf_counter()
        if scope["path"].startswith("/v1/") and scope["method"] in _METHODS:
            # The object routes count what they answer themselves: wrapping receive and send in counting
            # coroutines cost several percent of a small request's CPU.
            try:
                await self.objects(scope, receive, send)
            finally:
                status, sent = answered(scope)
                self._record(scope, started, status, received_bytes(scope), sent)
            return
        status = 500
        sent = received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            self._record(scope, started, status, received, sent)

    def _record(self, scope: Scope, started: float, status: int, received: int, sent: int) -> None:
        observability = self.observability
        observability.in_flight -= 1
        observability.record(
            _route_template(scope),
            scope["method"],
            scope["path"],
            status,
            received,
            sent,
            time.perf_counter() - started,
        )


async def _answer(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    await error_response(error)(scope, receive, send)


def _route_template(scope: Scope) -> str:
    path: str = scope.get("path", "")
    if not path.startswith("/v1/"):
        return path if path in ("/health", "/ready", "/metrics") else "other"
    first = path[4:].partition("/")[0]
    if first.startswith("objects"):
        return f"/v1/{first}/{{usecase}}/{{scopes}}/{{key}}"
    return "/v1/{legacy}"
