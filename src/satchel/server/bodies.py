"""Request and response bodies, streamed between the event loop and the worker threads that run the Store.

The Store is synchronous, so every object write runs in a worker thread. :class:`RequestReader` is the
request body seen from that thread as a plain ``read(n)`` stream: each call hops back to the event loop for
the next chunks, gathering up to ``n`` bytes per hop so that a large upload costs a few hundred hops, not one
per network chunk. Nothing holds more than one read's worth of the body.

:func:`stream_body` does the reverse for responses: it reads the Store's body in a worker thread, one large
chunk at a time, and closes it however the response ends (a client that disconnects included).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import anyio.from_thread
import anyio.to_thread
from starlette.requests import ClientDisconnect, Request

from satchel.body import Body, Remainder
from satchel.server.errors import ApiError

__all__ = ["READ_SIZE", "ClientGone", "RequestReader", "read_small_body", "stream_body"]

READ_SIZE = 1 << 20
"""How many bytes a worker thread asks for (and a response sends) at a time."""


class ClientGone(Exception):
    """The client disconnected before its request body ended; the write it started is abandoned."""


class RequestReader:
    """The body of ``request`` as a synchronous stream, to be read from a worker thread only.

    Args:
        request: the Starlette request whose body is read.
        limit: the most bytes accepted; reading past it raises ``ApiError(413)`` while the body streams.
        expected: the Content-Length the client announced, when it did; a body that ends short raises
            :class:`ClientGone`.
    """

    def __init__(self, request: Request, limit: int | None, expected: int | None = None) -> None:
        self._chunks = request.stream()
        self._limit = limit
        self._expected = expected
        self._pending = Remainder()
        self._done = False
        self.received = 0

    async def _gather(self, size: int) -> bytes:
        parts: list[bytes] = []
        have = 0
        while have < size and not self._done:
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            except ClientDisconnect:
                raise ClientGone("the client disconnected during the upload") from None
            if chunk:
                parts.append(chunk)
                have += len(chunk)
        return b"".join(parts)

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (all that is left for a negative size); ``b""`` at the end.

        Raises:
            ApiError: 413, the body is longer than the limit.
            ClientGone: the client went away.
        """
        want = size if size >= 0 else 1 << 62
        if not self._pending and not self._done:
            gathered = anyio.from_thread.run(self._gather, min(want, READ_SIZE) if size >= 0 else READ_SIZE)
            self._count(len(gathered))
            self._pending = Remainder(gathered)
        if size < 0:
            parts = [self._pending.take(-1)]
            while not self._done:
                chunk = anyio.from_thread.run(self._gather, READ_SIZE)
                self._count(len(chunk))
                parts.append(chunk)
            return b"".join(parts)
        return self._pending.take(want)

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
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise ApiError(413, f"the request body is larger than allowed ({limit} bytes)")
            parts.append(chunk)
    except ClientDisconnect:
        raise ClientGone("the client disconnected during the upload") from None
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
