"""Multipart uploads (spec a.7, client >= 0.1.10) and resumable uploads (client 0.2.10).

Both keep their state in this server process: the Store's :class:`~satchel.backend.MultipartUpload` for a
multipart upload (its parts staged by the backend), a spool file for a resumable one. Neither becomes an
object before it is complete. A restart forgets them (their clients then start over), and one left idle for
:data:`IDLE_LIMIT` is discarded by the sweeper. A part is read whole before it is stored, so parts are
limited to :data:`MAX_PART_SIZE`; a resumable upload streams its chunks to the spool file and then into the
Store, so its memory stays flat whatever its size.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from satchel.backend import MultipartUpload
from satchel.errors import SatchelError
from satchel.server.addressing import ObjectAddress, storage_key
from satchel.server.auth import WRITE
from satchel.server.bodies import RequestReader, read_small_body
from satchel.server.durations import format_timestamp
from satchel.server.errors import ApiError
from satchel.server.headers import ObjectFields, fields_from_headers, to_attributes
from satchel.server.state import ServerState, api_error, json_response
from satchel.types import Part, PutOptions

__all__ = ["IDLE_LIMIT", "MAX_PART_SIZE", "Uploads", "multipart_route", "resumable_route"]

MAX_PART_SIZE = 64 << 20
IDLE_LIMIT = 24 * 3600.0
_COPY_SIZE = 1 << 20


@dataclass
class _Multipart:
    address: ObjectAddress
    upload: MultipartUpload
    parts: dict[int, tuple[Part, datetime]] = field(default_factory=dict)
    touched: float = field(default_factory=time.monotonic)


@dataclass
class _Resumable:
    address: ObjectAddress
    fields: ObjectFields
    length: int
    path: str
    offset: int = 0
    committed: bool = False
    touched: float = field(default_factory=time.monotonic)
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class Uploads:
    """The multipart and resumable uploads in progress in this process."""

    def __init__(self, spool_dir: str) -> None:
        self.spool_dir = spool_dir
        self.multipart: dict[str, _Multipart] = {}
        self.resumable: dict[str, _Resumable] = {}
        self._lock = threading.Lock()

    def discard_idle(self, now: float | None = None) -> int:
        """Abort the uploads idle for longer than :data:`IDLE_LIMIT`; return how many."""
        now = time.monotonic() if now is None else now
        gone = 0
        for upload_id, upload in list(self.multipart.items()):
            if now - upload.touched > IDLE_LIMIT and self.multipart.pop(upload_id, None) is not None:
                with contextlib.suppress(SatchelError):
                    upload.upload.abort()
                gone += 1
        for token, session in list(self.resumable.items()):
            if now - session.touched > IDLE_LIMIT and self.resumable.pop(token, None) is not None:
                _unlink(session.path)
                gone += 1
        return gone

    def close(self) -> None:
        """Abort every upload in progress (the server is stopping)."""
        self.discard_idle(now=float("inf"))


# --- multipart -------------------------------------------------------------------------------------------


async def multipart_route(
    state: ServerState, uploads: Uploads, request: Request, resource: str, address: ObjectAddress
) -> Response:
    """Dispatch the ``objects:multipart*`` resources.

    Raises:
        ApiError: an unknown upload (404), a bad part (400, 413), or what the operation raises.
    """
    method = request.method
    if address.key is None and not (resource == "objects:multipart" and method == "POST"):
        raise ApiError(400, "this request needs an object key")
    if resource == "objects:multipart":
        if method in ("POST", "PUT") and "upload_id" not in request.query_params:
            return await _initiate(state, uploads, request, address, created=200)
        if method == "DELETE":
            return await _abort(state, uploads, request, address)
    elif resource == "objects:multipart:parts":
        if method == "PUT":
            return await _put_part(state, uploads, request, address)
        if method == "GET":
            return _list_parts(state, uploads, request, address)
    elif resource == "objects:multipart:complete" and method == "POST":
        return await _complete(state, uploads, request, address)
    raise ApiError(405, f"{method} is not allowed on {resource}")


async def _initiate(
    state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress, created: int
) -> Response:
    fields = fields_from_headers(request.headers)
    if address.key is None:
        address = address._replace(key=str(uuid.uuid4()))
    state.authorize(request, address, WRITE)
    await read_small_body(request, 0)
    usecase = state.config.usecase(address.usecase)
    policy = fields.expiration if fields.expiration_given else usecase.expiration
    usecase.check_policy(policy)
    attributes = to_attributes(fields, state.write_created())
    compress = usecase.compression if fields.content_encoding is None else None
    options = PutOptions(attributes=attributes, compression=compress, expiration=policy)
    key = storage_key(address)
    try:
        upload = await anyio.to_thread.run_sync(lambda: state.store.backend.put_multipart(key, options))
    except SatchelError as err:
        raise api_error(err) from None
    upload_id = uuid.uuid4().hex
    uploads.multipart[upload_id] = _Multipart(address, upload)
    return json_response({"key": address.key, "upload_id": upload_id}, created)


def _find(uploads: Uploads, request: Request, address: ObjectAddress) -> _Multipart:
    upload_id = request.query_params.get("upload_id")
    if not upload_id:
        raise ApiError(400, "upload_id is required")
    upload = uploads.multipart.get(upload_id)
    if upload is None or upload.address != address:
        raise ApiError(404, "no such multipart upload")
    upload.touched = time.monotonic()
    return upload


async def _put_part(state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress) -> Response:
    state.authorize(request, address, WRITE)
    upload = _find(uploads, request, address)
    number_text = request.query_params.get("part_number", "")
    if not number_text.isdigit() or not 1 <= int(number_text) <= 10_000:
        raise ApiError(400, "part_number must be a number from 1 to 10000")
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ApiError(400, "a part needs a Content-Length")
    if int(length) > MAX_PART_SIZE:
        raise ApiError(413, f"a part may hold at most {MAX_PART_SIZE} bytes")
    data = await read_small_body(request, MAX_PART_SIZE)
    digest = request.headers.get("content-md5")
    if digest is not None:
        try:
            expected = base64.b64decode(digest, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(400, "Content-MD5 is not base64") from None
        if hashlib.md5(data, usedforsecurity=False).digest() != expected:
            raise ApiError(400, "the part does not match its Content-MD5")
    number = int(number_text)
    try:
        part = await anyio.to_thread.run_sync(upload.upload.put_part, number, data)
    except SatchelError as err:
        raise api_error(err) from None
    upload.parts[number] = (part, state.clock())
    return json_response({"etag": part.etag})


def _list_parts(state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress) -> Response:
    state.authorize(request, address, WRITE)
    upload = _find(uploads, request, address)
    params = request.query_params
    marker_text = params.get("part_number_marker", "0") or "0"
    max_text = params.get("max_parts", "1000") or "1000"
    if not marker_text.isdigit() or not max_text.isdigit() or int(max_text) < 1:
        raise ApiError(400, "part_number_marker and max_parts must be numbers")
    marker, most = int(marker_text), min(int(max_text), 1000)
    numbers = sorted(n for n in upload.parts if n > marker)
    page, rest = numbers[:most], numbers[most:]
    listed = [
        {
            "part_number": n,
            "etag": upload.parts[n][0].etag,
            "last_modified": format_timestamp(upload.parts[n][1]),
            "size": upload.parts[n][0].size,
        }
        for n in page
    ]
    return json_response(
        {"parts": listed, "is_truncated": bool(rest), "next_part_number_marker": page[-1] if rest else None}
    )


async def _complete(state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress) -> Response:
    state.authorize(request, address, WRITE)
    upload = _find(uploads, request, address)
    body = await read_small_body(request, 4 << 20)
    try:
        listed = [(int(p["part_number"]), str(p["etag"])) for p in json.loads(body)["parts"]]
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, 'expected {"parts": [{"part_number": n, "etag": "..."}, ...]}') from None

    def failure(code: str, message: str) -> Response:
        return json_response({"error": {"code": code, "message": message}})

    if not listed:
        return failure("InvalidRequest", "a multipart upload needs at least one part")
    parts = []
    for number, etag in listed:
        known = upload.parts.get(number)
        if known is None or known[0].etag != etag:
            return failure("InvalidPart", f"part {number} was not uploaded with that etag")
        parts.append(known[0])
    if [p.number for p in parts] != sorted({p.number for p in parts}):
        return failure("InvalidPartOrder", "parts must be listed once each, in increasing order")
    upload_id = request.query_params["upload_id"]
    # The answer is always 200: a space every second keeps the connection alive while a large object is
    # assembled, and the JSON at the end says how it went (a.7).
    return StreamingResponse(
        _keepalive(lambda: _finish(uploads, upload_id, upload, parts)), media_type="application/json"
    )


def _finish(uploads: Uploads, upload_id: str, upload: _Multipart, parts: list[Part]) -> bytes:
    try:
        result = upload.upload.complete(parts)
    except SatchelError as err:
        message = str(err.args[0]) if err.args else type(err).__name__
        return json.dumps({"error": {"code": type(err).__name__, "message": message}}).encode()
    uploads.multipart.pop(upload_id, None)
    answer = {"key": upload.address.key}
    if result.etag is not None:
        answer["etag"] = result.etag
    return json.dumps(answer).encode()


async def _keepalive(work: Callable[[], bytes]) -> AsyncIterator[bytes]:
    result: list[bytes] = []

    async def run() -> None:
        result.append(await anyio.to_thread.run_sync(work))

    async with anyio.create_task_group() as group:
        group.start_soon(run)
        while not result:
            with anyio.move_on_after(1.0):
                while not result:
                    await anyio.sleep(0.01)
            if not result:
                yield b" "
    yield result[0]


async def _abort(state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress) -> Response:
    state.authorize(request, address, WRITE)
    upload = _find(uploads, request, address)
    uploads.multipart.pop(request.query_params["upload_id"], None)
    try:
        await anyio.to_thread.run_sync(upload.upload.abort)
    except SatchelError as err:
        raise api_error(err) from None
    return Response(status_code=204)


# --- resumable -------------------------------------------------------------------------------------------


async def resumable_route(
    state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress
) -> Response | None:
    """Handle a request of the resumable protocol, or return None when the request is not one.

    Raises:
        ApiError: both ``upload_type`` and ``session`` (400), an unknown session (404), an offset mismatch
            (409), a chunk past ``Upload-Length`` (400).
    """
    params = request.query_params
    upload_type, token = params.get("upload_type"), params.get("session")
    if upload_type is None and token is None:
        return None
    if upload_type is not None and token is not None:
        raise ApiError(400, "upload_type and session cannot be combined")
    if upload_type is not None:
        if upload_type != "resumable":
            raise ApiError(400, f"unknown upload_type {upload_type!r}")
        if request.method not in ("POST", "PUT"):
            raise ApiError(405, "a resumable upload is created with POST or PUT")
        return await _create_session(state, uploads, request, address)
    assert token is not None
    if address.key is None:
        raise ApiError(400, "this request needs an object key")
    if request.method == "PUT":
        return await _put_chunk(state, uploads, request, address, token)
    if request.method == "DELETE":
        state.authorize(request, address, WRITE)
        session = _session(uploads, token, address)
        uploads.resumable.pop(token, None)
        await anyio.to_thread.run_sync(_unlink, session.path)
        return Response(status_code=204)
    raise ApiError(405, f"{request.method} is not allowed with a session")


async def _create_session(state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress) -> Response:
    fields = fields_from_headers(request.headers)
    if address.key is None:
        address = address._replace(key=str(uuid.uuid4()))
    state.authorize(request, address, WRITE)
    await read_small_body(request, 0)
    length_text = request.headers.get("upload-length", "")
    if not length_text.isdigit():
        raise ApiError(400, "Upload-Length must be a number of bytes")
    length = int(length_text)
    usecase = state.config.usecase(address.usecase)
    usecase.check_policy(fields.expiration if fields.expiration_given else usecase.expiration)
    if usecase.max_object_size is not None and length > usecase.max_object_size:
        raise ApiError(413, f"the object is larger than this usecase allows ({usecase.max_object_size} bytes)")
    storage_key(address)  # refuse an unstorable key now, not after the upload
    token = secrets.token_urlsafe(32)
    path = os.path.join(uploads.spool_dir, f"resumable-{uuid.uuid4().hex}")
    await anyio.to_thread.run_sync(lambda: os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)))
    uploads.resumable[token] = _Resumable(address, fields, length, path)
    return json_response({"key": address.key, "session": token})


def _session(uploads: Uploads, token: str, address: ObjectAddress) -> _Resumable:
    session = uploads.resumable.get(token)
    if session is None or session.address != address:
        raise ApiError(404, "no such upload session (it may have expired)")
    session.touched = time.monotonic()
    return session


async def _put_chunk(
    state: ServerState, uploads: Uploads, request: Request, address: ObjectAddress, token: str
) -> Response:
    state.authorize(request, address, WRITE)
    session = _session(uploads, token, address)
    offset_text = request.headers.get("upload-offset", "")
    async with session.lock:
        if session.committed:
            await read_small_body(request, None)
            return json_response({"key": address.key}, 201)
        if offset_text.strip() == "*":
            await read_small_body(request, 0)
            return _progress(session)
        if not offset_text.isdigit():
            raise ApiError(400, "Upload-Offset must be a number or *")
        if int(offset_text) != session.offset:
            await read_small_body(request, None)
            raise ApiError(
                409, "the offset does not match the server's", headers={"upload-offset": str(session.offset)}
            )
        try:
            async with RequestReader(request, session.length - session.offset) as reader:
                await anyio.to_thread.run_sync(_append, session, reader)
        except ApiError as err:
            if err.status == 413:
                raise ApiError(400, "the chunk runs past Upload-Length") from None
            raise
        if session.offset < session.length:
            return _progress(session)
        await _commit(state, session)
        uploads.resumable.pop(token, None)
        return json_response({"key": address.key}, 201)


def _progress(session: _Resumable) -> Response:
    return Response(status_code=204, headers={"upload-offset": str(session.offset)})


def _append(session: _Resumable, reader: RequestReader) -> None:
    # Whatever arrived is kept even if the client goes away: the next request resumes from there.
    with open(session.path, "ab") as spool:
        try:
            while chunk := reader.read(_COPY_SIZE):
                spool.write(chunk)
                session.offset += len(chunk)
        finally:
            spool.flush()


async def _commit(state: ServerState, session: _Resumable) -> None:
    usecase = state.config.usecase(session.address.usecase)
    fields = session.fields
    policy = fields.expiration if fields.expiration_given else usecase.expiration
    attributes = to_attributes(fields, state.write_created())
    compress = usecase.compression if fields.content_encoding is None else None
    key = storage_key(session.address)

    def put() -> None:
        with open(session.path, "rb") as spool:
            state.store.put(
                key,
                spool,
                content_type=attributes.content_type,
                content_encoding=attributes.content_encoding,
                metadata=attributes.metadata,
                expires=policy,
                compress=compress,
            )
        _unlink(session.path)

    try:
        await anyio.to_thread.run_sync(put)
    except SatchelError as err:
        raise api_error(err) from None
    session.committed = True


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
