"""The S3 backend against moto's S3 server: the whole conformance suite, then what only S3 has.

Each test gets a bucket of its own: moto scans every key of a bucket to answer a listing, so one bucket shared
by the module made the listing tests several times slower. The credentials test uses a second moto server
started with authentication switched on (``INITIAL_NO_AUTH_ACTION_COUNT``), since moto accepts any credentials
otherwise. moto does not check presigned URLs in either mode (with authentication
on it fails on them with a 500), so signed URLs are fetched from the open server and their signature, method,
scope and expiry are verified by :func:`presign_problem`, an independent SigV4 check.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import http.server
import io
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit

import boto3  # type: ignore[import-untyped]
import pytest

import satchel
import servers
from satchel.backends.obstore.s3 import S3Backend, S3Config
from satchel.errors import (
    ConfigError,
    NotFound,
    NotSupported,
    PermissionDenied,
    SatchelError,
    TransientError,
    Unauthenticated,
)
from satchel.secret import Secret
from satchel.testing import ConformanceTests

CREDENTIALS: dict[str, Any] = {"access_key_id": "testing", "secret_access_key": "testing", "region": "us-east-1"}


def _client(endpoint: str, key_id: str = "testing", secret: str = "testing") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        region_name="us-east-1",
    )


def _new_bucket(endpoint: str, **credentials: str) -> str:
    bucket = f"satchel-{secrets.token_hex(6)}"
    _client(endpoint, **credentials).create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def bucket(moto_server: servers.Server) -> str:
    """A new bucket of the session's moto server, for one test."""
    return _new_bucket(moto_server.endpoint)


def _open(server: servers.Server, bucket: str, **options: Any) -> satchel.Store:
    return satchel.open(f"s3://{bucket}", endpoint_url=server.endpoint, **{**CREDENTIALS, **options})


@pytest.fixture
def store(moto_server: servers.Server, bucket: str) -> Iterator[satchel.Store]:
    """``satchel.open`` of the bucket, with the default layer stack."""
    with _open(moto_server, bucket) as store:
        yield store


class TestS3Conformance(ConformanceTests):
    """Every conformance test against moto; expiration waits for real time."""

    @pytest.fixture
    def many_keys(self) -> int:
        return 1100


# --- signed URLs and credentials: a moto server that checks signatures ------------------------------------


@dataclass(frozen=True)
class AuthServer:
    """A moto server with authentication on, a user's real key pair, and a bucket that user may use."""

    server: servers.Server
    key_id: str
    secret: str
    bucket: str


@pytest.fixture(scope="module")
def auth_moto() -> Iterator[AuthServer]:
    """moto with authentication: the first actions (making a user, a key and a bucket) are allowed unsigned."""
    previous = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT")
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "4"
    try:
        server = servers.start_moto()
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    finally:
        if previous is None:
            del os.environ["INITIAL_NO_AUTH_ACTION_COUNT"]
        else:
            os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = previous
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        iam.create_user(UserName="satchel")
        iam.put_user_policy(
            UserName="satchel",
            PolicyName="all-s3",
            PolicyDocument='{"Version": "2012-10-17", "Statement": '
            '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',
        )
        key = iam.create_access_key(UserName="satchel")["AccessKey"]
        bucket = _new_bucket(server.endpoint, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
        yield AuthServer(server, key["AccessKeyId"], key["SecretAccessKey"], bucket)
    finally:
        servers.stop(server)


def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    # An explicit type: urllib's default (a form) makes moto's web framework swallow the body.
    headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def presign_problem(url: str, method: str, secret: str, now: datetime | None = None) -> str | None:
    """Check a SigV4 presigned URL the way S3 does; return why it is refused, or None if S3 would accept it.

    moto serves presigned URLs without checking them (and its authenticating mode fails on them), so the
    signature, scope and expiry are verified here, independently of obstore, from the SigV4 specification.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = dict(query)
    if given.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        return "not a SigV4 URL"
    signed_at = datetime.strptime(given["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) > signed_at + timedelta(seconds=int(given["X-Amz-Expires"])):
        return "expired"
    encode = functools.partial(quote, safe="-_.~")
    canonical_query = "&".join(
        f"{encode(name)}={encode(value)}" for name, value in sorted(query) if name != "X-Amz-Signature"
    )
    canonical = "\n".join([method, parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"])
    scope = given["X-Amz-Credential"].split("/", 1)[1]
    day, region, service, _ = scope.split("/")
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", given["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, given["X-Amz-Signature"]) else "signature mismatch"


def test_signed_get_and_put(store: satchel.Store) -> None:
    store.put("signed/get", b"fetched with no credentials")
    url = store.sign("signed/get", "GET", expires_in=60)
    assert presign_problem(url, "GET", "testing") is None
    assert _fetch(url) == (200, b"fetched with no credentials")
    put_url = store.sign("signed/put", "PUT", expires_in=60)
    assert presign_problem(put_url, "PUT", "testing") is None
    assert _fetch(put_url, "PUT", b"uploaded")[0] == 200
    assert store.get_bytes("signed/put") == b"uploaded"
    store.delete_many(["signed/get", "signed/put"])


def test_signed_url_is_only_for_its_method(store: satchel.Store) -> None:
    url = store.sign("signed/method", "GET", expires_in=60)
    assert presign_problem(url, "PUT", "testing") == "signature mismatch"
    put_url = store.sign("signed/method", "PUT", expires_in=60)
    assert presign_problem(put_url, "GET", "testing") == "signature mismatch"


def test_expired_signed_url_refused(store: satchel.Store) -> None:
    url = store.sign("signed/expiring", "GET", expires_in=1)
    assert presign_problem(url, "GET", "testing") is None
    assert presign_problem(url, "GET", "testing", now=datetime.now(UTC) + timedelta(seconds=2)) == "expired"


def test_tampered_signed_url_refused(store: satchel.Store) -> None:
    url = store.sign("signed/a", "GET", expires_in=60)
    assert presign_problem(url.replace("signed/a", "signed/b"), "GET", "testing") == "signature mismatch"
    assert presign_problem(url.replace("X-Amz-Expires=60", "X-Amz-Expires=6000"), "GET", "testing") is not None
    signature = url.rsplit("X-Amz-Signature=", 1)[1][:64]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert presign_problem(url.replace(signature, flipped), "GET", "testing") == "signature mismatch"
    assert presign_problem(url, "GET", "not-the-secret") == "signature mismatch"


def test_wrong_credentials(auth_moto: AuthServer) -> None:
    wrong = "definitely-not-the-secret-1234"
    store = satchel.open(
        f"s3://{auth_moto.bucket}",
        endpoint_url=auth_moto.server.endpoint,
        access_key_id=auth_moto.key_id,
        secret_access_key=wrong,
        region="us-east-1",
        retries=0,
    )
    assert wrong not in repr(store)
    assert wrong not in repr(store.backend)
    for call in (lambda: store.get_bytes("some/key"), lambda: store.put("some/key", b"x")):
        with pytest.raises((Unauthenticated, PermissionDenied)) as info:
            call()
        error = info.value
        assert isinstance(error, SatchelError)
        assert error.backend == "s3"
        assert error.key == "some/key"
        assert "some/key" in str(error)
        assert wrong not in str(error)
        assert wrong not in repr(error)
        assert not error.retryable
    assert isinstance(error.__cause__, Exception)


def test_secret_hidden_in_config() -> None:
    config = S3Config(bucket="b", access_key_id="id", secret_access_key=Secret("hush-hush"))
    assert "hush-hush" not in repr(config)
    plain = S3Config(bucket="b", access_key_id="id", secret_access_key="hush-hush")  # type: ignore[arg-type]
    assert isinstance(plain.secret_access_key, Secret)
    assert "hush-hush" not in repr(plain)


# --- bad places -----------------------------------------------------------------------------------------


def test_missing_bucket_is_a_config_error(moto_server: servers.Server) -> None:
    store = _open(moto_server, "satchel-no-such-bucket", retries=0)
    for call in (
        lambda: store.get_bytes("k"),
        lambda: store.put("k", b"x"),
        lambda: list(store.list()),
    ):
        with pytest.raises(ConfigError) as info:
            call()
        assert "does not exist" in str(info.value)
        assert "satchel-no-such-bucket" in str(info.value)
        assert info.value.backend == "s3"


def test_unreachable_endpoint_is_transient() -> None:
    port = servers.free_port()
    store = satchel.open(
        "s3://bucket",
        endpoint_url=f"http://127.0.0.1:{port}",
        retries=0,
        max_retries=0,
        connect_timeout=1.0,
        timeout=5.0,
        **CREDENTIALS,
    )
    with pytest.raises(TransientError) as info:
        store.get_bytes("k")
    assert info.value.retryable
    assert info.value.key == "k"
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "testing" not in str(info.value).replace("s3://bucket", "")


def test_missing_object(store: satchel.Store) -> None:
    with pytest.raises(NotFound) as info:
        store.get_bytes("no/such/object")
    assert info.value.key == "no/such/object"
    assert info.value.backend == "s3"


# --- large objects, multipart ---------------------------------------------------------------------------


class _Pattern(io.RawIOBase):
    """``size`` bytes of a repeating pattern, generated as read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        self.left -= n
        return n


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_large_stream_goes_multipart_with_flat_memory(moto_server: servers.Server, bucket: str) -> None:
    size = 64 << 20
    store = _open(moto_server, bucket, part_size=5 << 20, max_concurrency=2, multipart_threshold=5 << 20)
    peak = base = _rss()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = store.put("large/stream", io.BufferedReader(_Pattern(size), buffer_size=1 << 20))
        with store.get("large/stream").body as body:
            total = sum(len(chunk) for chunk in body)
    finally:
        done.set()
        sampler.join()
    assert total == size
    assert result.etag is not None
    assert result.etag.strip('"').endswith("-13")  # 13 parts of 5 MiB: a native multipart upload
    assert peak - base < 40 << 20, f"client memory grew by {(peak - base) >> 20} MiB"
    store.delete("large/stream")


def test_abort_leaves_no_upload(moto_server: servers.Server) -> None:
    bucket = _new_bucket(moto_server.endpoint)
    store = _open(moto_server, bucket)
    upload = store.put_multipart("aborted")
    upload.put_part(2, b"y" * (6 << 20))
    upload.put_part(1, b"x" * (6 << 20))
    upload.abort()
    client = _client(moto_server.endpoint)
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert list(store.list()) == []


def test_completed_out_of_order_upload_is_native_multipart(moto_server: servers.Server, bucket: str) -> None:
    store = _open(moto_server, bucket)
    upload = store.put_multipart("mp/ordered")
    second = upload.put_part(2, b"b" * (9 << 20))
    first = upload.put_part(1, b"a" * (9 << 20))
    upload.complete([first, second])
    assert store.get_range("mp/ordered", (9 << 20) - 1, (9 << 20) + 1) == b"ab"
    assert store.head("mp/ordered").size == 18 << 20
    store.delete("mp/ordered")


def test_metadata_update_in_place(store: satchel.Store) -> None:
    store.put("meta/obj", b"data", content_type="text/plain", metadata={"a": "1"})
    store.backend.copy(
        satchel.path.Key.parse("meta/obj"),
        satchel.path.Key.parse("meta/obj"),
        satchel.types.CopyOptions(attributes=satchel.types.Attributes(metadata={"b": "ü"})),
    )
    meta = store.head("meta/obj")
    assert dict(meta.metadata) == {"b": "ü"}
    assert store.get_bytes("meta/obj") == b"data"
    store.delete("meta/obj")


def test_reserved_metadata_names_refused(store: satchel.Store) -> None:
    with pytest.raises(ConfigError):
        store.put("meta/reserved", b"x", metadata={"satchel-compression": "none"})


def test_from_config_refuses_half_credentials() -> None:
    with pytest.raises(ConfigError):
        S3Config(bucket="b", access_key_id="only-the-id")
    with pytest.raises(ConfigError):
        S3Backend.from_config(S3Config(bucket="b", part_size=1024))


def test_error_is_satchel_error(store: satchel.Store) -> None:
    with pytest.raises(SatchelError):
        store.get_range("no/such", 0, 1)


def test_large_conditional_write_is_refused_not_buffered(store: satchel.Store) -> None:
    # Preconditions travel on single PUTs only, which obstore holds in memory: past 64 MiB satchel refuses
    # instead of buffering the whole object.
    key = "conditional/big"
    with pytest.raises(NotSupported, match="64 MiB") as caught:
        store.put(key, _Pattern((64 << 20) + 1), mode="create")
    assert caught.value.backend == "s3"
    assert not store.exists(key)
    store.put(key, _Pattern(9 << 20), mode="create")  # above the multipart threshold, within the limit
    assert store.head(key).size == 9 << 20


# --- upload checksums -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "recorded"),
    [({}, "ChecksumSHA256"), ({"checksum": "crc64nvme"}, "ChecksumCRC64NVME"), ({"checksum": "none"}, None)],
)
def test_multipart_upload_carries_the_chosen_checksum(
    moto_server: servers.Server, bucket: str, option: dict[str, str], recorded: str | None
) -> None:
    # moto records the checksum of a multipart upload whose parts carried one, and answers it on request.
    store = _open(moto_server, bucket, **option)
    store.put("sum/large", os.urandom(20 << 20))
    head = _client(moto_server.endpoint).head_object(Bucket=bucket, Key="sum/large", ChecksumMode="ENABLED")
    checksums = sorted(name for name in head if name.startswith("Checksum") and name != "ChecksumType")
    assert checksums == ([] if recorded is None else [recorded])


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every PUT as S3 does, keeping the request headers: what obstore puts on the wire."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        type(self).seen.append({name.lower(): value for name, value in self.headers.items()})
        self.send_response(200)
        self.send_header("ETag", '"0123456789abcdef"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("checksum", ["sha256", "none"])
def test_single_put_carries_a_sha256_of_its_bytes(checksum: str) -> None:
    server = http.server.ThreadingHTTPServer((servers.HOST, 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _Recorder.seen = []
        endpoint = f"http://{servers.HOST}:{server.server_address[1]}"
        store = satchel.Store(
            S3Backend.from_config(
                S3Config("any-bucket", endpoint, "us-east-1", "testing", Secret("testing"), checksum=checksum)
            )
        )
        data = os.urandom(1000)
        store.put("sum/small", data)
    finally:
        server.shutdown()
        server.server_close()
    (headers,) = _Recorder.seen
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode() if checksum == "sha256" else None
    assert headers.get("x-amz-checksum-sha256") == expected


def test_unknown_checksum_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="checksum"):
        S3Config(bucket="b", checksum="md5")
    assert S3Config(bucket="b", checksum="SHA256").checksum == "sha256"
