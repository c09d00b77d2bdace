"""Request and response bodies, streamed between the event loop and the worker threads that run the Store.

The Store is synchronous, so every object write runs in a worker thread. :class:`RequestReader` is the
request body seen from that thread as a plain ``read(n)`` stream: it hops back to the event loop for the next
chunks, up to 1 MiB per hop, so that a large upload costs a few hundred hops, not one per network chunk, and
the loop gathers the next MiB while the thread writes the last. Nothing holds more than two hops' worth of the
body.

:func:`stream_body` does the reverse for responses: it reads the Store's body in a worker thread, one large
chunk at a time, and closes it however the response ends (a client that disconnects included).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections import deque
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.types import Scope

from satchel.body import Body, Remainder
from satchel.server.errors import ApiError

__all__ = [
    "READ_SIZE",
    "ClientGone",
    "RequestReader",
    "drain",
    "read_small_body",
    "receive_chunk",
    "received_bytes",
    "stream_body",
]

READ_SIZE = 1 << 20
"""How many bytes a worker thread asks for (and a response sends) at a time."""

# The chunks one hop gathered, and whether the body ended with them.
_Gathered = tuple[list[bytes], bool]


class ClientGone(Exception):
    """The client disconnected before its request body ended; the write it started is abandoned."""


# Kept in the ASGI scope: the body bytes received so far (for metrics), and whether the body has ended.
_RECEIVED = "satchel.received"
_ENDED = "satchel.body_ended"


async def receive_chunk(request: Request) -> tuple[bytes, bool]:
    """Receive the next piece of ``request``'s body: its bytes, and whether more follow.

    Every reader of a body goes through here rather than through Starlette's ``Request.stream``, an async
    generator that costs more than a small body's whole read; the count of bytes received is kept for the
    metrics (:func:`received_bytes`). After the end it returns ``(b"", False)`` without waiting.

    Raises:
        ClientGone: the client disconnected before the body's end.
    """
    scope = request.scope
    if _ENDED in scope:
        return b"", False
    message = await request.receive()
    if message["type"] != "http.request":
        scope[_ENDED] = True
        raise ClientGone("the client disconnected during the upload")
    body: bytes = message.get("body", b"")
    more: bool = message.get("more_body", False)
    scope[_RECEIVED] = scope.get(_RECEIVED, 0) + len(body)
    if not more:
        scope[_ENDED] = True
    return body, more


def received_bytes(scope: Scope) -> int:
    """Return how many body bytes the readers of this module received for the request of ``scope``."""
    received: int = scope.get(_RECEIVED, 0)
    return received


async def drain(request: Request) -> None:
    """Receive and drop what is left of ``request``'s body; a client gone away ends it quietly."""
    more = True
    with contextlib.suppress(ClientGone):
        while more:
            _, more = await receive_chunk(request)


class RequestReader:
    """The body of ``request`` as a synchronous stream, to be read from a worker thread only.

    Each hop to the event loop gathers up to :data:`READ_SIZE` bytes of chunks, and the next hop starts as soon
    as one returns, so the loop receives while the thread writes. A read returns at most one chunk as it
    arrived, uncopied. Use it as an ``async with`` block on the loop: leaving the block stops a read-ahead that
    nobody will consume (the writer failed before the body's end).

    Args:
        request: the Starlette request whose body is read.
        limit: the most bytes accepted; reading past it raises ``ApiError(413)`` while the body streams.
        expected: the Content-Length the client announced, when it did; a body that ends short raises
            :class:`ClientGone`.
    """

    def __init__(self, request: Request, limit: int | None, expected: int | None = None) -> None:
        self._request = request
        self._limit = limit
        self._expected = expected
        self._loop = asyncio.get_running_loop()
        # Owned by the worker thread: what arrived and is not read yet, and whether the body has ended.
        self._pending = Remainder()
        self._queue: deque[bytes] = deque()
        self._done = False
        self._ahead: concurrent.futures.Future[_Gathered] | None = None
        # Touched on the loop only: the task of the latest hop, which leaving the block stops.
        self._task: asyncio.Task[_Gathered] | None = None
        self.received = 0

    async def __aenter__(self) -> RequestReader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # The thread started its last hop before it returned, and the loop runs callbacks in the order they
        # came: that hop's task exists by now. Waiting for it raises nothing but this task's own cancellation.
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _gather(self, size: int) -> _Gathered:
        """Receive chunks until ``size`` bytes or the body's end; return them and whether the body ended."""
        parts: list[bytes] = []
        have = 0
        while have < size:
            chunk, more = await receive_chunk(self._request)
            if chunk:
                parts.append(chunk)
                have += len(chunk)
            if not more:
                return parts, True
        return parts, False

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (all that is left for a negative size); ``b""`` at the end.

        Raises:
            ApiError: 413, the body is longer than the limit.
            ClientGone: the client went away.
        """
        if size < 0:
            parts = [self._pending.take(-1), *self._queue]
            self._queue.clear()
            while not self._done:
                parts.extend(self._hop())
            return b"".join(parts)
        while not self._pending:
            if self._queue:
                self._pending = Remainder(self._queue.popleft())
            elif self._done:
                return b""
            else:
                self._queue.extend(self._hop())
        return self._pending.take(size)

    def _hop(self) -> list[bytes]:
        ahead, self._ahead = self._ahead, None
        parts, self._done = (ahead or self._start_hop()).result()
        self._count(sum(map(len, parts)))
        if not self._done:
            self._ahead = self._start_hop()
        return parts

    def _start_hop(self) -> concurrent.futures.Future[_Gathered]:
        """Have the loop gather the next chunks in a task of its own; the future tells this thread the outcome."""
        outcome: concurrent.futures.Future[_Gathered] = concurrent.futures.Future()

        def settle(task: asyncio.Task[_Gathered]) -> None:
            if task.cancelled():
                outcome.cancel()
            elif (error := task.exception()) is not None:
                outcome.set_exception(error)
            else:
                outcome.set_result(task.result())

        def start() -> None:
            self._task = self._loop.create_task(self._gather(READ_SIZE))
            self._task.add_done_callback(settle)

        self._loop.call_soon_threadsafe(start)
        return outcome

    def _count(self, n: int) -> None:
        self.received += n
        if self._limit is not None and self.received > self._limit:
            raise ApiError(413, f"the object is larger than this usecase allows ({self._limit} bytes)")
        if self._done and self._expected is not None and self.received < self._expected:
            raise ClientGone("the request body ended before its Content-Length")


async def read_small_body(request: Request, limit: int | None) -> bytes:
    """Read a whole request body that is known to be small (a JSON document, a small object).

    Raises:
        ApiError: 413, the body is longer than ``limit``.
        ClientGone: the client went away.
    """
    body, more = await receive_chunk(request)
    if not more:
        if limit is not None and len(body) > limit:
            raise ApiError(413, f"the request body is larger than allowed ({limit} bytes)")
        return body
    parts = [body]
    size = len(body)
    while more:
        chunk, more = await receive_chunk(request)
        size += len(chunk)
        if limit is not None and size > limit:
            raise ApiError(413, f"the request body is larger than allowed ({limit} bytes)")
        parts.append(chunk)
    return b"".join(parts)


async def stream_body(body: Body, *, inline: bool = False) -> AsyncIterator[bytes]:
    """Yield ``body`` in large chunks and close it at the end, however the response ends.

    Chunks are read in a worker thread, or on the event loop when ``inline`` (a local folder or memory, where
    reading a chunk from the page cache costs less than the hop to a thread).
    """
    try:
        while True:
            chunk = body.read(READ_SIZE) if inline else await anyio.to_thread.run_sync(body.read, READ_SIZE)
            if not chunk:
                return
            yield chunk
    finally:
        if inline:
            body.close()
        else:
            await anyio.to_thread.run_sync(body.close)
