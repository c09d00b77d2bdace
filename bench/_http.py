"""The benchmark's one HTTP client: ``http.client`` with a keep-alive connection per thread and per server.

Chosen over urllib3's pool because it costs this process less CPU per request (``bench/server.py`` states the
measurement); every server is driven by this same client, so its cost is the same for all of them.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping

TIMEOUT = 120.0  # seconds without progress before a request fails instead of hanging the benchmark
# A connection the server closed while idle (between turns, or at its keep-alive limit) fails on first use.
STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class RequestFailed(RuntimeError):
    """A server answered with an unexpected status; the message holds the status and the start of the body."""


class LeanClient:
    """Send PUT and GET requests to one ``host:port``, reusing one connection per calling thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _drop(self) -> None:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _send(
        self, method: str, path: str, body: bytes | memoryview | None, headers: Mapping[str, str]
    ) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                conn.request(method, path, body=body, headers=dict(headers))
                return conn.getresponse()
            except STALE:
                self._drop()
                if not reused or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def put(self, path: str, body: bytes | memoryview, headers: Mapping[str, str], ok: tuple[int, ...]) -> bytes:
        """PUT ``body`` (sent as it is, in one ``sendall``) and return the whole answer's body.

        Raises :class:`RequestFailed` if the status is not in ``ok``.
        """
        response = self._send("PUT", path, body, {"Content-Length": str(len(body)), **headers})
        answer = response.read()
        if response.status not in ok:
            raise RequestFailed(f"PUT {path}: {response.status} {response.reason}: {answer[:300]!r}")
        return answer

    def get_into(self, path: str, buffer: memoryview, headers: Mapping[str, str]) -> int:
        """GET ``path`` into ``buffer`` with ``readinto`` and return the number of bytes received.

        Raises :class:`RequestFailed` on a status other than 200 or if the body does not fit in ``buffer``.
        """
        response = self._send("GET", path, None, headers)
        if response.status != 200:
            raise RequestFailed(f"GET {path}: {response.status} {response.reason}: {response.read()[:300]!r}")
        got = 0
        while True:
            n = response.readinto(buffer[got:])
            if not n:
                break
            got += n
            if got == len(buffer) and response.read(1):
                raise RequestFailed(f"GET {path}: body larger than {len(buffer)} bytes")
        return got

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
