"""The satchel+http backend against a real ``satchel serve``: the whole conformance suite, then what only it has.

One server over ``memory://`` serves the conformance suite twice: through ``satchel.open`` (the full layer stack,
with a URL prefix) and as the bare backend. A second server enforces auth with an Ed25519 key: it checks the
backend's own signed tokens, static tokens, missing and foreign credentials, and the server's signed URLs,
fetched with plain urllib.
"""

from __future__ import annotations

import functools
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import zstandard
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from objectstore_client import Client, Usecase

import satchel
import servers
from satchel.backend import find_layer, innermost
from satchel.backends.http import HttpBackend, HttpConfig
from satchel.backends.http._wire import meta_from_headers
from satchel.errors import (
    ConfigError,
    InvalidPath,
    NotFound,
    NotSupported,
    PermissionDenied,
    SatchelError,
    TransientError,
    Unauthenticated,
)
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.prefix import PrefixLayer
from satchel.secret import Secret
from satchel.store import Store
from satchel.testing import ConformanceTests
from satchel.types import TTI, TTL

KID = "satchel-test"


@pytest.fixture(scope="module")
def server() -> Iterator[servers.Server]:
    """A satchel server over memory, auth off, for this module."""
    try:
        started = servers.start_satchel(store="memory://")
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield started
    servers.stop(started)


def _url(server: servers.Server, usecase: str, scopes: str = "_", rest: str = "") -> str:
    return f"satchel+{server.endpoint}/{usecase}/{scopes}{rest}"


class ServerDifferences:
    """Where a satchel server differs from the suite's expectations, for both conformance classes."""

    def test_expires_needs_the_layer(self, store: Store, prefix: str) -> None:
        # Replaces the suite's test: the server enforces expiry natively, so there is no layer to need.
        store.put(prefix + "k", b"x", expires=TTL(60))
        meta = store.head(prefix + "k")
        assert meta.attributes.expiration == TTL(60)
        assert meta.expires_at is not None
        with pytest.raises(NotSupported):
            store.sweep(prefix)


class TestHttpConformance(ServerDifferences, ConformanceTests):
    """Every conformance test through ``satchel.open``: retry and compression layers, a URL prefix."""

    @pytest.fixture
    def store(self, server: servers.Server) -> Iterator[Store]:
        with satchel.open(_url(server, "conformance", "org=1;project=2", "/url/prefix")) as store:
            yield store


class TestHttpBareConformance(ServerDifferences, ConformanceTests):
    """Every conformance test against the backend alone (no layers)."""

    @pytest.fixture
    def store(self, server: servers.Server) -> Iterator[Store]:
        backend = HttpBackend.from_config(HttpConfig(endpoint=server.endpoint, usecase="bare"))
        with Store(backend) as store:
            yield store


@pytest.fixture
def store(server: servers.Server) -> Iterator[Store]:
    """``satchel.open`` of a fresh namespace of the open server."""
    with satchel.open(_url(server, "extras", f"run={secrets.token_hex(4)}")) as opened:
        yield opened


# --- URLs and options -----------------------------------------------------------------------------------


def test_url_parts_and_stack() -> None:
    store = satchel.open("satchel+http://127.0.0.1:9/files/org=42;project=1337/some/prefix?timeout=3&pool_size=2")
    assert find_layer(store.backend, ExpirationLayer) is None  # the server enforces expiry
    assert find_layer(store.backend, CompressionLayer) is not None
    layer = find_layer(store.backend, PrefixLayer)
    assert layer is not None
    assert layer.prefix == "some/prefix/"
    backend = innermost(store.backend)
    assert isinstance(backend, HttpBackend)
    assert backend.location == "satchel+http://127.0.0.1:9/files/org=42;project=1337"
    https = innermost(satchel.open("satchel+https://example.com/files/_").backend)
    assert isinstance(https, HttpBackend)
    assert https.location == "satchel+https://example.com/files/_"


@pytest.mark.parametrize(
    "url",
    [
        "satchel+http://127.0.0.1:9/",
        "satchel+http://127.0.0.1:9/usecase",
        "satchel+http:///usecase/_",
        "satchel+http://127.0.0.1:9/usecase/org",
        "satchel+http://127.0.0.1:9/usecase/org=a b",
        "satchel+http://127.0.0.1:9/use%2Fcase/_",
        "satchel+http://user:pw@127.0.0.1:9/usecase/_",
        "satchel+http://127.0.0.1:9/usecase/_?token=t&key_id=k&private_key=/nowhere",
        "satchel+http://127.0.0.1:9/usecase/_?key_id=k",
        "satchel+http://127.0.0.1:9/usecase/_?pool_size=0",
        "satchel+http://127.0.0.1:9/usecase/_?private_key=/x&key_id=k",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        satchel.open(url)


def test_secrets_stay_hidden(server: servers.Server) -> None:
    token = "eyJ-a-very-secret-token-value"
    config = HttpConfig(endpoint="http://127.0.0.1:9", usecase="u", token=token)  # type: ignore[arg-type]
    assert isinstance(config.token, Secret)
    assert token not in repr(config)
    store = satchel.open(_url(server, "secrets") + f"?token={token}", retries=0)
    assert token not in repr(store)
    assert token not in repr(innermost(store.backend).__dict__)
    # The open server ignores tokens; only what the client shows matters here.
    store.put("k", b"x")
    with pytest.raises(NotFound) as info:
        store.get_bytes("missing")
    assert token not in str(info.value)
    assert token not in repr(info.value)


# --- the wire -------------------------------------------------------------------------------------------


def _raw_get(server: servers.Server, path: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(server.endpoint + path, timeout=10) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()


def test_compressed_objects_travel_as_zstd_and_plain_clients_read_them(server: servers.Server) -> None:
    data = b"satchel " * 10_000
    with satchel.open(_url(server, "interop", "org=7")) as store:
        store.put("dir/compressed", data, compress="zstd", metadata={"note": "100% ✓"})
        status, headers, raw = _raw_get(server, "/v1/objects/interop/org=7/dir/compressed")
        assert status == 200
        assert headers["content-encoding"] == "zstd"
        assert headers["x-snme-note"] == "100%25 %E2%9C%93"
        assert len(raw) < len(data) // 10
        assert zstandard.ZstdDecompressor().decompress(raw) == data
        session = Client(server.endpoint).session(Usecase("interop"), org=7)
        got = session.get("dir/compressed")
        assert got is not None
        assert got.payload.read() == data
        assert got.metadata.custom == {"note": "100% ✓"}
        assert store.get_bytes("dir/compressed") == data


def test_objects_written_by_a_plain_client(server: servers.Server) -> None:
    session = Client(server.endpoint).session(Usecase("interop"), org=8)
    session.put(b"from objectstore-client", key="plain/a b", content_type="text/plain", metadata={"x": "ü"})
    with satchel.open(_url(server, "interop", "org=8")) as store:
        meta = store.head("plain/a b")
        assert (meta.content_type, dict(meta.metadata)) == ("text/plain", {"x": "ü"})
        assert store.get_bytes("plain/a b") == b"from objectstore-client"
        assert [m.key for m in store.list("plain/")] == ["plain/a b"]


def test_content_encoding_travels_as_reserved_metadata(store: Store) -> None:
    store.put("k", b"body", content_encoding="gzip", metadata={"a": "1"})
    meta = store.head("k")
    assert meta.attributes.content_encoding == "gzip"
    assert dict(meta.metadata) == {"a": "1"}
    with pytest.raises(ConfigError):
        store.put("k", b"x", metadata={"satchel-content-encoding": "br"})
    with pytest.raises(ConfigError):
        store.put("k", b"x", metadata={"not a token": "v"})


def test_no_disposition_reads_as_none(store: Store) -> None:
    store.put("plain", b"x")
    assert store.head("plain").attributes.content_disposition is None  # the server answers a bare "attachment"


def test_extension_attributes_round_trip(store: Store) -> None:
    store.put(
        "k",
        b"x",
        content_type="application/octet-stream",
        content_disposition="attachment",
        content_language="fr-CA, de",
        cache_control="no-store",
    )
    attributes = store.head("k").attributes
    assert attributes.content_type == "application/octet-stream"
    assert (attributes.content_disposition, attributes.content_language) == ("attachment", "fr-CA, de")
    assert attributes.cache_control == "no-store"
    store.put("unicode", b"x", content_disposition="attachment; filename*=UTF-8''r%C3%A9port.txt ✓")
    assert store.head("unicode").attributes.content_disposition == "attachment; filename*=UTF-8''r%C3%A9port.txt ✓"


def test_completed_upload_returns_its_etag(store: Store) -> None:
    upload = store.put_multipart("mp")
    result = upload.complete([upload.put_part(1, b"data")])
    assert result.etag is not None
    assert result.etag == store.head("mp").etag


def test_native_time_to_live(store: Store) -> None:
    before = datetime.now(UTC)
    store.put("ttl", b"short-lived", expires=TTL(1))
    store.put("forever", b"stays")
    meta = store.head("ttl")
    assert meta.attributes.expiration == TTL(1)
    assert meta.expires_at is not None
    assert before < meta.expires_at < before + timedelta(seconds=5)
    assert store.get_bytes("ttl") == b"short-lived"
    time.sleep(1.3)
    with pytest.raises(NotFound):
        store.get_bytes("ttl")
    assert [m.key for m in store.list()] == ["forever"]


def test_native_time_to_idle(store: Store) -> None:
    store.put("idle", b"x", expires=TTI(2))
    first = store.head("idle").expires_at
    time.sleep(1.0)
    assert store.get_bytes("idle") == b"x"  # an access: the server moves the deadline
    time.sleep(1.3)  # past the first deadline
    second = store.head("idle").expires_at
    assert first is not None
    assert second is not None
    assert second > first
    assert store.get_bytes("idle") == b"x"


def test_sub_second_policy_travels(store: Store) -> None:
    store.put("brief", b"x", expires=TTL(timedelta(milliseconds=1500)))
    policy = store.head("brief").attributes.expiration
    assert isinstance(policy, TTL)
    assert timedelta(seconds=1) <= policy.delta < timedelta(seconds=2)


def test_part_larger_than_the_server_takes_is_refused_before_io(store: Store) -> None:
    upload = store.put_multipart("big")
    with pytest.raises(ConfigError, match="64 MiB"):
        upload.put_part(1, memoryview(bytes((64 << 20) + 1)))
    upload.abort()
    assert not store.exists("big")


def test_key_too_long_for_the_server(store: Store) -> None:
    key = "/".join(["x" * 200] * 5)  # a valid satchel key; with the server's namespace prefix it is too long
    with pytest.raises(InvalidPath) as info:
        store.put(key, b"x")
    assert info.value.backend == "http"


def test_unreachable_server_is_transient() -> None:
    port = servers.free_port()
    store = satchel.open(f"satchel+http://127.0.0.1:{port}/u/_?connect_timeout=1&token=hush-hush-token", retries=0)
    with pytest.raises(TransientError) as info:
        store.get_bytes("k")
    assert info.value.retryable
    assert info.value.key == "k"
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "hush-hush-token" not in str(info.value)


# --- auth and signed URLs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthServer:
    """A server enforcing auth with one Ed25519 key, and that key's private PEM file."""

    server: servers.Server
    key: Ed25519PrivateKey
    private_pem: Path

    def token(self, usecase: str, **claims: Any) -> str:
        payload = {
            "res": {"os:usecase": usecase},
            "permissions": ["object.read", "object.write", "object.delete"],
            "exp": int(time.time()) + 60,
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="EdDSA", headers={"kid": KID})

    def open(self, usecase: str = "secure", **options: Any) -> Store:
        return satchel.open(_url(self.server, usecase), retries=0, **options)


@pytest.fixture(scope="module")
def auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A second server with ``--auth-key`` and ``--enforce-auth``."""
    key = Ed25519PrivateKey.generate()
    folder = tmp_path_factory.mktemp("keys")
    public, private = folder / "public.pem", folder / "private.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    try:
        started = servers.start_satchel("--auth-key", f"{KID}={public}", "--enforce-auth", store="memory://")
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield AuthServer(started, key, private)
    servers.stop(started)


def test_signed_tokens_work(auth: AuthServer) -> None:
    with auth.open(key_id=KID, private_key=str(auth.private_pem)) as store:
        store.put("dir/k", b"signed", content_type="text/plain")
        assert store.get_bytes("dir/k") == b"signed"
        assert [m.key for m in store.list("dir/")] == ["dir/k"]
        upload = store.put_multipart("mp")
        upload.complete([upload.put_part(1, b"parts")])
        assert store.get_bytes("mp") == b"parts"
        store.delete_many(["dir/k", "mp"])
        assert list(store.list()) == []


def test_static_token_works(auth: AuthServer) -> None:
    with auth.open(token=auth.token("secure")) as store:
        store.put("static", b"ok")
        assert store.get_bytes("static") == b"ok"
        store.delete("static")


def test_missing_and_wrong_credentials(auth: AuthServer) -> None:
    bogus = auth.token("secure").rsplit(".", 1)[0] + ".AAAA"
    for options in ({}, {"token": bogus}):
        store = auth.open(**options)
        calls = (functools.partial(store.get_bytes, "some/key"), functools.partial(store.put, "some/key", b"x"))
        for call in calls:
            with pytest.raises(Unauthenticated) as info:
                call()
            error = info.value
            assert error.backend == "http"
            assert error.key == "some/key"
            assert not error.retryable
            assert bogus not in str(error)
            assert bogus not in repr(error)


def test_token_for_another_usecase(auth: AuthServer) -> None:
    store = auth.open(token=auth.token("elsewhere"))
    with pytest.raises(PermissionDenied) as info:
        store.put("k", b"x")
    assert isinstance(info.value, PermissionError)
    scoped = auth.open(token=auth.token("secure", res={"os:usecase": "secure", "org": "1"}), usecase="secure")
    scoped.put("k", b"allowed: the token's extra scopes are not checked")
    scoped.delete("k")


def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_signed_urls(auth: AuthServer) -> None:
    with auth.open(key_id=KID, private_key=str(auth.private_pem)) as store:
        store.put("signed/get", b"fetched with no credentials")
        url = store.sign("signed/get", "GET", expires_in=60)
        assert url.startswith(auth.server.endpoint + "/v1/objects/secure/_/signed/get?")
        assert _fetch(url) == (200, b"fetched with no credentials")
        put_url = store.sign("signed/put", "PUT", expires_in=60.5)
        assert _fetch(put_url, "PUT", b"uploaded")[0] == 200
        assert store.get_bytes("signed/put") == b"uploaded"
        assert _fetch(url.replace("signed/get", "signed/put"))[0] == 401
        signature = url.rsplit("os_sig=", 1)[1]
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        assert _fetch(url.replace(signature, flipped))[0] == 401
        assert _fetch(put_url, "GET")[0] in (401, 403)
        store.delete_many(["signed/get", "signed/put"])


def test_satchel_error_carries_the_key(store: Store) -> None:
    with pytest.raises(SatchelError) as info:
        store.get_range("no/such", 0, 1)
    assert isinstance(info.value, NotFound)
    assert info.value.key == "no/such"
    assert info.value.backend == "http"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # satchel's server: the exact time, or only the creation time when the two are equal.
        (
            {"x-sn-time-created": "2026-07-24T09:00:00.250000Z", "x-satchel-last-modified": "2026-07-25T10:00:00.5Z"},
            datetime(2026, 7, 25, 10, 0, 0, 500000, tzinfo=UTC),
        ),
        (
            {"x-sn-time-created": "2026-07-24T09:00:00.250000Z", "last-modified": "Fri, 24 Jul 2026 09:00:00 GMT"},
            datetime(2026, 7, 24, 9, 0, 0, 250000, tzinfo=UTC),
        ),
        # Another server, whose object changed after it was created: its whole-second date.
        (
            {"x-sn-time-created": "2026-07-24T09:00:00.250000Z", "last-modified": "Sat, 25 Jul 2026 10:00:00 GMT"},
            datetime(2026, 7, 25, 10, 0, 0, tzinfo=UTC),
        ),
        ({"last-modified": "Sat, 25 Jul 2026 10:00:00 GMT"}, datetime(2026, 7, 25, 10, 0, 0, tzinfo=UTC)),
        ({"x-sn-time-created": "2026-07-24T09:00:00.250000Z"}, datetime(2026, 7, 24, 9, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_last_modified_from_the_headers_a_server_sends(headers: dict[str, str], expected: datetime) -> None:
    assert meta_from_headers("k", headers, 1).last_modified == expected
