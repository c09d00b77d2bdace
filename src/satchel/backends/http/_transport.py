"""The HTTP side of the backend: one urllib3 connection pool to the server, requests, and streaming bodies.

Bodies stream both ways. A payload in memory is sent with its ``Content-Length``; a stream is read
:data:`~satchel.body.CHUNK_SIZE` bytes at a time and sent with ``Transfer-Encoding: chunked``. An answer's body
is read from the socket as the caller reads it (``preload_content=False``) and never decoded by urllib3: a zstd
``content-encoding`` is the compression layer's business. A body read to its end gives its connection back to
the pool; a body closed early closes its connection, as the rest of it would have to be read first.

urllib3 retries nothing here (``retries=False``): the retry layer above decides what is safe to repeat.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, cast

import urllib3
from urllib3.response import BaseHTTPResponse

from satchel.backend import BYTES_LIKE
from satchel.backends.http._auth import TokenSource
from satchel.backends.http._errors import ErrorContext, PayloadFailed
from satchel.body import CHUNK_SIZE, Body, ReadableStream

__all__ = ["EmptyBody", "ResponseBody", "Transport", "stream_chunks"]

_ERROR_BODY_LIMIT = 64 << 10
# An unread rest this small is read to keep the connection; a larger one costs more than a new connection.
_DRAIN_LIMIT = 64 << 10
_AUTH_HEADER = "x-os-auth"
_USER_AGENT = "satchel"


def stream_chunks(stream: ReadableStream) -> Iterator[bytes]:
    """Yield a stream's bytes in chunks until it ends; the stream's own errors travel as :class:`PayloadFailed`."""
    while True:
        try:
            chunk = stream.read(CHUNK_SIZE)
        except Exception as exc:
            raise PayloadFailed(exc) from exc
        if not chunk:
            return
        yield bytes(chunk) if not isinstance(chunk, bytes) else chunk


class Transport:
    """Requests to one satchel server over a pool of keep-alive connections; safe to share between threads.

    Args:
        endpoint: ``http://host:port`` or ``https://host:port``.
        tokens: where each request's JWT comes from, or None to send none.
        timeout: seconds a read may wait; connect_timeout: seconds a connection may take to open.
        pool_size: connections kept for reuse.
        ca_certs: a PEM bundle of trusted certificate authorities for https.
    """

    def __init__(
        self,
        endpoint: str,
        tokens: TokenSource | None,
        *,
        timeout: float,
        connect_timeout: float,
        pool_size: int,
        ca_certs: str | None,
    ) -> None:
        options: dict[str, Any] = {
            "maxsize": pool_size,
            "block": False,
            "retries": False,
            "timeout": urllib3.Timeout(connect=connect_timeout, read=timeout),
            "blocksize": CHUNK_SIZE,
        }
        if endpoint.startswith("https:") and ca_certs is not None:
            options["ca_certs"] = ca_certs
        self._pool = urllib3.connection_from_url(endpoint, **options)
        self._tokens = tokens

    def request(
        self,
        method: str,
        path: str,
        errors: ErrorContext,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | bytearray | memoryview | Iterator[bytes] | None = None,
        stream: bool = False,
        ok: tuple[int, ...] = (200,),
    ) -> BaseHTTPResponse:
        """Send a request and return its answer; a streamed answer's body is left to read.

        Raises:
            SatchelError: the answer's status is not in ``ok`` (translated by ``errors``), or the server could
                not be reached (TransientError).
            Exception: what the payload stream itself raised.
        """
        sent = {"user-agent": _USER_AGENT, **(headers or {})}
        if self._tokens is not None:
            sent[_AUTH_HEADER] = "Bearer " + self._tokens.token()
        chunked = body is not None and not isinstance(body, BYTES_LIKE)
        with errors:
            response = self._pool.urlopen(
                method,
                path,
                body=cast(Any, body),  # urllib3 sends any buffer, though its hints name only bytes
                headers=sent,
                chunked=chunked,
                preload_content=not stream,
                decode_content=False,
                redirect=False,
                assert_same_host=False,
            )
        if response.status in ok:
            return response
        try:
            with errors:
                detail = response.read(_ERROR_BODY_LIMIT) if stream else response.data
        finally:
            release(response)
        raise errors.from_answer(response.status, detail)

    def json(
        self,
        method: str,
        path: str,
        errors: ErrorContext,
        payload: object = None,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | memoryview | None = None,
    ) -> Any:
        """Send a request with ``payload`` as its JSON body (or ``body`` as it is) and return the answer's JSON.

        Raises:
            SatchelError: as :meth:`request`, or the answer is not JSON.
        """
        sent = dict(headers or {})
        if payload is not None:
            body = json.dumps(payload, separators=(",", ":")).encode()
            sent["content-type"] = "application/json"
        response = self.request(method, path, errors, headers=sent, body=body)
        try:
            return json.loads(response.data)
        except ValueError:
            raise errors.from_answer(502, b'{"detail": "the answer is not JSON"}') from None

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()


def release(response: BaseHTTPResponse) -> None:
    """Give the answer's connection back to the pool, closing it first if part of the body is still unread."""
    remaining = cast("int | None", getattr(response, "length_remaining", None))
    if remaining is not None and remaining <= _DRAIN_LIMIT:
        try:
            response.drain_conn()
        except Exception:  # noqa: BLE001 - a broken connection is simply not reused
            response.close()
    elif not response.closed:
        response.close()
    response.release_conn()


class ResponseBody(Body):
    """A body reading an answer from its socket as it is read; closing it releases the connection."""

    def __init__(self, response: BaseHTTPResponse, size: int | None, errors: ErrorContext) -> None:
        self._response = response
        self._errors = errors
        self.size = size

    def _read(self, n: int) -> bytes:
        with self._errors:
            return self._response.read(n)

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("read from a closed body")
        with self._errors:
            return self._response.read()

    def _close(self) -> None:
        release(self._response)


class EmptyBody(Body):
    """The body of a head: nothing to read."""

    size = 0

    def _read(self, n: int) -> bytes:
        return b""
