"""satchel.kv, the Descartes Labs-style ``Storage``, tested from its reference document.

Every documented method, default and error runs over memory, a local folder and S3 on moto (the ``door_url``
fixture). Signed URLs are fetched with urllib3 and no credentials from S3 and from a ``satchel serve`` over a
local folder opened as ``satchel+http``; auth tokens go to a second server that enforces auth.
"""

from __future__ import annotations

import functools
import io
import os
import secrets
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import urllib3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from urllib3.util.retry import Retry

import satchel
import servers
from satchel import kv
from satchel.backend import find_layer
from satchel.errors import ConfigError, InvalidPath, NotFound, NotSupported, Unauthenticated
from satchel.kv import NotFoundError, Storage
from satchel.layers.retry import RetryLayer

KID = "kv-test"
METHODS_WITH_KEY = ("delete", "exists", "get", "get_signed_url", "get_upload_url")


@pytest.fixture
def storage(door_url: str) -> Iterator[Storage]:
    """A Storage over a fresh memory, local or S3 store."""
    with Storage(door_url) as opened:
        yield opened


@pytest.fixture(scope="module")
def served_folder() -> Iterator[servers.Server]:
    """``satchel serve`` over a local folder, auth off: the signer for local folders."""
    try:
        started = servers.start_satchel()
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield started
    servers.stop(started)


@pytest.fixture
def http_storage(served_folder: servers.Server) -> Iterator[Storage]:
    """A Storage over the served local folder, in a fresh scope so tests do not see each other's keys."""
    with Storage(f"satchel+{served_folder.endpoint}/kv/run={secrets.token_hex(4)}") as opened:
        yield opened


def _fetch(method: str, url: str, body: bytes | None = None) -> urllib3.BaseHTTPResponse:
    # No credentials of any kind: what a browser or a colleague holding the link would do.
    return urllib3.PoolManager(retries=False).request(method, url, body=body)


# --- construction ----------------------------------------------------------------------------------------


def test_timeout_constant() -> None:
    assert Storage.TIMEOUT == (9.5, 120)
    assert Storage("memory://").TIMEOUT == (9.5, 120)


def test_default_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    name = f"memory://kv-default-{secrets.token_hex(4)}"
    monkeypatch.setenv("SATCHEL_KV_URL", name)
    assert kv.default_url() == name
    Storage().set("k", "shared")
    assert Storage().get("k") == "shared"  # a named memory store is shared within the process
    assert Storage().url == name


def test_default_url_is_a_local_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SATCHEL_KV_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with Storage() as storage:
        storage.set("k", "on disk")
    assert (tmp_path / "xdg" / "satchel" / "kv" / "data" / "k").read_bytes() == b"on disk"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kv.default_url() == str(tmp_path / "home" / ".local" / "share" / "satchel" / "kv")


def test_url_query_prefix_is_kept(tmp_path: Path) -> None:
    with Storage(f"file://{tmp_path}?prefix=app/&fsync=false") as storage:
        storage.set("k", "v", storage_type="result")
    assert (tmp_path / "app" / "result" / "k").read_bytes() == b"v"
    with pytest.raises(ConfigError):
        Storage(f"file://{tmp_path}?prefix=app")


def test_bad_url_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        Storage("nosuchscheme://x")
    with pytest.raises(ConfigError):
        Storage("memory://?no_such_option=1")


@pytest.mark.parametrize(
    ("retries", "attempts"),
    [(None, 4), (2, 3), (Retry(total=5), 6), (Retry(total=1), 2), (Retry(total=None, connect=2), 4)],
)
def test_retries_map_to_the_retry_layer(retries: Any, attempts: int) -> None:
    for storage_type in kv.STORAGE_TYPES:
        layer = find_layer(Storage("memory://", retries=retries).store(storage_type).backend, RetryLayer)
        assert layer is not None
        assert layer.attempts == attempts


@pytest.mark.parametrize("retries", [0, False, Retry(total=0), Retry(total=False)])
def test_no_retries(retries: Any) -> None:
    assert find_layer(Storage("memory://", retries=retries).store().backend, RetryLayer) is None


def test_bad_retries_and_auth_types() -> None:
    with pytest.raises(TypeError):
        Storage("memory://", retries="three")
    with pytest.raises(TypeError):
        Storage("memory://", auth=object())


def test_auth_on_a_store_without_tokens_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Storage("memory://", auth="a-token")


def test_close_and_context_manager(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    with storage as same:
        assert same is storage
        storage.set("k", "v")
    assert storage.get("k") == "v"  # a closed local folder reopens its files per call
    assert "Storage(" in repr(storage)


# --- set / get / exists / delete -------------------------------------------------------------------------


def test_set_then_get_returns_the_string(storage: Storage) -> None:
    storage.set("greeting", "héllo wörld ✓")
    value = storage.get("greeting")
    assert isinstance(value, str)
    assert value == "héllo wörld ✓"
    storage.set("greeting", "replaced")
    assert storage.get("greeting") == "replaced"
    storage.set("empty", "")
    assert storage.get("empty") == ""


def test_set_accepts_bytes_and_file_likes(storage: Storage) -> None:
    storage.set("bytes", b"raw bytes")
    assert storage.get("bytes") == "raw bytes"
    storage.set("binary-stream", io.BytesIO(b"from a binary stream"))
    assert storage.get("binary-stream") == "from a binary stream"
    storage.set("text-stream", io.StringIO("from a text stream é"))
    assert storage.get("text-stream") == "from a text stream é"


def test_get_of_binary_data_round_trips(storage: Storage) -> None:
    data = bytes(range(256)) * 4
    storage.set("blob", io.BytesIO(data))
    value = storage.get("blob")
    assert isinstance(value, str)
    assert value.encode("utf-8", "surrogateescape") == data


def test_get_missing_raises_not_found_error(storage: Storage) -> None:
    with pytest.raises(NotFoundError) as info:
        storage.get("missing/key")
    assert info.value.key == "missing/key"
    assert isinstance(info.value, NotFound)
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value.__cause__, NotFound)
    with pytest.raises(satchel.NotFound):
        storage.get("missing/key")


def test_exists(storage: Storage) -> None:
    assert storage.exists("k") is False
    storage.set("k", "v")
    assert storage.exists("k") is True
    assert storage.exists("k", storage_type="tmp") is False
    assert storage.exists("k", "result") is False


def test_delete(storage: Storage) -> None:
    storage.set("k", "v")
    storage.set("kk", "other")
    storage.delete("k")
    assert storage.exists("k") is False
    assert storage.get("kk") == "other"
    with pytest.raises(NotFoundError) as info:
        storage.delete("k")
    assert info.value.key == "k"
    with pytest.raises(NotFoundError):
        storage.delete("kk", storage_type="tmp")
    assert storage.get("kk") == "other"


def test_storage_types_are_separate_namespaces(storage: Storage) -> None:
    for storage_type in kv.STORAGE_TYPES:
        storage.set("same", f"value in {storage_type}", storage_type=storage_type)
    for storage_type in kv.STORAGE_TYPES:
        assert storage.get("same", storage_type) == f"value in {storage_type}"
        assert storage.list(storage_type=storage_type) == ["same"]
    storage.delete("same", storage_type="result")
    assert storage.exists("same", "result") is False
    assert storage.get("same") == "value in data"
    assert storage.get("same", "tmp") == "value in tmp"


def test_default_storage_type_is_data(storage: Storage) -> None:
    storage.set("k", "v")
    assert storage.get("k", storage_type="data") == "v"
    storage.set("t", "v", storage_type="data")
    assert storage.get("t") == "v"


def test_unknown_storage_type(storage: Storage) -> None:
    calls: list[Callable[[], object]] = [
        lambda: storage.set("k", "v", storage_type="nope"),
        lambda: storage.set_file("k", io.BytesIO(b""), storage_type="nope"),
        lambda: storage.get_file("k", io.BytesIO(), storage_type="nope"),
        lambda: storage.list(storage_type="nope"),
        lambda: next(storage.iter_list(storage_type="nope")),
        *(functools.partial(getattr(storage, name), "k", storage_type="nope") for name in METHODS_WITH_KEY),
    ]
    for call in calls:
        with pytest.raises(ConfigError, match="storage_type"):
            call()


def test_invalid_keys_are_value_errors(storage: Storage) -> None:
    for key in ("../escape", "a//b", "/abs", ""):
        with pytest.raises(InvalidPath):
            storage.set(key, "v")
        with pytest.raises(ValueError):
            storage.get(key)


# --- list / iter_list ------------------------------------------------------------------------------------


def test_list_with_and_without_prefix(storage: Storage) -> None:
    for key in ("b", "a/1", "a/2", "ab", "c/d/e"):
        storage.set(key, key)
    assert storage.list() == ["a/1", "a/2", "ab", "b", "c/d/e"]
    assert storage.list(None) == storage.list("")
    assert storage.list("a") == ["a/1", "a/2", "ab"]  # a plain string prefix
    assert storage.list(prefix="a/") == ["a/1", "a/2"]
    assert storage.list("c/d/") == ["c/d/e"]
    assert storage.list("zzz") == []
    assert storage.list(storage_type="tmp") == []
    assert list(storage.iter_list("a/")) == ["a/1", "a/2"]
    assert list(storage.iter_list(prefix="c", storage_type="data")) == ["c/d/e"]


def test_iter_list_is_a_generator(storage: Storage) -> None:
    storage.set("only", "v")
    keys = storage.iter_list()
    assert isinstance(keys, types.GeneratorType)
    assert next(keys) == "only"
    with pytest.raises(StopIteration):
        next(keys)


def test_list_stops_at_1000_and_iter_list_goes_on(storage: Storage) -> None:
    keys = [f"many/{n:05d}" for n in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: storage.set(key, ""), keys))
    storage.set("other", "")
    listed = storage.list("many/")
    assert len(listed) == kv.LIST_LIMIT == 1000
    assert listed == keys[:1000]
    assert list(storage.iter_list("many/")) == keys
    assert len(storage.list()) == 1000
    assert len(list(storage.iter_list())) == 1006


# --- files -----------------------------------------------------------------------------------------------


def test_set_file_and_get_file_by_name(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(300_000)
    source.write_bytes(data)
    storage.set_file("files/one", str(source))
    target = tmp_path / "target.bin"
    storage.get_file("files/one", str(target))
    assert target.read_bytes() == data
    storage.set_file("files/path", source, storage_type="result")  # a PathLike too
    storage.get_file("files/path", tmp_path / "path.bin", storage_type="result")
    assert (tmp_path / "path.bin").read_bytes() == data
    assert storage.list("files/") == ["files/one"]


def test_set_file_and_get_file_with_file_objects(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    storage.set_file("binary", io.BytesIO(data))
    sink = io.BytesIO()
    storage.get_file("binary", sink)
    assert sink.getvalue() == data
    storage.set_file("text", io.StringIO("text é"))
    sink = io.BytesIO()
    storage.get_file("text", sink)
    assert sink.getvalue() == "text é".encode()
    path = tmp_path / "opened"
    path.write_bytes(data)
    with path.open("rb") as source:
        storage.set_file("opened", source, "tmp")
    with (tmp_path / "out").open("wb") as sink_file:
        storage.get_file("opened", sink_file, "tmp")
    assert (tmp_path / "out").read_bytes() == data


def test_get_file_streams_in_chunks(storage: Storage) -> None:
    size = 3 * (1 << 20) + 17
    storage.set_file("big", io.BytesIO(b"x" * size))

    class Recorder:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def write(self, chunk: bytes) -> int:
            self.sizes.append(len(chunk))
            return len(chunk)

    recorder = Recorder()
    storage.get_file("big", recorder)
    assert sum(recorder.sizes) == size
    assert len(recorder.sizes) > 1
    assert max(recorder.sizes) <= 1 << 20


def test_get_file_missing(storage: Storage, tmp_path: Path) -> None:
    target = tmp_path / "never"
    with pytest.raises(NotFoundError) as info:
        storage.get_file("missing", str(target))
    assert info.value.key == "missing"
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if "never" in p.name]  # no temporary file left either
    sink = io.BytesIO()
    with pytest.raises(NotFoundError):
        storage.get_file("missing", sink)
    assert sink.getvalue() == b""


def test_set_file_missing_local_file(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        storage.set_file("k", str(tmp_path / "absent"))
    assert storage.exists("k") is False


# --- tmp expiry ------------------------------------------------------------------------------------------


def _expires_at(storage: Storage, key: str, storage_type: str) -> datetime | None:
    return storage.store(storage_type).head(key).expires_at


def test_tmp_objects_expire_after_a_day_by_default(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"file")
    before = datetime.now(UTC)
    storage.set("t", "v", storage_type="tmp")
    storage.set_file("by-name", str(source), storage_type="tmp")
    storage.set_file("by-object", io.BytesIO(b"o"), storage_type="tmp")
    after = datetime.now(UTC)
    for key in ("t", "by-name", "by-object"):
        deadline = _expires_at(storage, key, "tmp")
        assert deadline is not None
        assert before + timedelta(days=1) - timedelta(seconds=1) <= deadline <= after + timedelta(days=1, seconds=1)
    storage.set("d", "v")
    storage.set("r", "v", storage_type="result")
    assert _expires_at(storage, "d", "data") is None
    assert _expires_at(storage, "r", "result") is None


def test_tmp_ttl_is_configurable_and_expired_objects_are_gone(door_url: str) -> None:
    with Storage(door_url, tmp_ttl=1.0) as storage:
        storage.set("short", "lived", storage_type="tmp")
        storage.set("kept", "forever")
        assert storage.get("short", "tmp") == "lived"
        time.sleep(1.2)
        assert storage.exists("short", "tmp") is False
        assert storage.list(storage_type="tmp") == []
        with pytest.raises(NotFoundError):
            storage.get("short", "tmp")
        with pytest.raises(NotFoundError):
            storage.delete("short", "tmp")
        assert storage.get("kept") == "forever"
    with Storage(door_url, tmp_ttl=timedelta(hours=2)) as storage:
        storage.set("two-hours", "v", storage_type="tmp")
        deadline = _expires_at(storage, "two-hours", "tmp")
        assert deadline is not None
        assert abs(deadline - datetime.now(UTC) - timedelta(hours=2)) < timedelta(minutes=1)
    with pytest.raises(ConfigError):
        Storage(door_url, tmp_ttl=0)


# --- signed URLs -----------------------------------------------------------------------------------------


def _check_signed_urls(storage: Storage) -> None:
    storage.set("signed/get", "signed body")
    url = storage.get_signed_url("signed/get")
    assert isinstance(url, str)
    assert url != storage.get_upload_url("signed/get")  # signed for another method
    answer = _fetch("GET", url)
    assert answer.status == 200, answer.data
    assert answer.data == b"signed body"

    upload = storage.get_upload_url("signed/put")
    assert isinstance(upload, str)
    answer = _fetch("PUT", upload, b"uploaded without credentials")
    assert answer.status in (200, 201, 204), answer.data
    assert storage.get("signed/put") == "uploaded without credentials"

    # Each storage type signs its own namespace.
    storage.set("signed/get", "in result", storage_type="result")
    assert _fetch("GET", storage.get_signed_url("signed/get", storage_type="result")).data == b"in result"
    assert _fetch("GET", storage.get_signed_url("signed/get", "tmp")).status == 404
    answer = _fetch("PUT", storage.get_upload_url("up", storage_type="result", expires_in=60), b"r")
    assert answer.status in (200, 201, 204), answer.data
    assert storage.get("up", "result") == "r"
    assert storage.exists("up") is False
    assert _fetch("GET", storage.get_signed_url("signed/get", expires_in=60)).data == b"signed body"


def test_signed_urls(storage: Storage, door_url: str) -> None:
    if door_url.startswith("s3://"):
        _check_signed_urls(storage)
        return
    storage.set("k", "v")
    with pytest.raises(NotSupported):
        storage.get_signed_url("k")
    with pytest.raises(NotSupported):
        storage.get_upload_url("k", storage_type="tmp")


def test_signed_urls_for_a_served_local_folder(http_storage: Storage) -> None:
    _check_signed_urls(http_storage)


def test_get_upload_url_rejects_unknown_keywords(http_storage: Storage) -> None:
    with pytest.raises(TypeError, match="color"):
        http_storage.get_upload_url("k", color=1)
    with pytest.raises(ConfigError):
        http_storage.get_upload_url("k", expires_in=0)


def test_front_door_over_a_served_folder(http_storage: Storage, tmp_path: Path) -> None:
    http_storage.set("a", "1")
    http_storage.set("t", "2", storage_type="tmp")
    assert http_storage.list() == ["a"]
    assert http_storage.list(storage_type="tmp") == ["t"]
    http_storage.delete("a")
    with pytest.raises(NotFoundError):
        http_storage.get("a")


# --- auth through a server that enforces it --------------------------------------------------------------


@dataclass(frozen=True)
class AuthServer:
    server: servers.Server
    key: Ed25519PrivateKey

    def url(self) -> str:
        return f"satchel+{self.server.endpoint}/kv/_"

    def token(self) -> str:
        payload = {
            "res": {"os:usecase": "kv"},
            "permissions": ["object.read", "object.write", "object.delete"],
            "exp": int(time.time()) + 60,
        }
        return jwt.encode(payload, self.key, algorithm="EdDSA", headers={"kid": KID})


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    key = Ed25519PrivateKey.generate()
    public = tmp_path_factory.mktemp("kv-keys") / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    try:
        started = servers.start_satchel("--auth-key", f"{KID}={public}", "--enforce-auth", store="memory://")
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield AuthServer(started, key)
    servers.stop(started)


def test_auth_token_reaches_the_server(auth_server: AuthServer) -> None:
    with Storage(auth_server.url(), auth=auth_server.token(), retries=0) as storage:
        storage.set("k", "authorized")
        assert storage.get("k") == "authorized"

    @dataclass
    class Auth:  # the shape of a Descartes Labs Auth: a ``token`` attribute
        token: str

    with Storage(auth_server.url(), auth=Auth(auth_server.token()), retries=0) as storage:
        assert storage.get("k") == "authorized"
    with Storage(auth_server.url(), retries=0) as anonymous, pytest.raises(Unauthenticated):
        anonymous.get("k")


def test_signed_urls_where_the_server_enforces_auth(auth_server: AuthServer) -> None:
    # Here an unsigned request is refused, so a URL that works proves its signature, and a download URL
    # must not upload.
    with Storage(auth_server.url(), auth=auth_server.token(), retries=0) as storage:
        _check_signed_urls(storage)
        download, upload = storage.get_signed_url("signed/get"), storage.get_upload_url("signed/get")
        assert _fetch("GET", download.split("?", 1)[0]).status in (400, 401)
        assert _fetch("PUT", upload.split("?", 1)[0], b"unsigned").status in (400, 401)
        assert _fetch("PUT", download, b"with a download URL").status in (401, 403)
        assert storage.get("signed/get") == "signed body"
        assert _fetch("PUT", upload, b"with the upload URL").status == 200
        assert storage.get("signed/get") == "with the upload URL"


# --- the public names ------------------------------------------------------------------------------------


def test_public_names() -> None:
    assert kv.__all__ == sorted(kv.__all__, key=lambda name: (not name.isupper(), name))
    for name in kv.__all__:
        assert hasattr(kv, name), name
    assert issubclass(NotFoundError, satchel.NotFound)
    assert kv.STORAGE_TYPES == ("data", "tmp", "result")
    assert kv.DEFAULT_STORAGE_TYPE == "data"
    for name in ("delete", "exists", "get", "get_file", "get_signed_url", "get_upload_url", "iter_list", "list",
                 "set", "set_file"):  # fmt: skip
        assert callable(getattr(Storage, name))
