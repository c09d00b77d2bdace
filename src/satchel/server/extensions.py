"""satchel's extensions to the protocol, in its style (documented in docs/server.md).

* ``GET /v1/objects:list/{usecase}/{scopes}/?prefix=&delimiter=/&cursor=&limit=`` lists keys (``object.read``):
  ``{"objects": [{"key", "size", "etag", "last_modified"}], "prefixes": [...], "cursor": next-or-null}``.
* ``POST /v1/objects:copy/{usecase}/{scopes}/{destination}`` with ``{"source": key, "overwrite": bool}``
  copies inside one usecase and scope (``object.read`` and ``object.write``).
* ``POST /v1/objects:sign/{usecase}/{scopes}/{key}`` with ``{"method": "GET"|"PUT", "expires_in": seconds}``
  returns ``{"url": ...}``: the backend's own signed URL where it signs natively, otherwise a presigned URL
  of this server signed with its own key (the permission of the method is required).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from satchel.errors import SatchelError
from satchel.path import Key
from satchel.server.addressing import ObjectAddress, logical_key, storage_key, storage_prefix
from satchel.server.auth import READ, WRITE
from satchel.server.bodies import read_small_body
from satchel.server.durations import format_timestamp
from satchel.server.errors import ApiError
from satchel.server.headers import CREATED
from satchel.server.state import ServerState, api_error, json_response
from satchel.types import CopyOptions, ObjectMeta

__all__ = ["copy_route", "list_route", "sign_route"]

MAX_LIMIT = 10_000
MAX_SIGN_SECONDS = 7 * 24 * 3600


async def list_route(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """List the objects of a usecase and scope under a logical prefix, a page at a time.

    Raises:
        ApiError: a delimiter other than ``/`` or a bad limit (400).
    """
    address = address._replace(key=None)
    state.authorize(request, address, READ)
    params = request.query_params
    prefix = params.get("prefix", "")
    delimiter = params.get("delimiter") or None
    cursor = params.get("cursor") or None
    limit_text = params.get("limit", "1000")
    if delimiter not in (None, "/"):
        raise ApiError(400, "the only delimiter is '/'")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be a number from 1 to {MAX_LIMIT}")
    limit = int(limit_text)
    base = storage_prefix(address.usecase, address.scopes)

    def page() -> dict[str, object]:
        scan = _scan(state, address, base, prefix, cursor)
        objects: list[dict[str, object]] = []
        prefixes: list[str] = []
        last: str | None = None
        for key, meta in islice(scan, limit + 1):
            if len(objects) + len(prefixes) == limit:
                return {"objects": objects, "prefixes": prefixes, "cursor": last}
            last = key
            if delimiter is not None and "/" in key[len(prefix) :]:
                common = key[: key.index("/", len(prefix)) + 1]
                if not prefixes or prefixes[-1] != common:
                    prefixes.append(common)
                continue
            objects.append(
                {
                    "key": key,
                    "size": meta.size,
                    "etag": meta.etag,
                    "last_modified": format_timestamp(meta.last_modified),
                }
            )
        return {"objects": objects, "prefixes": prefixes, "cursor": None}

    try:
        return json_response(await anyio.to_thread.run_sync(page))
    except SatchelError as err:
        raise api_error(err) from None


def _scan(
    state: ServerState, address: ObjectAddress, base: str, prefix: str, cursor: str | None
) -> Iterator[tuple[str, ObjectMeta]]:
    # Logical prefixes do not map to storage prefixes segment for segment (keys are encoded, which also
    # changes their order), so the scan lists the storage directory of the prefix's complete segments and
    # filters on the logical key; the page size bounds the work.
    directory = prefix.rpartition("/")[0]
    storage_dir = base
    if directory:
        storage_dir = storage_key(address._replace(key=directory + "/x"))[: -len("x")]
    offset = storage_key(address._replace(key=cursor)) if cursor else None
    for meta in state.store.list(storage_dir, offset=offset):
        key = logical_key(meta.key, base)
        if key.startswith(prefix):
            yield key, meta


async def copy_route(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """Copy an object to ``address`` from another key of the same usecase and scope.

    Raises:
        ApiError: a malformed body (400), a missing source (404), an existing destination without overwrite (412).
    """
    if address.key is None:
        raise ApiError(400, "the destination key is missing")
    body = await read_small_body(request, 64 << 10)
    try:
        request_body = json.loads(body)
        source = str(request_body["source"])
        overwrite = bool(request_body.get("overwrite", True))
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, 'expected {"source": "<key>", "overwrite": true}') from None
    source_address = address._replace(key=source)
    state.authorize(request, source_address, READ)
    state.authorize(request, address, WRITE)
    src, dst = storage_key(source_address), storage_key(address)
    try:
        await anyio.to_thread.run_sync(lambda: _copy(state, src, dst, overwrite))
    except SatchelError as err:
        raise api_error(err) from None
    return json_response({"key": address.key})


def _copy(state: ServerState, src: Key, dst: Key, overwrite: bool) -> None:
    if not state.created_from_mtime:
        state.store.copy(src, dst, overwrite=overwrite)
        return
    # The source's creation time may be only its mtime, which the copy (a new file) does not keep: pin it
    # on the copy, as extend_expiry updates attributes, so both report the same x-sn-time-created.
    source = state.store.head(src)
    state.store.copy(src, dst, overwrite=overwrite)
    attributes = source.attributes
    if CREATED not in attributes.metadata:
        metadata = {**attributes.metadata, CREATED: format_timestamp(source.last_modified)}
        state.store.backend.copy(dst, dst, CopyOptions(attributes=replace(attributes, metadata=metadata)))


async def sign_route(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """Return a URL that lets anyone GET or PUT the object at ``address`` until it expires.

    Raises:
        ApiError: a malformed body (400), a permission the caller lacks (403).
    """
    if address.key is None:
        raise ApiError(400, "the key is missing")
    body = await read_small_body(request, 64 << 10)
    try:
        request_body = json.loads(body)
        method = str(request_body.get("method", "GET")).upper()
        expires_in = int(request_body.get("expires_in", 3600))
    except (ValueError, TypeError, AttributeError):
        raise ApiError(400, 'expected {"method": "GET" | "PUT", "expires_in": seconds}') from None
    if method not in ("GET", "PUT"):
        raise ApiError(400, "only GET and PUT links can be signed")
    if not 1 <= expires_in <= MAX_SIGN_SECONDS:
        raise ApiError(400, f"expires_in must be from 1 to {MAX_SIGN_SECONDS} seconds")
    state.authorize(request, address, READ if method == "GET" else WRITE)
    key = storage_key(address)
    if state.store.backend.capabilities.signing:
        try:
            url = await anyio.to_thread.run_sync(lambda: state.store.sign(key, method, expires_in))  # type: ignore[arg-type]
        except SatchelError as err:
            raise api_error(err) from None
        return json_response({"url": url})
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    object_path = raw_path.replace("/objects:sign/", "/objects/", 1)
    query = state.signer.sign(method, object_path, expires_in, now=state.clock())
    base = str(request.base_url).rstrip("/")
    return json_response({"url": f"{base}{object_path}?{query}"})
