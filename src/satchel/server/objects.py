"""The object routes: create, overwrite, get (with one range), head, delete and extend_expiry (spec a.7).

Every generation of the protocol ends up here with an :class:`ObjectAddress`. Writes stream the request body
into the Store from a worker thread; the object becomes visible only when the whole body has arrived, so a
client that disconnects halfway leaves the previous version (or nothing). Reads stream the Store's body back.

satchel's own extensions on these routes (used by its HTTP backend, harmless to other clients):

* ``If-None-Match: *`` on a write creates only if absent; ``If-Match: <etag>`` replaces only that version.
  Either failing answers 412.
* ``If-Match``, ``If-None-Match``, ``If-Modified-Since``, ``If-Unmodified-Since`` on GET and HEAD answer 412
  or 304; ``If-Match`` on DELETE deletes only that version.
* Responses to writes, GET and HEAD carry the object's ``etag``.
"""

from __future__ import annotations

import email.utils
import json
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from satchel.backend import GetResult
from satchel.errors import NotFound, RangeNotSatisfiable, SatchelError
from satchel.path import Key
from satchel.server.addressing import ObjectAddress, storage_key
from satchel.server.auth import DELETE, READ, WRITE
from satchel.server.bodies import RequestReader, read_small_body, stream_body
from satchel.server.durations import parse_duration, parse_timestamp
from satchel.server.errors import ApiError
from satchel.server.headers import (
    ObjectFields,
    created_of,
    fields_from_headers,
    request_headers,
    response_headers,
    to_attributes,
)
from satchel.server.state import RawResponse, ServerState, api_error, key_response
from satchel.types import NO_ATTRIBUTES, TTI, TTL, ByteRange, CopyOptions, GetOptions, PutMode, PutResult

__all__ = ["delete_object", "get_object", "patch_object", "put_object", "write_object"]

SMALL_BODY = 256 << 10
"""Bodies up to this size are read whole on the event loop and written in one thread hop."""

_READ_HEADERS = frozenset({"range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since"})
_NO_CONDITIONS: dict[str, Any] = {}


async def put_object(state: ServerState, request: Request, address: ObjectAddress, *, created: int) -> Response:
    """Create or overwrite the object at ``address`` (a new uuid4 key when it has none) from the request body.

    Answers ``created`` (201 for a key-less POST, 200 for a PUT) with ``{"key": ...}``.

    Raises:
        ApiError: bad headers or policy (400), too large (413), a failed condition (412), storage errors.
    """
    headers = request_headers(request.scope)
    fields = fields_from_headers(headers)
    key = address.key
    if key is None:
        key = str(uuid.uuid4())
        address = address._replace(key=key)
    state.authorize(request, address, WRITE)
    mode, if_match = _write_condition(headers)
    result = await write_object(state, request, address, fields, mode, if_match)
    return key_response(key, created, result.etag)


async def write_object(
    state: ServerState,
    request: Request,
    address: ObjectAddress,
    fields: ObjectFields,
    mode: PutMode = PutMode.OVERWRITE,
    if_match: str | None = None,
) -> PutResult:
    """Stream the request body into the object at ``address`` with ``fields`` and the usecase's rules.

    Raises:
        ApiError: a policy the usecase refuses (400), a body past its size limit (413), storage errors.
    """
    usecase = state.config.usecase(address.usecase)
    policy = fields.expiration if fields.expiration_given else usecase.expiration
    usecase.check_policy(policy)
    key = storage_key(address)
    attributes = to_attributes(fields, state.write_created())
    compress = usecase.compression if fields.content_encoding is None else None
    limit = usecase.max_object_size
    length = _content_length(request_headers(request.scope))
    if length is not None and limit is not None and length > limit:
        raise ApiError(413, f"the object is larger than this usecase allows ({limit} bytes)")

    def put(data: Any) -> PutResult:
        return state.store.put(
            key,
            data,
            content_type=attributes.content_type,
            content_encoding=attributes.content_encoding,
            content_disposition=attributes.content_disposition,
            content_language=attributes.content_language,
            cache_control=attributes.cache_control,
            metadata=attributes.metadata,
            expires=policy,
            compress=compress,
            mode=mode,
            if_match=if_match,
        )

    try:
        if length is not None and length <= SMALL_BODY:
            data = await read_small_body(request, limit)
            if not state.inline_writes:
                return await anyio.to_thread.run_sync(put, data)
            if attributes is NO_ATTRIBUTES and policy is None and compress is None and mode is PutMode.OVERWRITE:
                return state.store.put(key, data)  # the Store's defaults, without building its options
            return put(data)
        async with RequestReader(request, limit, length) as reader:
            return await anyio.to_thread.run_sync(put, reader)
    except SatchelError as err:
        raise api_error(err) from None


async def get_object(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """Answer GET (streamed body, one range at most) or HEAD (headers only) of the object at ``address``.

    Raises:
        ApiError: 404 absent or expired, 416 range past the end, 304/412 failed conditions.
    """
    state.authorize(request, address, READ)
    key = storage_key(address)
    head = request.method == "HEAD"
    headers = request_headers(request.scope)
    # Most reads carry neither a range nor a condition: one check of the header names settles both.
    plain = _READ_HEADERS.isdisjoint(headers)
    byte_range = None if head or plain else _parse_range(headers.get("range"))
    conditions = _NO_CONDITIONS if plain else _read_conditions(headers)

    def open_object() -> tuple[GetResult, bytes | None]:
        if head:
            result = state.store.backend.get(key, _head_options(conditions))
            result.body.close()
            return result, None
        result = state.store.get(key, range=byte_range, **conditions)
        size = result.body.size
        if size is not None and size <= SMALL_BODY:
            with result.body as body:
                return result, body.readall()
        return result, None

    try:
        if state.inline_reads:
            result, data = open_object()
        else:
            result, data = await anyio.to_thread.run_sync(open_object)
    except RangeNotSatisfiable as err:
        total = await _stored_size(state, key)
        raise ApiError(416, str(err.args[0]), headers={"content-range": f"bytes */{total}"}) from None
    except SatchelError as err:
        raise api_error(err) from None
    meta = result.meta
    answer = response_headers(meta)
    compressed_at_rest = meta.attributes.compression is not None
    if head:
        if not compressed_at_rest:
            answer.append((b"content-length", b"%d" % meta.size))
        return RawResponse(200, answer)
    status = 200
    if byte_range is not None:
        start, end = result.range
        total = "*" if compressed_at_rest else str(meta.size)
        answer.append((b"content-range", f"bytes {start}-{end - 1}/{total}".encode()))
        status = 206
    if data is not None:
        answer.append((b"content-length", b"%d" % len(data)))
        return RawResponse(status, answer, data)
    if result.body.size is not None:
        answer.append((b"content-length", b"%d" % result.body.size))
    response = StreamingResponse(stream_body(result.body, inline=state.inline_reads), status)
    response.raw_headers = answer
    return response


async def delete_object(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """Delete the object at ``address``; deleting a missing object succeeds (204).

    Raises:
        ApiError: 412 when ``If-Match`` names another version.
    """
    state.authorize(request, address, DELETE)
    key = storage_key(address)
    if_match = request_headers(request.scope).get("if-match")
    try:
        if state.inline_writes:
            state.store.delete(key, if_match=if_match)
        else:
            await anyio.to_thread.run_sync(lambda: state.store.delete(key, if_match=if_match))
    except NotFound:
        pass
    except SatchelError as err:
        raise api_error(err) from None
    return Response(status_code=204)


async def patch_object(state: ServerState, request: Request, address: ObjectAddress) -> Response:
    """Extend the deadline of an expiring object (``{"extend_expiry": ...}``, spec a.7); 204 when done or not needed.

    Raises:
        ApiError: 404 absent or expired, 409 a non-expiring object, 422 a malformed body, 400 past the
            usecase's maximum.
    """
    state.authorize(request, address, WRITE)
    body = await read_small_body(request, 64 << 10)
    key = storage_key(address)
    now = state.clock()
    try:
        meta = await anyio.to_thread.run_sync(state.store.head, key)
    except SatchelError as err:
        raise api_error(err) from None
    attributes = meta.attributes
    policy = attributes.expiration
    if policy is None or attributes.expires_at is None:
        raise ApiError(409, "the object does not expire; its expiry cannot be extended")
    created = created_of(attributes, meta.last_modified)
    target = _extension_target(body, now, created)
    usecase = state.config.usecase(address.usecase)
    maximum = usecase.max_ttl if isinstance(policy, TTL) else usecase.max_tti
    if maximum is not None and target - now > maximum:
        raise ApiError(400, "the new deadline is past this usecase's maximum")
    if attributes.expires_at >= target:
        return Response(status_code=204)
    new_policy: TTL | TTI = TTL(target - created) if isinstance(policy, TTL) else policy
    updated = replace(attributes, expiration=new_policy, expires_at=target)
    try:
        await anyio.to_thread.run_sync(lambda: state.store.backend.copy(key, key, CopyOptions(attributes=updated)))
    except NotFound:
        raise ApiError(404, "no such object") from None
    except SatchelError as err:
        raise api_error(err) from None
    return Response(status_code=204)


def _extension_target(body: bytes, now: datetime, created: datetime) -> datetime:
    try:
        request = json.loads(body)["extend_expiry"]
        if "at" in request:
            target = parse_timestamp(str(request["at"]))
            if target.microsecond:  # rounded up to whole seconds (a.7)
                target = target.replace(microsecond=0) + timedelta(seconds=1)
            return target
        after = parse_duration(str(request["after"]))
        origin = request.get("from", "now")
    except ApiError as err:
        raise ApiError(422, err.detail) from None
    except (ValueError, KeyError, TypeError):
        raise ApiError(422, 'expected {"extend_expiry": {"at": ...} or {"after": ..., "from": ...}}') from None
    if origin == "now":
        return now + after
    if origin == "creation":
        return created + after
    raise ApiError(422, "extend_expiry.from must be 'now' or 'creation'")


def _content_length(headers: Mapping[str, str]) -> int | None:
    text = headers.get("content-length")
    if text is None:
        return None
    if not text.isdigit():
        raise ApiError(400, "Content-Length must be a number")
    return int(text)


def _write_condition(headers: Mapping[str, str]) -> tuple[PutMode, str | None]:
    if_none_match = headers.get("if-none-match")
    if_match = headers.get("if-match")
    if if_none_match is not None:
        if if_none_match.strip() != "*" or if_match is not None:
            raise ApiError(400, "writes accept If-None-Match: * or If-Match: <etag>, not both")
        return PutMode.CREATE, None
    if if_match is not None:
        return PutMode.UPDATE, if_match
    return PutMode.OVERWRITE, None


def _read_conditions(headers: Mapping[str, str]) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    if "if-match" in headers:
        conditions["if_match"] = headers["if-match"]
    if "if-none-match" in headers:
        conditions["if_none_match"] = headers["if-none-match"]
    for name, field in (("if-modified-since", "if_modified_since"), ("if-unmodified-since", "if_unmodified_since")):
        if name in headers:
            try:
                conditions[field] = email.utils.parsedate_to_datetime(headers[name])
            except (TypeError, ValueError):
                raise ApiError(400, f"{name} is not an HTTP date") from None
    return conditions


def _head_options(conditions: dict[str, Any]) -> GetOptions:
    return GetOptions(head=True, **conditions)


def _parse_range(text: str | None) -> ByteRange | None:
    # One range only; a list of ranges is ignored and the whole body is sent (a.7).
    if text is None:
        return None
    unit, _, spec = text.partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        raise ApiError(400, "only byte ranges are supported")
    if "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    try:
        if not dash:
            raise ValueError
        if not first:
            return ByteRange.last(int(last))
        if not last:
            return ByteRange.from_offset(int(first))
        start, end = int(first), int(last)
        if end < start:
            raise ValueError
        return ByteRange.bounded(start, end + 1)
    except ValueError:
        raise ApiError(400, f"malformed Range header: {text}") from None
    except SatchelError:
        raise ApiError(400, f"malformed Range header: {text}") from None


async def _stored_size(state: ServerState, key: Key) -> int | str:
    try:
        meta = await anyio.to_thread.run_sync(state.store.head, key)
    except SatchelError:
        return "*"
    return "*" if meta.attributes.compression is not None else meta.size
