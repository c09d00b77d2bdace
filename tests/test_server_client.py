"""The real ``objectstore-client`` (0.2.10, from PyPI) against ``satchel serve`` started by the test.

Two servers run for the module: one open (auth off, on loopback) and one with ``--enforce-auth`` and an
Ed25519 key made here. Every public method of the client is used as a program would use it.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import jwt
import pytest
import urllib3
import zstandard
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from objectstore_client import Client, Usecase
from objectstore_client.auth import Permission, SecretKey
from objectstore_client.client import GetResponse, Session
from objectstore_client.errors import ExpiryExtensionRejected, ObjectNotFound, RequestError
from objectstore_client.metadata import Metadata, TimeToIdle, TimeToLive
from objectstore_client.multipart import CompletePart, MultipartCompleteError

import satchel
import servers
from satchel.server.auth import presign_query

KID = "test_kid"
ODD_KEYS = [
    "with space",
    "café-unicode",
    "emoji-😀",
    "sub!$'()*+,=delims",
    "100%literal-percent",
    "looks%20encoded",
    "nested/path/segments",
    "semi;colon",
    "equals=sign",
    "colon:separated",
    "at@sign",
    "a//double",
    "/leading",
    "trailing/",
    ".",
    "..",
]


def fetch(session: Session, key: str, *, decompress: bool = True) -> GetResponse:
    got = session.get(key, decompress=decompress)
    assert got is not None, key
    return got


def read(session: Session, key: str, *, decompress: bool = True) -> bytes:
    data: bytes = fetch(session, key, decompress=decompress).payload.read()
    return data


def head(session: Session, key: str) -> Metadata:
    meta = session.head(key)
    assert meta is not None, key
    return meta


def md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


@pytest.fixture(scope="module")
def open_server() -> Iterator[servers.Server]:
    server = servers.start_satchel()
    yield server
    servers.stop(server)


@pytest.fixture(scope="module")
def private_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    key = Ed25519PrivateKey.generate()
    folder = tmp_path_factory.mktemp("keys")
    public = folder / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return pem, public


@pytest.fixture(scope="module")
def auth_server(private_pem: tuple[str, Path]) -> Iterator[servers.Server]:
    server = servers.start_satchel("--auth-key", f"{KID}={private_pem[1]}", "--enforce-auth")
    yield server
    servers.stop(server)


@pytest.fixture
def session(open_server: servers.Server) -> Session:
    client = Client(open_server.endpoint)
    return client.session(Usecase("attachments"), org=42, project=secrets.token_hex(4))


@pytest.fixture
def raw(open_server: servers.Server) -> urllib3.HTTPConnectionPool:
    return urllib3.HTTPConnectionPool(open_server.host, open_server.port, retries=False)


def test_put_get_head_delete_with_a_server_key(session: Session) -> None:
    key = session.put(b"hello world", content_type="text/plain")
    assert len(key) == 36  # a uuid4
    got = fetch(session, key)
    assert got.payload.read() == b"hello world"
    assert got.metadata.content_type == "text/plain"
    assert got.metadata.compression is None  # decompressed by the client
    stored = head(session, key)
    assert stored.compression == "zstd"
    assert stored.content_type == "text/plain"
    session.delete(key)
    assert session.get(key) is None
    assert session.head(key) is None
    session.delete(key)  # deleting a missing object succeeds


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_client_keys_and_compression(session: Session, compress: Literal["none", "zstd"]) -> None:
    payload = secrets.token_bytes(5000) + b"a" * 20000
    key = session.put(payload, key="my/key", compress=compress)
    assert key == "my/key"
    assert read(session, key) == payload
    assert head(session, key).compression == (None if compress == "none" else "zstd")
    raw_payload = read(session, key, decompress=False)
    if compress == "zstd":
        assert zstandard.ZstdDecompressor().decompressobj().decompress(raw_payload) == payload
    else:
        assert raw_payload == payload


def test_overwrite_replaces_payload_and_metadata(session: Session) -> None:
    session.put(b"one", key="k", metadata={"a": "1"}, content_type="text/plain")
    first = head(session, "k")
    session.put(b"two", key="k", metadata={"b": "2"})
    got = fetch(session, "k")
    assert got.payload.read() == b"two"
    assert got.metadata.custom == {"b": "2"}
    assert got.metadata.content_type == "application/octet-stream"
    assert got.metadata.time_created is not None
    assert first.time_created is not None
    assert got.metadata.time_created >= first.time_created


def test_unicode_metadata_origin_and_filename(session: Session) -> None:
    metadata = {"release": "vérsion-1.0-🚀", "note": "100% done", "sn-origin": "not the origin"}
    key = session.put(b"x", metadata=metadata, origin="Ünknown-源", filename="réport-📄.pdf")
    got = fetch(session, key)
    assert got.metadata.custom == metadata
    assert got.metadata.origin == "Ünknown-源"
    assert got.metadata.filename == "réport-📄.pdf"
    assert got.metadata.size == len(read(session, key, decompress=False))


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip(session: Session, key: str) -> None:
    assert session.put(key.encode(), key=key, compress="none") == key
    assert read(session, key) == key.encode()
    assert session.head(key) is not None
    session.delete(key)
    assert session.get(key) is None


def test_odd_keys_are_distinct(session: Session) -> None:
    for key in ODD_KEYS:
        session.put(key.encode(), key=key, compress="none")
    for key in ODD_KEYS:
        assert read(session, key) == key.encode()


def test_ranges_over_plain_http(session: Session, raw: urllib3.HTTPConnectionPool) -> None:
    payload = bytes(range(256)) * 4
    session.put(payload, key="ranged", compress="none")
    url = session.object_url("ranged")
    path = urllib.parse.urlsplit(url).path
    cases = {"bytes=0-9": payload[:10], "bytes=1000-": payload[1000:], "bytes=-5": payload[-5:]}
    for header, expected in cases.items():
        response = raw.request("GET", path, headers={"Range": header})
        assert response.status == 206, header
        assert response.data == expected
        assert response.headers["content-range"].endswith(f"/{len(payload)}")
    response = raw.request("GET", path, headers={"Range": "bytes=5000-"})
    assert response.status == 416
    assert response.headers["content-range"] == f"bytes */{len(payload)}"
    response = raw.request("GET", path, headers={"Range": "bytes=0-1,5-6"})
    assert response.status == 200
    assert response.data == payload
    assert raw.request("GET", path, headers={"Range": "bytes=x"}).status == 400


def test_range_of_a_server_compressed_object(open_server: servers.Server, raw: urllib3.HTTPConnectionPool) -> None:
    # A client-compressed object is stored verbatim: ranges are over its compressed bytes.
    client = Client(open_server.endpoint)
    session = client.session(Usecase("attachments"), org=1)
    session.put(b"0123456789", key="z", compress="none")
    path = urllib.parse.urlsplit(session.object_url("z")).path
    response = raw.request("GET", path, headers={"Range": "bytes=2-4"})
    assert response.data == b"234"


def test_head_of_an_object_compressed_at_rest_gives_no_length(tmp_path: Path) -> None:
    # Its stored size is not what a client receives (decompressed), so HEAD names no length: not even 0.
    config = tmp_path / "satchel.toml"
    config.write_text('[usecases.zipped]\ncompression = "zstd"\n')
    server = servers.start_satchel("--config", str(config))
    try:
        session = Client(server.endpoint).session(Usecase("zipped"), org=1)
        data = b"compressible " * 1000
        session.put(data, key="z", compress="none")
        pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False)
        path = urllib.parse.urlsplit(session.object_url("z")).path
        head = pool.request("HEAD", path)
        assert head.status == 200
        assert "content-length" not in head.headers
        assert pool.request("GET", path).data == data
    finally:
        servers.stop(server)


def test_response_headers_are_lowercase_and_complete(session: Session, raw: urllib3.HTTPConnectionPool) -> None:
    session.put(b"abc", key="h", compress="none", filename="a/b.txt", expiration_policy=TimeToLive(timedelta(days=1)))
    path = urllib.parse.urlsplit(session.object_url("h")).path
    response = raw.request("HEAD", path)
    assert response.status == 200
    names = list(response.headers.keys())
    assert all(name == name.lower() for name in names)
    assert response.headers["content-length"] == "3"
    assert response.headers["x-sn-size"] == "3"
    assert response.headers["x-sn-expiration"] == "ttl:1d"
    assert response.headers["content-disposition"] == 'attachment; filename="a-b.txt"'
    assert response.headers["x-sn-time-expires"].endswith("Z")


def test_expiration_policies(session: Session) -> None:
    key = session.put(b"x", expiration_policy=TimeToIdle(timedelta(days=30, hours=1)))
    stored = head(session, key)
    assert stored.expiration_policy == TimeToIdle(timedelta(days=30, hours=1))
    assert stored.time_expires is not None
    assert stored.time_expires > datetime.now(UTC) + timedelta(days=30)
    key = session.put(b"x", expiration_policy=TimeToLive(timedelta(seconds=90)))
    assert head(session, key).expiration_policy == TimeToLive(timedelta(seconds=90))


def test_extend_expiry(session: Session) -> None:
    key = session.put(b"x", expiration_policy=TimeToLive(timedelta(days=1)))
    session.extend_expiry(key, from_creation=timedelta(days=3))
    stored = head(session, key)
    assert stored.expiration_policy == TimeToLive(timedelta(days=3))
    before = stored.time_expires
    session.extend_expiry(key, from_now=timedelta(hours=1))  # already sufficient: unchanged
    assert head(session, key).time_expires == before
    target = datetime.now(UTC) + timedelta(days=10, microseconds=1)
    session.extend_expiry(key, at=target)
    assert head(session, key).time_expires == target.replace(microsecond=0) + timedelta(seconds=1)
    assert read(session, key) == b"x"  # payload preserved
    manual = session.put(b"x")
    with pytest.raises(ExpiryExtensionRejected):
        session.extend_expiry(manual, from_now=timedelta(days=1))
    with pytest.raises(ObjectNotFound):
        session.extend_expiry("missing", from_now=timedelta(days=1))


def _times(raw: urllib3.HTTPConnectionPool, path: str) -> tuple[str, str]:
    """The creation and last modification times a HEAD answers; the second is left out when they are equal."""
    response = raw.request("HEAD", path)
    assert response.status == 200, path
    created = response.headers["x-sn-time-created"]
    modified = response.headers.get("x-satchel-last-modified", created)
    assert modified != created or "x-satchel-last-modified" not in response.headers
    return created, modified


def test_a_local_store_keeps_no_creation_time_and_updates_keep_it(
    open_server: servers.Server, session: Session, raw: urllib3.HTTPConnectionPool
) -> None:
    key = session.put(b"x", key="created", expiration_policy=TimeToLive(timedelta(days=1)))
    path = urllib.parse.urlsplit(session.object_url(key)).path
    created, modified = _times(raw, path)
    assert created == modified  # the file's mtime is the creation time
    stored_key = path.removeprefix("/v1/objects/").replace("=", ".").replace(";", "/").replace("/created", "")
    with satchel.open(f"file://{open_server.extra['data']}") as store:
        stored = store.head(f"{stored_key}/objects/created")
    assert "sn-created" not in stored.attributes.metadata

    session.extend_expiry(key, from_now=timedelta(days=5))  # rewrites the metadata in place
    assert _times(raw, path) == (created, modified)

    copy_path = path.replace("/v1/objects/", "/v1/objects:copy/").replace("/created", "/copied")
    assert raw.request("POST", copy_path, body=b'{"source": "created"}').status == 200
    copied_created, copied_modified = _times(raw, copy_path.replace("objects:copy", "objects"))
    assert copied_created == created  # the copy reports its source's creation, pinned in its metadata
    assert copied_modified != modified


def test_other_stores_keep_the_creation_time_across_updates() -> None:
    server = servers.start_satchel(store=f"memory://created-{secrets.token_hex(4)}")
    try:
        session = Client(server.endpoint).session(Usecase("attachments"), org=42, project=1)
        key = session.put(b"x", key="created", expiration_policy=TimeToLive(timedelta(days=1)))
        pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False)
        path = urllib.parse.urlsplit(session.object_url(key)).path
        created, modified = _times(pool, path)
        session.extend_expiry(key, from_now=timedelta(days=5))  # memory replaces the entry: a new mtime
        after_created, after_modified = _times(pool, path)
        assert after_modified != modified
        assert after_created == created
    finally:
        servers.stop(server)


def test_expired_object_is_absent_at_once(session: Session) -> None:
    key = session.put(b"short-lived", expiration_policy=TimeToLive(timedelta(seconds=1)))
    assert session.get(key) is not None
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while session.head(key) is not None:
        assert datetime.now(UTC) < deadline, "the object never expired"
    assert session.get(key) is None


def test_multipart_upload(session: Session) -> None:
    upload = session.initiate_multipart_upload(
        key="mp", compression="none", content_type="text/plain", metadata={"a": "b"}
    )
    second = upload.put_part(b"world", part_number=2, content_length=5)
    first = upload.put_part(io.BytesIO(b"hello "), part_number=1, content_length=6, content_md5=md5(b"hello "))
    listed = upload.list_parts()
    assert [(p.part_number, p.size) for p in listed] == [(1, 6), (2, 5)]
    assert session.head("mp") is None  # invisible until complete
    resumed = session.resume_multipart_upload("mp", upload.upload_id)
    assert resumed.complete([first, second]) == "mp"
    got = fetch(session, "mp")
    assert got.payload.read() == b"hello world"
    assert got.metadata.custom == {"a": "b"}
    assert got.metadata.content_type == "text/plain"


def test_multipart_with_a_bad_etag_and_abort(session: Session) -> None:
    upload = session.initiate_multipart_upload()
    part = upload.put_part(b"data", part_number=1, content_length=4)
    bogus = CompletePart(part_number=1, etag=part.etag + "x")
    with pytest.raises(MultipartCompleteError) as caught:
        upload.complete([bogus])
    assert caught.value.code
    upload.abort()
    assert session.head(upload.key) is None
    with pytest.raises(RequestError):
        upload.put_part(b"more", part_number=2, content_length=4)


def test_multipart_zstd_parts_decode_across_frames(session: Session) -> None:
    upload = session.initiate_multipart_upload(key="mpz", compression="zstd")
    compressor = zstandard.ZstdCompressor()
    frames = [compressor.compress(chunk) for chunk in (b"a" * 100, b"b" * 50)]
    parts = [upload.put_part(f, part_number=n, content_length=len(f)) for n, f in enumerate(frames, 1)]
    upload.complete(parts)
    assert read(session, "mpz") == b"a" * 100 + b"b" * 50


@pytest.mark.parametrize("compress", ["none", "zstd"])
def test_resumable_upload(open_server: servers.Server, compress: Literal["none", "zstd"]) -> None:
    client = Client(open_server.endpoint)
    session = client.session(Usecase("resumable", resumable_threshold_bytes=1024), org=7)
    payload = secrets.token_bytes(300_000)
    key = session.put(io.BytesIO(payload), key="big", compress=compress)
    assert key == "big"
    assert read(session, key) == payload
    generated = session.put(io.BytesIO(payload), compress=compress)
    assert read(session, generated) == payload


def test_resumable_protocol_details(raw: urllib3.HTTPConnectionPool) -> None:
    base = "/v1/objects/resumable/_/"
    created = raw.request("POST", base + "?upload_type=resumable", headers={"Upload-Length": "10"})
    assert created.status == 200
    body = created.json()
    path = base + urllib.parse.quote(body["key"])
    session = urllib.parse.urlencode({"session": body["session"]})
    sent = raw.request("PUT", f"{path}?{session}", body=b"01234", headers={"Upload-Offset": "0"})
    assert sent.status == 204
    assert sent.headers["upload-offset"] == "5"
    wrong = raw.request("PUT", f"{path}?{session}", body=b"xx", headers={"Upload-Offset": "3"})
    assert wrong.status == 409
    assert wrong.headers["upload-offset"] == "5"
    probe = raw.request("PUT", f"{path}?{session}", headers={"Upload-Offset": "*"})
    assert probe.status == 204
    assert probe.headers["upload-offset"] == "5"
    assert raw.request("GET", path).status == 404  # not visible before the last byte
    over = raw.request("PUT", f"{path}?{session}", body=b"0123456789", headers={"Upload-Offset": "5"})
    assert over.status == 400
    done = raw.request("PUT", f"{path}?{session}", body=b"56789", headers={"Upload-Offset": "5"})
    assert done.status == 201
    assert done.json() == {"key": body["key"]}
    assert raw.request("GET", path).data == b"0123456789"
    both = raw.request("POST", base + f"?upload_type=resumable&{session}", headers={"Upload-Length": "1"})
    assert both.status == 400
    assert raw.request("POST", base + "?upload_type=other", headers={"Upload-Length": "1"}).status == 400
    gone = raw.request("DELETE", f"{path}?{session}")
    assert gone.status == 404


def test_health_ready_and_metrics(raw: urllib3.HTTPConnectionPool, session: Session) -> None:
    assert raw.request("GET", "/health").data == b"OK"
    assert raw.request("GET", "/ready").data == b"OK"
    session.put(b"counted")
    metrics = raw.request("GET", "/metrics").data.decode()
    assert "satchel_requests_total" in metrics
    assert 'route="/v1/objects/{usecase}/{scopes}/{key}"' in metrics
    assert "satchel_bytes_received_total" in metrics


def test_errors_are_json(raw: urllib3.HTTPConnectionPool) -> None:
    response = raw.request("PUT", "/v1/objects/attachments/org=4.2/k", body=b"x")
    assert response.status == 400
    assert "detail" in response.json()
    bad_encoding = raw.request("PUT", "/v1/objects/attachments/_/k", body=b"x", headers={"Content-Encoding": "gzip"})
    assert bad_encoding.status == 400
    bad_policy = raw.request("PUT", "/v1/objects/attachments/_/k", body=b"x", headers={"x-sn-expiration": "ttl:"})
    assert bad_policy.status == 400


# --- auth ---------------------------------------------------------------------------------------------------


def _auth_session(
    server: servers.Server, pem: str, permissions: list[Permission] | None = None, **scopes: int
) -> Session:
    client = Client(server.endpoint, token=SecretKey(KID, pem, permissions=permissions))
    return client.session(Usecase("attachments"), **(scopes or {"org": 42, "project": 1337}))


def test_auth_with_the_clients_tokens(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    session = _auth_session(auth_server, private_pem[0])
    key = session.put(b"secret", metadata={"a": "b"})
    assert read(session, key) == b"secret"
    assert session.head(key) is not None
    session.delete(key)


def test_requests_without_a_token_are_refused(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    anonymous = Client(auth_server.endpoint).session(Usecase("attachments"), org=42, project=1337)
    with pytest.raises(RequestError) as caught:
        anonymous.put(b"x", key="k")
    assert caught.value.status in (400, 401)


def test_too_few_permissions_is_403(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    writer = _auth_session(auth_server, private_pem[0])
    writer.put(b"x", key="k")
    reader = _auth_session(auth_server, private_pem[0], permissions=[Permission.OBJECT_READ])
    assert read(reader, "k") == b"x"
    with pytest.raises(RequestError) as caught:
        reader.put(b"y", key="k")
    assert caught.value.status == 403
    with pytest.raises(RequestError) as caught:
        reader.delete("k")
    assert caught.value.status == 403
    assert read(writer, "k") == b"x"


def test_scope_isolation(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    pem = private_pem[0]
    mine = _auth_session(auth_server, pem, org=42, project=1)
    mine.put(b"mine", key="shared-name")
    theirs = _auth_session(auth_server, pem, org=42, project=2)
    assert theirs.get("shared-name") is None  # another scope, another namespace
    token = SecretKey(KID, pem).token_for_scope("attachments", mine._scope)  # a token for project 1 ...
    forged = Client(auth_server.endpoint, token=token).session(Usecase("attachments"), org=42, project=2)
    with pytest.raises(RequestError) as caught:
        forged.put(b"x", key="k")  # ... used on project 2
    assert caught.value.status == 403


def test_a_token_with_another_alg_is_401(auth_server: servers.Server) -> None:
    claims = {"res": {"os:usecase": "attachments", "org": "42"}, "permissions": ["object.read"], "exp": 2**31}
    token = jwt.encode(claims, "a-shared-secret-that-is-long-enough", algorithm="HS256", headers={"kid": KID})
    pool = urllib3.HTTPConnectionPool(auth_server.host, auth_server.port, retries=False)
    response = pool.request("GET", "/v1/objects/attachments/org=42/k", headers={"x-os-auth": f"Bearer {token}"})
    assert response.status == 401
    assert token not in response.data.decode()
    no_kid = jwt.encode(claims, "a-shared-secret-that-is-long-enough", algorithm="HS256")
    response = pool.request("GET", "/v1/objects/attachments/org=42/k", headers={"Authorization": f"Bearer {no_kid}"})
    assert response.status == 400


def test_object_url_with_token(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    session = _auth_session(auth_server, private_pem[0])
    session.put(b"linked", key="a/b c", compress="none")
    url = session.object_url("a/b c", token_validity=timedelta(minutes=5))
    assert "os_auth=" in url
    assert urllib3.request("GET", url, retries=False).data == b"linked"
    plain = session.object_url("a/b c")
    assert urllib3.request("GET", plain, retries=False).status in (400, 401)


def test_presigned_urls(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    session = _auth_session(auth_server, private_pem[0])
    session.put(b"presigned", key="p", compress="none")
    url = session.presigned_object_url("GET", "p", timedelta(minutes=5))
    assert urllib3.request("GET", url, retries=False).data == b"presigned"
    head_url = session.presigned_object_url("HEAD", "p", timedelta(minutes=5))
    assert urllib3.request("HEAD", head_url, retries=False).status == 200
    assert urllib3.request("GET", head_url, retries=False).status == 200  # GET and HEAD share a signature
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert urllib3.request("GET", tampered, retries=False).status == 401
    moved = url.replace("/p?", "/q?")
    assert urllib3.request("GET", moved, retries=False).status == 401
    assert urllib3.request("PUT", url, body=b"overwrite", retries=False).status in (401, 403)
    assert read(session, "p") == b"presigned"


def test_presigned_put(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    key = serialization.load_pem_private_key(private_pem[0].encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    path = "/v1/objects/attachments/org=42;project=1337/uploaded%20by%20browser"
    query = presign_query("PUT", path, KID, key, now=datetime.now(UTC), expires_in=300)
    url = f"{auth_server.endpoint}{path}?{query}"
    response = urllib3.request("PUT", url, body=b"from a browser", retries=False)
    assert response.status == 200
    session = _auth_session(auth_server, private_pem[0])
    assert read(session, "uploaded by browser") == b"from a browser"
    get_only = presign_query("GET", path, KID, key, now=datetime.now(UTC), expires_in=300)
    assert urllib3.request("PUT", f"{auth_server.endpoint}{path}?{get_only}", body=b"no", retries=False).status == 401
    expired = presign_query("PUT", path, KID, key, now=datetime.now(UTC) - timedelta(hours=1), expires_in=60)
    assert urllib3.request("PUT", f"{auth_server.endpoint}{path}?{expired}", body=b"no", retries=False).status == 401
    assert read(session, "uploaded by browser") == b"from a browser"


def test_signed_link_of_a_local_store(open_server: servers.Server, raw: urllib3.HTTPConnectionPool) -> None:
    raw.request("PUT", "/v1/objects/links/_/doc", body=b"shared")
    signed = raw.request("POST", "/v1/objects:sign/links/_/doc", body=b'{"method": "GET", "expires_in": 60}')
    assert signed.status == 200
    url = signed.json()["url"]
    assert "os_sig=" in url
    assert urllib3.request("GET", url, retries=False).data == b"shared"
    upload = raw.request("POST", "/v1/objects:sign/links/_/new", body=b'{"method": "PUT", "expires_in": 60}')
    assert urllib3.request("PUT", upload.json()["url"], body=b"via link", retries=False).status == 200
    assert raw.request("GET", "/v1/objects/links/_/new").data == b"via link"


def test_logs_carry_no_tokens_or_signatures(auth_server: servers.Server, private_pem: tuple[str, Path]) -> None:
    session = _auth_session(auth_server, private_pem[0])
    session.put(b"x", key="logged", compress="none")
    url = session.presigned_object_url("GET", "logged", timedelta(minutes=5))
    assert urllib3.request("GET", url, retries=False).status == 200
    assert urllib3.request("GET", url[:-2] + "xx", retries=False).status == 401
    token_url = session.object_url("logged", token_validity=timedelta(minutes=5))
    assert urllib3.request("GET", token_url, retries=False).status == 200
    log = (auth_server.workdir / "server.log").read_text()
    assert '"route": "/v1/objects/{usecase}/{scopes}/{key}"' in log
    signature = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["os_sig"][0]
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(token_url).query)["os_auth"][0]
    assert signature not in log
    assert token not in log
    assert "os_sig" not in log
    assert "eyJ" not in log  # no JWT of any request
