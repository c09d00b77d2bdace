"""HttpBackend: the Backend contract over a satchel server, in the Objectstore protocol and satchel's extensions."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlencode

from satchel.backend import BYTES_LIKE, GetResult, MultipartUpload, Payload
from satchel.backends._staged import StagedUpload
from satchel.backends.http._auth import SignedTokens, StaticToken, TokenSource
from satchel.backends.http._config import HttpConfig
from satchel.backends.http._errors import ErrorContext
from satchel.backends.http._multipart import NativeUpload, check_part
from satchel.backends.http._transport import EmptyBody, ResponseBody, Transport, stream_chunks
from satchel.backends.http._wire import (
    http_date,
    meta_from_headers,
    parse_content_range,
    parse_timestamp,
    quote_path,
    write_headers,
)
from satchel.errors import AlreadyExists, ConfigError, NotSupported, PreconditionFailed, SatchelError
from satchel.path import Key
from satchel.types import (
    ByteRange,
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutMode,
    PutOptions,
    PutResult,
)

__all__ = ["HTTP_CAPABILITIES", "HttpBackend"]

HTTP_CAPABILITIES = Capabilities(
    rename=False,
    signing=True,
    list_attributes=False,
    max_delete_batch=1000,
    min_part_size=0,
    max_parts=10_000,
)
"""What the protocol offers. ``copy_if_not_exists`` and ``file_and_prefix`` hold when the served store has them
(memory, S3, GCS, Azure); a server over a local folder refuses a key below another key with InvalidPath."""

_HEAD = GetOptions(head=True)
_PAGE_SIZE = 1000
_DELETED = (204, 200, 404)
_Body = bytes | bytearray | memoryview | Iterator[bytes]


class HttpBackend:
    """A Backend over one usecase and scopes of a satchel server (see the package docstring).

    Args:
        transport: the connection pool to the server.
        usecase: the usecase of the objects.
        scopes: the scopes in the protocol's path form (``org=42;project=1337``, ``_`` for none).
        location: a description of the server and namespace for reprs and errors, with no secret in it.
    """

    name = "http"

    def __init__(self, transport: Transport, *, usecase: str, scopes: str, location: str) -> None:
        self._transport = transport
        self._namespace = f"{quote_path(usecase)}/{quote_path(scopes or '_')}"
        self.location = location

    @classmethod
    def from_config(cls, config: HttpConfig) -> HttpBackend:
        """Build the backend from URL options.

        Raises:
            ConfigError: the private key cannot be loaded.
        """
        tokens: TokenSource | None = None
        if config.token is not None:
            tokens = StaticToken(config.token)
        elif config.key_id is not None and config.private_key is not None:
            tokens = SignedTokens(config.key_id, config.private_key, config.usecase, config.parsed_scopes)
        transport = Transport(
            config.endpoint.rstrip("/"),
            tokens,
            timeout=config.timeout,
            connect_timeout=config.connect_timeout,
            pool_size=config.pool_size,
            ca_certs=config.ca_certs,
        )
        return cls(transport, usecase=config.usecase, scopes=config.scopes, location=config.location)

    @property
    def capabilities(self) -> Capabilities:
        """What the protocol does natively (see :data:`HTTP_CAPABILITIES`)."""
        return HTTP_CAPABILITIES

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    def _errors(
        self, key: str | None, operation: str, conflict: type[SatchelError] = PreconditionFailed
    ) -> ErrorContext:
        return ErrorContext(self.name, self.location, key, operation, conflict)

    def _path(self, resource: str, key: str) -> str:
        return f"/v1/{resource}/{self._namespace}/{quote_path(key)}"

    # --- writes --------------------------------------------------------------------------------------------

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write ``payload`` under ``key`` in one request, streaming a stream as a chunked body.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the etag differs or the key is missing.
            NotSupported: ``options.compression`` reached the backend (it is the compression layer's).
            ConfigError: an attribute the protocol cannot carry, or one the server refuses.
        """
        headers = self._write_headers(key, options, "put")
        body: _Body = payload if isinstance(payload, BYTES_LIKE) else stream_chunks(payload)
        return self._send(key, body, options.mode, options.if_match, headers)

    def _send(self, key: Key, body: _Body, mode: PutMode, if_match: str | None, headers: dict[str, str]) -> PutResult:
        conflict: type[SatchelError] = PreconditionFailed
        sent = dict(headers)
        if mode is PutMode.CREATE:
            sent["if-none-match"] = "*"
            conflict = AlreadyExists
        elif mode is PutMode.UPDATE and if_match is not None:
            sent["if-match"] = if_match
        errors = self._errors(key, "put", conflict)
        response = self._transport.request("PUT", self._path("objects", key), errors, headers=sent, body=body)
        return PutResult(response.headers.get("etag"))

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start a multipart upload: the server's own, or staged here for a conditional write.

        Raises:
            NotSupported, ConfigError: as :meth:`put`.
        """
        headers = self._write_headers(key, options, "put_multipart")
        if options.mode is not PutMode.OVERWRITE:
            mode, if_match = options.mode, options.if_match
            return StagedUpload(
                key,
                self.name,
                lambda chunks, size: self._send(key, chunks, mode, if_match, headers),
                check_part=lambda number, size: check_part(number, size, key, self.name),
            )
        answer = self._transport.json(
            "PUT", self._path("objects:multipart", key), self._errors(key, "put_multipart"), headers=headers
        )
        path = f"{self._namespace}/{quote_path(key)}"
        return NativeUpload(self._transport, path, key, str(answer["upload_id"]), lambda op: self._errors(key, op))

    def _write_headers(self, key: Key, options: PutOptions, operation: str) -> dict[str, str]:
        if options.compression is not None:
            raise NotSupported(
                "compression needs its layer (use satchel.open)", key=key, operation=operation, backend=self.name
            )
        # The server enforces expiry itself: the policy travels as x-sn-expiration, the deadline is its own.
        expiration = options.expiration or options.attributes.expiration
        try:
            return write_headers(options.attributes, expiration)
        except ConfigError as err:
            raise ConfigError(err.message, key=key, operation=operation, backend=self.name) from None

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object (or only its metadata with ``head=True``), streaming its body from the socket.

        Raises:
            NotFound: no such object (or it has expired).
            RangeNotSatisfiable: the range starts at or past the end.
            PreconditionFailed: ``if_match``/``if_unmodified_since`` does not hold.
            NotModified: ``if_none_match``/``if_modified_since`` says the caller's copy is current.
        """
        headers: dict[str, str] = {}
        if options.range is not None and not options.head:
            headers["range"] = _range_header(options.range)
        if options.if_match is not None:
            headers["if-match"] = options.if_match
        if options.if_none_match is not None:
            headers["if-none-match"] = options.if_none_match
        if options.if_modified_since is not None:
            headers["if-modified-since"] = http_date(options.if_modified_since)
        if options.if_unmodified_since is not None:
            headers["if-unmodified-since"] = http_date(options.if_unmodified_since)
        errors = self._errors(key, "head" if options.head else "get")
        path = self._path("objects", key)
        if options.head:
            response = self._transport.request("HEAD", path, errors, headers=headers)
            meta = meta_from_headers(key, response.headers, _size(response.headers, None))
            return GetResult(meta, (0, meta.size), EmptyBody())
        response = self._transport.request("GET", path, errors, headers=headers, stream=True, ok=(200, 206))
        span = None
        if response.status == 206:
            span = parse_content_range(response.headers.get("content-range", ""))
        meta = meta_from_headers(key, response.headers, _size(response.headers, span))
        start, end = (span[0], span[1]) if span is not None else (0, meta.size)
        length = response.headers.get("content-length")
        size = int(length) if length is not None and length.isdigit() else end - start
        return GetResult(meta, (start, end), ResponseBody(response, size, errors))

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield every object whose key starts with ``prefix``, after ``offset`` if given, a page at a time."""
        cursor = offset or None
        while True:
            page = self._page(prefix, cursor, delimiter=False)
            for item in page["objects"]:
                meta = _listed(item)
                if offset is None or meta.key > offset:
                    yield meta
            cursor = page.get("cursor")
            if not cursor:
                return

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one ``/`` level below ``prefix``."""
        objects: list[ObjectMeta] = []
        prefixes: set[str] = set()
        cursor = None
        while True:
            page = self._page(prefix, cursor, delimiter=True)
            objects.extend(_listed(item) for item in page["objects"])
            prefixes.update(str(common) for common in page["prefixes"])
            cursor = page.get("cursor")
            if not cursor:
                return ListResult(objects, sorted(prefixes))

    def _page(self, prefix: str, cursor: str | None, *, delimiter: bool) -> Any:
        query: dict[str, str | int] = {"prefix": prefix, "limit": _PAGE_SIZE}
        if cursor:
            query["cursor"] = cursor
        if delimiter:
            query["delimiter"] = "/"
        path = f"/v1/objects:list/{self._namespace}/?{urlencode(query)}"
        return self._transport.json("GET", path, self._errors(prefix or None, "list"))

    # --- deletes, copies, renames --------------------------------------------------------------------------

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys``, one request each; a missing key is not an error.

        Raises:
            PreconditionFailed: ``options.if_match`` was given and the object's etag differs (or it is missing).
        """
        headers = {"if-match": options.if_match} if options is not None and options.if_match is not None else {}
        for key in keys:
            errors = self._errors(key, "delete")
            self._transport.request("DELETE", self._path("objects", key), errors, headers=headers, ok=_DELETED)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` on the server; with new attributes, stream it through this client.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        if options.attributes is None and src == dst:
            self.get(src, _HEAD)  # a copy onto itself changes nothing, but the source must exist
            return
        if options.attributes is not None:
            self._copy_with_attributes(src, dst, options)
            return
        conflict = PreconditionFailed if options.overwrite else AlreadyExists
        payload = {"source": src, "overwrite": options.overwrite}
        self._transport.json("POST", self._path("objects:copy", dst), self._errors(src, "copy", conflict), payload)

    def _copy_with_attributes(self, src: Key, dst: Key, options: CopyOptions) -> None:
        # The server's copy keeps the source's attributes; new ones need the bytes sent again, streamed.
        assert options.attributes is not None
        headers = self._write_headers(dst, PutOptions(attributes=options.attributes), "copy")
        source = self.get(src, GetOptions())
        mode = PutMode.OVERWRITE if options.overwrite else PutMode.CREATE
        with source.body as body:
            self._send(dst, iter(body), mode, None, headers)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` then delete ``src``: not atomic (the protocol has no rename).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        self.copy(src, dst, options)
        if src != dst:
            self.delete([src])

    # --- signing and housekeeping --------------------------------------------------------------------------

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Return a URL of the server that lets anyone ``method`` ``key`` for ``expires_in`` seconds.

        The server signs it (with the served store's native signing, or its own key); the seconds are rounded
        up to a whole number, at most seven days.

        Raises:
            PermissionDenied: this store's credentials may not read (GET) or write (PUT) the key.
            ConfigError: ``expires_in`` is longer than the server allows.
        """
        payload = {"method": method, "expires_in": max(1, math.ceil(expires_in))}
        answer = self._transport.json("POST", self._path("objects:sign", key), self._errors(key, "sign"), payload)
        return str(answer["url"])

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()


def _range_header(byte_range: ByteRange) -> str:
    if byte_range.suffix is not None:
        return f"bytes=-{byte_range.suffix}"
    if byte_range.end is None:
        return f"bytes={byte_range.start}-"
    return f"bytes={byte_range.start}-{byte_range.end - 1}"


def _size(headers: Any, span: tuple[int, int, int | None] | None) -> int:
    if span is not None and span[2] is not None:
        return span[2]
    for name in ("x-sn-size", "content-length"):
        value = headers.get(name)
        if value is not None and value.isdigit():
            return int(value)
    return 0


def _listed(item: Any) -> ObjectMeta:
    return ObjectMeta(str(item["key"]), int(item["size"]), item.get("etag"), parse_timestamp(item["last_modified"]))
