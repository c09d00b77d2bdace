"""The ASGI floor of ``bench/server.py``: the least an app under uvicorn can do to answer its workloads.

It keeps objects in a dict, reads each PUT body whole and answers it with a short JSON body, and answers GET
with the object and four headers, as an object store must at the least. No storage, no validation, no metrics.
Whatever uvicorn and the client cost per request, this app pays too; satchel cannot be faster than it, so its
ratio to nginx shows how much of a target any ASGI app under uvicorn can reach on the machine.
"""

from __future__ import annotations

from typing import Any

_objects: dict[str, bytes] = {}
_LAST_MODIFIED = b"Sun, 22 Nov 2026 00:00:00 GMT"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer ``/health``, PUT and GET of any path; lifespan events are acknowledged."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if method == "PUT":
        _objects[path] = await read_body(receive)
        await answer(send, 200, b"application/json", b'{"key":"%s"}' % path.rpartition("/")[2].encode())
        return
    data = b"OK" if path == "/health" else _objects.get(path)
    if data is None:
        await answer(send, 404, b"application/json", b'{"detail":"no such object"}')
        return
    etag = b'"%x"' % (hash(data) & 0xFFFFFFFF)
    await answer(send, 200, b"application/octet-stream", data, [(b"etag", etag), (b"last-modified", _LAST_MODIFIED)])


async def read_body(receive: Any) -> bytes:
    """Receive a whole request body."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def lifespan(receive: Any, send: Any) -> None:
    """Acknowledge the lifespan events until shutdown."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


async def answer(send: Any, status: int, content_type: bytes, body: bytes, extra: list[Any] | None = None) -> None:
    """Send a whole answer: ``content-type``, ``content-length``, the ``extra`` headers and ``body``."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
