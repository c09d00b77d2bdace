"""Client, Usecase and Session: the objectstore client API of ``objectstore_client.client`` (0.0.9).

Requests use the current Objectstore protocol (generation C: ``/v1/objects/{usecase}/{k=v;k=v}/{key}``,
percent-escaped header values, ``30d 1h`` durations), so any Objectstore server, satchel's included, serves
them. Bodies stream both ways: an upload is compressed while it is sent, a download decompressed while it is
read, so memory stays flat whatever the object size.
"""

from __future__ import annotations

import importlib
import io
import re
import time
from collections.abc import Callable, Mapping
from typing import IO, Any, Literal, NamedTuple, Protocol, cast
from urllib.parse import urlparse

import urllib3
import zstandard
from urllib3.connectionpool import HTTPConnectionPool

from satchel.objectstore._wire import encode_header_value, object_path, scope_text
from satchel.objectstore.metadata import (
    HEADER_EXPIRATION,
    HEADER_META_PREFIX,
    Compression,
    ExpirationPolicy,
    Metadata,
    format_expiration,
)
from satchel.objectstore.metrics import (
    MetricsBackend,
    NoOpMetricsBackend,
    StorageMetricEmitter,
    measure_storage_operation,
)

__all__ = ["Client", "GetResult", "RequestError", "Session", "Usecase"]

_COMPRESSIONS = ("zstd", "none")
# RFC 9110 token: what a custom metadata name must be, as it becomes part of a header name.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Only failures to connect are retried: by then no byte of the (possibly compressing, unrewindable) body left.
_DEFAULT_RETRIES = urllib3.Retry(connect=3, read=0)
# 0.0.9's connect timeout; no read timeout, as the current client, so slow stores behind the server do not
# turn into errors half-way through a body.
_DEFAULT_TIMEOUT = urllib3.Timeout(connect=0.5, read=None)


class RequestError(Exception):
    """Exception raised if an API call to Objectstore fails.

    ``status`` is the HTTP status, ``response`` the body the server sent with it (as text).
    """

    def __init__(self, message: str, status: int, response: str) -> None:
        """Keep the server's ``status`` and ``response`` body text."""
        super().__init__(message)
        self.status = status
        self.response = response

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.status, self.response))


class GetResult(NamedTuple):
    """What :meth:`Session.get` returns: the object's metadata and a stream of its payload."""

    metadata: Metadata
    payload: IO[bytes]


class Usecase:
    """An identifier for a workload in Objectstore, along with defaults to use for all operations within that Usecase.

    Usecases need to be statically defined in Objectstore's configuration server-side. Objectstore can make
    decisions based on the Usecase. For example, choosing the most suitable storage backend.
    """

    name: str

    def __init__(
        self, name: str, compression: Compression = "zstd", expiration_policy: ExpirationPolicy | None = None
    ) -> None:
        """Name the usecase and give its default compression and expiration policy.

        Raises:
            ValueError: ``name`` is empty or holds a ``/`` (it is one segment of every request path), or
                ``compression`` is neither ``"zstd"`` nor ``"none"``.
        """
        if not name or "/" in name:
            raise ValueError(f"invalid usecase name {name!r}: it must be non-empty and hold no '/'")
        if compression not in _COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}: expected 'zstd' or 'none'")
        self.name = name
        self.compression: Compression = compression
        self.expiration_policy = expiration_policy


class Client:
    """A client for Objectstore. Constructing it initializes a connection pool."""

    def __init__(
        self,
        base_url: str,
        metrics_backend: MetricsBackend | None = None,
        propagate_traces: bool = False,
        retries: int | None = None,
        timeout_ms: float | None = None,
        connection_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Open a connection pool to the server at ``base_url`` (its path, if any, prefixes every request).

        Args:
            base_url: ``http://host:port`` or ``https://host:port/prefix``.
            metrics_backend: receives the storage metrics; by default nothing is recorded.
            propagate_traces: send the current Sentry trace (``sentry-trace``, ``baggage``) with each request,
                when ``sentry_sdk`` is installed.
            retries: how often to retry a failed connection attempt (default 3). Nothing else is retried.
            timeout_ms: connect and read timeout in milliseconds (default: 0.5 s to connect, no read timeout).
            connection_kwargs: more keywords for the urllib3 connection pool; they win over the above.
        """
        options: dict[str, Any] = {"retries": _DEFAULT_RETRIES, "timeout": _DEFAULT_TIMEOUT}
        if retries is not None:
            options["retries"] = urllib3.Retry(connect=retries, read=0)
        if timeout_ms is not None:
            options["timeout"] = urllib3.Timeout(connect=timeout_ms / 1000, read=timeout_ms / 1000)
        options.update(connection_kwargs or {})
        self._pool = urllib3.connectionpool.connection_from_url(base_url, **options)
        self._base_path = urlparse(base_url).path
        self._metrics_backend = metrics_backend or NoOpMetricsBackend()
        self._propagate_traces = propagate_traces

    def session(self, usecase: Usecase, **scopes: str | int | bool) -> Session:
        """Create a :class:`Session` with the Objectstore server, tied to a specific Usecase and Scope.

        A Scope is a (possibly nested) namespace within a Usecase, given as a sequence of key-value pairs passed
        as kwargs. IMPORTANT: the order of the kwargs matters! The admitted characters for keys and values are:
        ``A-Za-z0-9_-()$!+*'``. For most usecases, it's recommended to use the organization and project ID as the
        first components of the scope: ``client.session(usecase, org=organization_id, project=project_id)``.

        Raises:
            ValueError: a scope value is empty, or a key or value holds a character that is not admitted.
        """
        return Session(
            self._pool,
            self._metrics_backend,
            self._propagate_traces,
            usecase,
            scope_text(scopes),
            base_path=self._base_path,
        )


class Session:
    """A session with the Objectstore server, scoped to a specific Usecase and Scope.

    This should never be constructed directly, use :meth:`Client.session`.
    """

    def __init__(
        self,
        pool: HTTPConnectionPool,
        metrics_backend: MetricsBackend,
        propagate_traces: bool,
        usecase: Usecase,
        scope: str,
        *,
        base_path: str = "",
    ) -> None:
        """Bind the pool to ``usecase`` and ``scope`` (the path form ``k=v;k=v``, ``_`` for none)."""
        self._pool = pool
        self._metrics_backend = metrics_backend
        self._propagate_traces = propagate_traces
        self._usecase = usecase
        self._scope = scope
        self._base_path = base_path

    def put(
        self,
        contents: bytes | IO[bytes],
        id: str | None = None,
        compression: Compression | Literal["none"] | None = None,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        expiration_policy: ExpirationPolicy | None = None,
    ) -> str:
        """Upload ``contents`` to blob storage and return its id.

        If no ``id`` is provided (or an empty one), the server generates one. The Usecase's compression applies
        unless ``compression`` is given; ``"none"`` uploads the bytes as they are, which suits incompressible
        formats. A stream is read to its end in blocks and compressed on the fly. The Usecase's expiration
        policy applies unless ``expiration_policy`` is given. ``metadata`` names must be valid HTTP header
        names; they are stored lowercase.

        Raises:
            RequestError: the server answered with a status of 400 or more.
            ValueError: ``compression`` is not ``"zstd"`` or ``"none"``, or a metadata name is not a header name.
        """
        compression = compression or self._usecase.compression
        if compression not in _COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}: expected 'zstd' or 'none'")
        headers = self._headers()
        if compression == "zstd":
            headers["Content-Encoding"] = "zstd"
        if content_type:
            headers["Content-Type"] = content_type
        policy = expiration_policy or self._usecase.expiration_policy
        if policy:
            headers[HEADER_EXPIRATION] = format_expiration(policy)
        for name, value in (metadata or {}).items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"metadata name {name!r} is not a valid HTTP header name")
            headers[HEADER_META_PREFIX + name] = encode_header_value(value)

        if isinstance(contents, bytes | bytearray | memoryview):
            contents = io.BytesIO(contents)
        source = _CountingReader(contents)
        wire = source
        if compression == "zstd":
            wire = _CountingReader(zstandard.ZstdCompressor().stream_reader(cast(IO[bytes], source)))
        path = object_path(self._base_path, self._usecase.name, self._scope, id)
        with measure_storage_operation(self._metrics_backend, "put", self._usecase.name) as emitter:
            response = self._pool.urlopen(
                "PUT" if id else "POST",
                path,
                body=cast(IO[bytes], wire),
                headers=headers,
                chunked=True,
                preload_content=True,
            )
            _raise_for_status(response)
            key = str(response.json()["key"])
            emitter.record_uncompressed_size(source.count)
            if compression != "none":
                emitter.record_compressed_size(wire.count, compression)
            return key

    def get(self, id: str, decompress: bool = True) -> GetResult:
        """Fetch the blob with the given ``id``: its metadata and an IO stream of its payload.

        By default, content that was uploaded compressed is decompressed while it is read (and
        ``metadata.compression`` is None); ``decompress=False`` hands over the stored bytes. Close the payload
        (or read it to the end) to give the connection back.

        Raises:
            RequestError: the object does not exist (status 404) or the server answered another error.
            NotImplementedError: the object is stored with an encoding other than zstd and ``decompress`` is set.
        """
        start = time.monotonic()
        with measure_storage_operation(self._metrics_backend, "get", self._usecase.name):
            response = self._pool.urlopen(
                "GET", self._path(id), headers=self._headers(), preload_content=False, decode_content=False
            )
            _raise_for_status(response)
        try:
            metadata = Metadata.from_headers(response.headers)
            stored = metadata.compression
            if stored and decompress and stored != "zstd":
                raise NotImplementedError("Transparent decoding of anything but `zstd` is not implemented yet")
        except BaseException:
            _discard(response)
            raise
        raw = _CountingReader(response)
        stream: _Readable = raw
        if stored and decompress:
            metadata.compression = None
            stream = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], raw), read_across_frames=True)

        def record_sizes(delivered: int) -> None:
            emitter = StorageMetricEmitter(self._metrics_backend, "get", self._usecase.name)
            if stored:
                if decompress:
                    emitter.record_uncompressed_size(delivered)
                emitter.record_compressed_size(raw.count, stored)
            else:
                emitter.record_uncompressed_size(raw.count)
            emitter.elapsed = time.monotonic() - start
            emitter.maybe_record_compression_ratio()
            emitter.maybe_record_throughputs()

        return GetResult(metadata, cast(IO[bytes], _Payload(stream, response, record_sizes)))

    def object_url(self, id: str) -> str:
        """Generate a GET url to the object with the given ``id``.

        This can then be used by downstream services to fetch the given object. NOTE however that the service
        does not strictly follow HTTP semantics, in particular in relation to ``Accept-Encoding``: a
        zstd-compressed object is served compressed, with ``content-encoding: zstd``.
        """
        host = self._pool.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self._pool.scheme}://{host}:{self._pool.port}{self._path(id)}"

    def delete(self, id: str) -> None:
        """Delete the blob with the given ``id``; deleting a missing blob succeeds.

        Raises:
            RequestError: the server answered with a status of 400 or more.
        """
        with measure_storage_operation(self._metrics_backend, "delete", self._usecase.name):
            response = self._pool.urlopen("DELETE", self._path(id), headers=self._headers(), preload_content=True)
            _raise_for_status(response)

    def _path(self, id: str) -> str:
        return object_path(self._base_path, self._usecase.name, self._scope, id)

    def _headers(self) -> dict[str, str]:
        # urllib3 ignores the pool's own headers once a request has any, so they are merged here.
        headers = dict(self._pool.headers)
        if self._propagate_traces:
            headers.update(_trace_headers())
        return headers


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader:
    """A reader that counts the bytes read through it (no ``tell``: urllib3 then never tries to rewind it)."""

    def __init__(self, inner: _Readable) -> None:
        self._inner = inner
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self.count += len(data)
        return data


class _Payload(io.RawIOBase):
    """The payload stream of a get: reads through, gives the connection back when closed or read to the end."""

    def __init__(
        self, source: _Readable, response: urllib3.BaseHTTPResponse, on_end: Callable[[int], None] | None
    ) -> None:
        super().__init__()
        self._source = source
        self._response = response
        self._on_end = on_end
        self._count = 0
        self._ended = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if size is None or size < 0:
            return self.readall()
        data = self._source.read(size) if size and not self._ended else b""
        self._count += len(data)
        if size and not data:
            self._end()
        return data

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(io.DEFAULT_BUFFER_SIZE * 8):
            chunks.append(chunk)
        return b"".join(chunks)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            if self._ended:
                self._response.release_conn()
            else:
                _discard(self._response)
        super().close()

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._response.release_conn()
        if self._on_end is not None:
            self._on_end(self._count)


def _raise_for_status(response: urllib3.BaseHTTPResponse) -> None:
    if response.status < 400:
        return
    try:
        text = (response.data or b"").decode("utf-8", "replace")
    finally:
        response.release_conn()
    raise RequestError(f"Objectstore request failed with status {response.status}", response.status, text)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    # Closing, not draining: the rest of a large body is not worth reading just to reuse the connection.
    response.close()
    response.release_conn()


def _trace_headers() -> dict[str, str]:
    try:
        sentry_sdk = importlib.import_module("sentry_sdk")
    except ImportError:  # no Sentry SDK in this process: no trace to propagate
        return {}
    return {str(name): str(value) for name, value in sentry_sdk.get_current_scope().iter_trace_propagation_headers()}
