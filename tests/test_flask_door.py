"""The keg-storage front door (satchel.flask), from its reference document: profiles, the extension, the
backends' file operations with progress, remote files, link_to (native and token links through the extension's
endpoint, with Flask's test client and with urllib3 against a running server), and StorageOperations.

Most tests run over memory, a local folder and S3 on moto (``door_url``); the per-service constructors run
against moto, Azurite and sshd.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import io
import itertools
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import tracemalloc
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import flask
import flask.views
import pytest
import urllib3
from werkzeug.serving import make_server

import satchel
import servers
from satchel.flask import (
    LINK_ENDPOINT,
    AzureStorage,
    FileMode,
    FileNotFoundInStorageError,
    InternalLinkTokenData,
    InvalidLinkToken,
    LinkViewMixin,
    ListEntry,
    LocalFSStorage,
    S3Storage,
    SatchelStorage,
    SFTPStorage,
    ShareLinkOperation,
    Storage,
    StorageBackend,
    StorageOperations,
)
from test_azure_backend import fresh_container

SECRET = "flask-door-secret"
HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(30))


def payload(size: int) -> bytes:
    """``size`` random bytes."""
    return secrets.token_bytes(size)


# --- the app, its client and a real server --------------------------------------------------------------------


@dataclass
class Door:
    """The app under test, its extension and the default profile's backend."""

    app: flask.Flask
    storage: Storage
    backend: StorageBackend
    native: bool  # the default profile's store signs links itself (S3)


@pytest.fixture
def door(door_url: str, tmp_path: Path) -> Iterator[Door]:
    """An app whose first profile is ``door_url``; a memory and a local-folder profile follow."""
    app = flask.Flask("flask_door")
    app.config["SECRET_KEY"] = SECRET
    local_root = tmp_path / "second"
    local_root.mkdir()
    app.config["KEG_STORAGE_PROFILES"] = [
        (door_url, {"name": "main"}),
        ("memory://", {"name": "spare"}),
        (LocalFSStorage, {"root": str(local_root), "name": "local"}),
    ]
    storage = Storage(app)
    yield Door(app, storage, storage.get_interface(), door_url.startswith("s3://"))
    storage.close()


@dataclass
class Reply:
    """What a link request answered."""

    status: int
    data: bytes
    headers: dict[str, str]


def call(app: flask.Flask, method: str, url: str, body: bytes | None = None) -> Reply:
    """Send a request to ``url``: through Flask's test client for the app's own links, urllib3 otherwise."""
    if url.startswith("http://localhost/"):
        response = app.test_client().open(url, method=method, data=body)
        return Reply(response.status_code, response.get_data(), {k.lower(): v for k, v in response.headers.items()})
    headers = {"content-type": "application/octet-stream"} if body is not None else None
    answer = HTTP.request(method, url, body=body, headers=headers)
    return Reply(answer.status, answer.data, {k.lower(): v for k, v in answer.headers.items()})


def link(app: flask.Flask, backend: StorageBackend, path: str, operation: Any, **kwargs: Any) -> str:
    """``backend.link_to`` inside a request context of the test client's host, expiring in five minutes."""
    with app.test_request_context():
        return backend.link_to(path, operation, datetime.now(UTC) + timedelta(minutes=5), **kwargs)


def token_url(app: flask.Flask, profile: str, token: str, base_url: str = "http://localhost") -> str:
    """The extension's link endpoint URL for ``token``."""
    with app.test_request_context(base_url=base_url):
        return flask.url_for(LINK_ENDPOINT, profile=profile, token=token, _external=True)


def token_of(url: str) -> str:
    """The ``token`` query argument of a token link."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["token"][0]


def with_token(url: str, token: str) -> str:
    """``url`` with its ``token`` query argument replaced."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode({"token": token})))


@contextlib.contextmanager
def serving(app: flask.Flask) -> Iterator[str]:
    """Serve ``app`` with werkzeug on a free loopback port, in a thread; yield its base URL, then shut it down."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="flask-door-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def live(door: Door) -> Iterator[str]:
    """The door's app served by werkzeug on a free loopback port; its base URL."""
    with serving(door.app) as base_url:
        yield base_url


def live_link(door: Door, base_url: str, path: str, operation: Any, **kwargs: Any) -> str:
    """A link made while serving ``base_url`` (token links point at the running server)."""
    with door.app.test_request_context(base_url=base_url):
        return door.backend.link_to(path, operation, timedelta(minutes=5), **kwargs)


# --- profiles and the extension -------------------------------------------------------------------------------


def test_first_profile_is_the_default(door: Door) -> None:
    assert door.storage.interface == "main"
    assert door.storage.get_interface() is door.storage.get_interface("main")
    assert list(door.storage.interfaces) == ["main", "spare", "local"]
    assert isinstance(door.storage.get_interface("local"), LocalFSStorage)
    assert door.app.storage is door.storage  # type: ignore[attr-defined]
    assert door.app.extensions["keg_storage"] is door.storage


def test_profiles_are_separate_stores(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"main"), "same/key")
    spare = door.storage.get_interface("spare")
    spare.upload(io.BytesIO(b"spare"), "same/key")
    assert door.backend.store.get_bytes("same/key") == b"main"
    assert spare.store.get_bytes("same/key") == b"spare"


def test_unknown_profile_is_a_value_error(door: Door) -> None:
    with pytest.raises(ValueError, match="invalid interface 'nope'"):
        door.storage.get_interface("nope")


def test_no_profiles_means_no_interface() -> None:
    app = flask.Flask("empty")
    storage = Storage()
    storage.init_app(app)
    assert storage.interface is None
    with pytest.raises(ValueError, match="no interface was specified"):
        storage.get_interface()


def test_duplicate_profile_names_are_refused() -> None:
    app = flask.Flask("dupes")
    app.config["KEG_STORAGE_PROFILES"] = [("memory://", {"name": "x"}), ("memory://", {"name": "x"})]
    with pytest.raises(satchel.ConfigError, match="two profiles"):
        Storage(app)


def test_a_profile_needs_a_name_and_a_backend() -> None:
    app = flask.Flask("bad")
    app.config["KEG_STORAGE_PROFILES"] = [(lambda: StorageBackend(satchel.open("memory://"), name=None), {})]
    with pytest.raises(satchel.ConfigError, match="needs a name"):
        Storage(app)
    app = flask.Flask("bad2")
    app.config["KEG_STORAGE_PROFILES"] = [(object, {})]
    with pytest.raises(satchel.ConfigError, match="not a StorageBackend"):
        Storage(app)


def test_url_profiles_take_satchel_options(tmp_path: Path) -> None:
    backend = SatchelStorage(str(tmp_path / "ro"), readonly=True)
    assert backend.name == "file"
    with pytest.raises(satchel.PermissionDenied):
        backend.upload(io.BytesIO(b"x"), "k")
    assert SatchelStorage("memory://").name == "memory"


# --- files ----------------------------------------------------------------------------------------------------


def monotonic_to(calls: list[int], size: int) -> None:
    assert calls, "no progress was reported"
    assert all(b > a for a, b in itertools.pairwise(calls)), calls
    assert calls[-1] == size


def test_upload_and_download_report_progress(door: Door) -> None:
    data = payload(2_500_000)  # more than one chunk each way
    uploaded: list[int] = []
    door.backend.upload(io.BytesIO(data), "p/big.bin", progress_callback=uploaded.append)
    monotonic_to(uploaded, len(data))
    downloaded: list[int] = []
    out = io.BytesIO()
    door.backend.download("p/big.bin", out, progress_callback=downloaded.append)
    monotonic_to(downloaded, len(data))
    assert len(downloaded) > 1
    assert out.getvalue() == data


def test_upload_and_download_without_progress(door: Door) -> None:
    door.backend.upload(io.BytesIO(b""), "empty")
    out = io.BytesIO()
    door.backend.download("empty", out)
    assert out.getvalue() == b""


def test_download_of_a_missing_file(door: Door) -> None:
    with pytest.raises(FileNotFoundInStorageError) as caught:
        door.backend.download("missing/file", io.BytesIO())
    assert caught.value.filename == "missing/file"
    assert str(caught.value) == f"File missing/file not found in {door.backend}."
    assert isinstance(caught.value, FileNotFoundError)
    assert isinstance(caught.value, satchel.NotFound)


def test_put_and_get_local_files(door: Door, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    data = payload(70_000)
    source.write_bytes(data)
    door.backend.put(str(source), "files/copy.bin")
    dest = tmp_path / "dest.bin"
    door.backend.get("files/copy.bin", str(dest))
    assert dest.read_bytes() == data
    with pytest.raises(FileNotFoundInStorageError):
        door.backend.get("files/missing.bin", str(tmp_path / "never.bin"))
    assert not (tmp_path / "never.bin").exists()
    with pytest.raises(FileNotFoundError):
        door.backend.put(str(tmp_path / "no-such-file"), "files/x")


def test_copy_and_delete(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"original"), "c/a.txt")
    door.backend.copy("c/a.txt", "c/b.txt")
    assert door.backend.store.get_bytes("c/b.txt") == b"original"
    door.backend.delete("c/a.txt")
    assert not door.backend.store.exists("c/a.txt")
    assert door.backend.store.exists("c/b.txt")
    door.backend.delete("c/a.txt")  # a missing file is not an error
    with pytest.raises(FileNotFoundInStorageError):
        door.backend.copy("c/a.txt", "c/z.txt")


def test_list_returns_entries_under_a_prefix(door: Door) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    for key, size in [("l/b.txt", 3), ("l/a.txt", 10), ("l/sub/c.txt", 0), ("lx/d.txt", 1)]:
        door.backend.upload(io.BytesIO(payload(size)), key)
    entries = door.backend.list("l/")
    assert [entry.name for entry in entries] == ["l/a.txt", "l/b.txt", "l/sub/c.txt"]
    assert [entry.size for entry in entries] == [10, 3, 0]
    assert all(isinstance(entry, ListEntry) for entry in entries)
    assert all(entry.last_modified > before for entry in entries)
    assert [entry.name for entry in door.backend.list("l")] == ["l/a.txt", "l/b.txt", "l/sub/c.txt", "lx/d.txt"]
    assert door.backend.list("nothing/") == []


def test_open_for_reading_reads_in_pieces(door: Door) -> None:
    data = payload(10_000)
    door.backend.upload(io.BytesIO(data), "o/read.bin")
    with door.backend.open("o/read.bin", "rb") as remote:
        assert remote.mode == FileMode.read
        first = remote.read(4096)
        rest = b"".join(remote.iter_chunks(3000))
        assert remote.read(10) == b""
    assert first + rest == data
    assert len(first) == 4096
    assert remote.closed
    with door.backend.open("o/read.bin", FileMode.read) as remote:
        assert b"".join(remote) == data
        with pytest.raises(io.UnsupportedOperation):
            remote.write(b"x")


def test_open_for_writing_stores_on_close(door: Door) -> None:
    remote = door.backend.open("o/write.bin", "w")
    remote.write(b"hello ")
    remote.write(b"world")
    with pytest.raises(io.UnsupportedOperation):
        remote.read(1)
    assert not door.backend.store.exists("o/write.bin")
    remote.close()
    remote.close()  # closing twice does nothing
    assert door.backend.store.get_bytes("o/write.bin") == b"hello world"


def test_a_failed_write_leaves_the_previous_object(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"previous"), "o/keep.bin")

    def write_then_fail() -> None:
        with door.backend.open("o/keep.bin", "wb") as remote:
            remote.write(b"half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail()
    remote = door.backend.open("o/keep.bin", "wb")
    remote.write(b"discarded")
    remote.abort()
    assert door.backend.store.get_bytes("o/keep.bin") == b"previous"


def test_open_errors(door: Door) -> None:
    with pytest.raises(FileNotFoundInStorageError):
        door.backend.open("o/missing", "r")
    with pytest.raises(satchel.NotSupported):
        door.backend.open("o/x", "rw")
    with pytest.raises(ValueError, match="invalid file mode"):
        door.backend.open("o/x", "a")


def test_file_modes_and_link_operations() -> None:
    assert FileMode.as_mode("rb") == FileMode.read
    assert FileMode.as_mode("wb") == FileMode.write
    assert str(FileMode.read | FileMode.write) == "rwb"
    assert str(FileMode.write) == "wb"
    with pytest.raises(ValueError, match="neither"):
        FileMode.as_mode("b")
    with pytest.raises(ValueError, match="only FileMode or str"):
        FileMode.as_mode(1)  # type: ignore[arg-type]
    op = ShareLinkOperation
    assert op.as_operation("download") == op.download
    assert op.as_operation("upload") == op.upload
    assert op.as_operation("delete") == op.as_operation("remove") == op.remove
    assert op.as_operation("dr") == op.download | op.remove
    assert op.as_operation(op.upload) is op.upload
    assert str(op.download | op.upload | op.remove) == "dur"
    for bad in ["", "dx", "fetch"]:
        with pytest.raises(ValueError, match="invalid link operation"):
            op.as_operation(bad)


# --- links through Flask's test client ------------------------------------------------------------------------


def test_download_link(door: Door) -> None:
    data = payload(5000)
    door.backend.upload(io.BytesIO(data), "links/d.bin")
    url = link(door.app, door.backend, "links/d.bin", ShareLinkOperation.download)
    if door.native:
        assert "X-Amz-Signature" in url
    else:
        assert url.startswith("http://localhost/_storage/link/main?token=")
    reply = call(door.app, "GET", url)
    assert reply.status == 200
    assert reply.data == data


def test_upload_link_then_download(door: Door) -> None:
    data = payload(3000)
    url = link(door.app, door.backend, "links/up.bin", "upload")
    assert call(door.app, "PUT", url, data).status == 200
    out = io.BytesIO()
    door.backend.download("links/up.bin", out)
    assert out.getvalue() == data
    back = call(door.app, "GET", link(door.app, door.backend, "links/up.bin", "download"))
    assert back.data == data


def test_remove_link_deletes_through_the_endpoint(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"bye"), "links/rm.bin")
    url = link(door.app, door.backend, "links/rm.bin", ShareLinkOperation.remove)
    assert url.startswith("http://localhost/_storage/link/main?")  # no native delete links
    assert call(door.app, "GET", url).status == 403
    assert door.backend.store.exists("links/rm.bin")
    assert call(door.app, "DELETE", url).status == 200
    assert not door.backend.store.exists("links/rm.bin")


def test_combined_link_allows_each_of_its_operations(door: Door) -> None:
    url = link(door.app, door.backend, "links/both.bin", "du")
    assert call(door.app, "POST", url, b"posted").status == 200
    assert call(door.app, "GET", url).data == b"posted"
    assert call(door.app, "DELETE", url).status == 403


def test_a_link_allows_only_its_operation(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"kept"), "links/only.bin")
    url = link(door.app, door.backend, "links/only.bin", "download", output_path="only.bin")  # a token link
    assert call(door.app, "PUT", url, b"overwritten").status == 403
    assert call(door.app, "DELETE", url).status == 403
    assert door.backend.store.get_bytes("links/only.bin") == b"kept"


def test_output_path_names_the_download(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"report"), "links/r-123.pdf")
    url = link(door.app, door.backend, "links/r-123.pdf", "download", output_path="Q3 résumé.pdf")
    assert url.startswith("http://localhost/")  # named downloads go through the endpoint, S3 included
    reply = call(door.app, "GET", url)
    assert reply.data == b"report"
    assert reply.headers["content-disposition"].startswith("attachment; ")
    assert "filename*=UTF-8''Q3%20r%C3%A9sum%C3%A9.pdf" in reply.headers["content-disposition"]


def test_download_link_of_a_missing_file_is_404(door: Door) -> None:
    url = link(door.app, door.backend, "links/none.bin", "download", output_path="none.bin")
    assert call(door.app, "GET", url).status == 404


def test_expired_token_is_403(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"old"), "links/exp.bin")
    with door.app.app_context():
        token = door.backend.create_link_token(
            path="links/exp.bin", operation="download", expire=datetime.now(UTC) - timedelta(seconds=1)
        )
        with pytest.raises(InvalidLinkToken, match="expired"):
            door.backend.deserialize_link_token(token)
    assert call(door.app, "GET", token_url(door.app, "main", token)).status == 403


def test_link_expires_in_time(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"soon gone"), "links/soon.bin")
    with door.app.test_request_context():
        deadline = datetime.now(UTC) + timedelta(seconds=1)
        url = door.backend.link_to("links/soon.bin", "download", deadline, output_path="soon.bin")
    assert call(door.app, "GET", url).status == 200
    time.sleep(max(0.0, deadline.timestamp() - time.time()) + 0.05)
    assert call(door.app, "GET", url).status == 403


def tampered_tokens(token: str) -> list[str]:
    """Tokens made from ``token`` by changing its path, its expiry, its signature, or its format."""
    body, _, signature = token.partition(".")
    fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))

    def reencode(changed: dict[str, Any]) -> str:
        data = json.dumps(changed, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode() + "." + signature

    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        reencode({**fields, "p": "links/other.bin"}),
        reencode({**fields, "e": fields["e"] + 3600}),
        reencode({**fields, "o": "dur"}),
        f"{body}.{flipped}",
        body,
        f"{body}.%%%",
        "not-a-token",
        f"{body}é.{signature}",
    ]


def test_tampered_token_is_403(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"secret"), "links/t.bin")
    door.backend.upload(io.BytesIO(b"other"), "links/other.bin")
    url = link(door.app, door.backend, "links/t.bin", "download", output_path="t.bin")
    assert call(door.app, "GET", url).status == 200
    for bad in tampered_tokens(token_of(url)):
        assert call(door.app, "GET", with_token(url, bad)).status == 403, bad
        with door.app.app_context(), pytest.raises(InvalidLinkToken):
            door.backend.deserialize_link_token(bad)


def test_token_of_one_profile_is_refused_by_another(door: Door) -> None:
    spare = door.storage.get_interface("spare")
    spare.upload(io.BytesIO(b"spare"), "links/p.bin")
    url = link(door.app, spare, "links/p.bin", "download")
    assert call(door.app, "GET", url).status == 200
    other = url.replace("/_storage/link/spare?", "/_storage/link/main?")
    assert call(door.app, "GET", other).status == 403


def test_token_signed_with_another_secret_is_refused(door: Door) -> None:
    door.backend.upload(io.BytesIO(b"x"), "links/s.bin")
    url = link(door.app, door.backend, "links/s.bin", "download", output_path="s.bin")
    door.app.config["SECRET_KEY"] = "rotated"
    assert call(door.app, "GET", url).status == 403


def test_missing_token_is_404_and_unknown_profile_is_404(door: Door) -> None:
    client = door.app.test_client()
    assert client.get("/_storage/link/main").status_code == 404
    url = link(door.app, door.backend, "links/u.bin", "download", output_path="u.bin")
    assert call(door.app, "GET", url.replace("/link/main?", "/link/nope?")).status == 404


def test_link_errors(door: Door) -> None:
    with door.app.test_request_context():
        with pytest.raises(satchel.ConfigError, match="future"):
            door.backend.link_to("k", "download", datetime.now(UTC) - timedelta(seconds=1))
        with pytest.raises(ValueError, match="invalid link operation"):
            door.backend.link_to("k", "fetch", timedelta(minutes=1))
    app = flask.Flask("no-secret")
    app.config["KEG_STORAGE_PROFILES"] = [("memory://", {"name": "m"})]
    storage = Storage(app)
    with app.test_request_context(), pytest.raises(satchel.ConfigError, match="SECRET_KEY"):
        storage.get_interface().link_to("k", "remove", timedelta(minutes=1))


def test_naive_datetimes_are_utc_and_arrow_like_objects_work(door: Door) -> None:
    @dataclass
    class ArrowLike:
        datetime: datetime

    with door.app.app_context():
        naive = (datetime.now(UTC) + timedelta(minutes=1)).replace(tzinfo=None)
        token = door.backend.create_link_token(path="k", operation="d", expire=naive)
        assert door.backend.deserialize_link_token(token) == InternalLinkTokenData("k", ShareLinkOperation.download)
        past = ArrowLike(datetime.now(UTC) - timedelta(minutes=1))
        with pytest.raises(InvalidLinkToken, match="expired"):
            door.backend.deserialize_link_token(door.backend.create_link_token(path="k", operation="d", expire=past))


def test_tokens_never_reach_the_logs(door: Door, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    door.backend.upload(io.BytesIO(b"quiet"), "links/q.bin")
    url = link(door.app, door.backend, "links/q.bin", "dr", output_path="q.bin")
    call(door.app, "GET", url)
    call(door.app, "GET", with_token(url, tampered_tokens(token_of(url))[0]))
    call(door.app, "DELETE", url)
    assert token_of(url) not in caplog.text
    assert token_of(url).split(".")[1] not in caplog.text


class FilesLinkView(LinkViewMixin, flask.views.MethodView):
    """An app's own link view, as keg-storage's LinkViewMixin is used with ``linked_endpoint``."""

    backend: StorageBackend

    def get_storage_backend(self) -> StorageBackend:
        return self.backend


def test_linked_endpoint_uses_the_apps_own_view(tmp_path: Path) -> None:
    app = flask.Flask("own-view")
    backend = LocalFSStorage(tmp_path, linked_endpoint="files_link", secret_key=b"own key", name="files")
    FilesLinkView.backend = backend
    app.add_url_rule("/files", view_func=FilesLinkView.as_view("files_link"), methods=["GET", "PUT", "DELETE"])
    url = link(app, backend, "doc.txt", "upload")
    assert url.startswith("http://localhost/files?token=")
    assert call(app, "PUT", url, b"mine").status == 200
    assert (tmp_path / "doc.txt").read_bytes() == b"mine"
    assert call(app, "GET", link(app, backend, "doc.txt", "download")).data == b"mine"
    assert call(app, "GET", with_token(url, "x.y")).status == 403
    assert app.test_client().get("/files").status_code == 404


# --- links over real HTTP (werkzeug's server in a thread, urllib3) -------------------------------------------


def test_live_download_upload_and_remove(door: Door, live: str) -> None:
    data = payload(1_500_000)
    url = live_link(door, live, "live/up.bin", "upload")
    if not door.native:
        assert url.startswith(f"{live}/_storage/link/main?token=")
    answer = HTTP.request("PUT", url, body=data, headers={"content-type": "application/octet-stream"})
    assert answer.status == 200
    out = io.BytesIO()
    door.backend.download("live/up.bin", out)
    assert out.getvalue() == data
    downloaded = HTTP.request("GET", live_link(door, live, "live/up.bin", "download"))
    assert downloaded.status == 200
    assert downloaded.data == data
    named = HTTP.request("GET", live_link(door, live, "live/up.bin", "download", output_path="up.bin"))
    assert named.data == data
    assert named.headers["content-length"] == str(len(data))
    assert 'filename="up.bin"' in named.headers["content-disposition"]
    removed = HTTP.request("DELETE", live_link(door, live, "live/up.bin", "remove"))
    assert removed.status == 200
    assert not door.backend.store.exists("live/up.bin")


def test_live_streaming_upload_without_length(door: Door, live: str) -> None:
    chunks = [payload(300_000) for _ in range(4)]
    url = live_link(door, live, "live/chunked.bin", "upload", output_path="x")  # output_path: a token link
    answer = HTTP.request("PUT", url, body=iter(chunks), chunked=True)
    assert answer.status == 200
    assert door.backend.store.get_bytes("live/chunked.bin") == b"".join(chunks)


def test_live_expired_and_tampered_links_are_403(door: Door, live: str) -> None:
    door.backend.upload(io.BytesIO(b"guarded"), "live/g.bin")
    with door.app.app_context():
        expired = door.backend.create_link_token(
            path="live/g.bin", operation="dur", expire=datetime.now(UTC) - timedelta(seconds=5)
        )
    expired_url = token_url(door.app, "main", expired, base_url=live)
    for method in ("GET", "PUT", "DELETE"):
        assert HTTP.request(method, expired_url, body=b"x" if method == "PUT" else None).status == 403
    url = live_link(door, live, "live/g.bin", "download", output_path="g.bin")
    assert HTTP.request("GET", url).status == 200
    for bad in tampered_tokens(token_of(url)):
        assert HTTP.request("GET", with_token(url, bad)).status == 403, bad
    assert door.backend.store.get_bytes("live/g.bin") == b"guarded"


def test_live_download_link_of_the_local_profile(door: Door, live: str) -> None:
    local = door.storage.get_interface("local")
    local.upload(io.BytesIO(b"from disk"), "d/e.txt")
    with door.app.test_request_context(base_url=live):
        url = local.link_to("d/e.txt", "download", timedelta(minutes=1))
    assert url.startswith(f"{live}/_storage/link/local?")
    assert HTTP.request("GET", url).data == b"from disk"


def test_live_links_stream_with_flat_memory(tmp_path: Path) -> None:
    app = flask.Flask("flat")
    app.config["SECRET_KEY"] = SECRET
    app.config["KEG_STORAGE_PROFILES"] = [(LocalFSStorage, {"root": str(tmp_path), "name": "disk"})]
    storage = Storage(app)
    backend = storage.get_interface()
    size, chunk = 32 << 20, 256 << 10
    digest_in, digest_out = hashlib.sha256(), hashlib.sha256()

    def chunks() -> Iterator[bytes]:
        for _ in range(size // chunk):
            block = secrets.token_bytes(chunk)
            digest_in.update(block)
            yield block

    with serving(app) as base_url:
        with app.test_request_context(base_url=base_url):
            url = backend.link_to("big.bin", "du", timedelta(minutes=5))
        tracemalloc.start()
        try:
            assert HTTP.request("PUT", url, body=chunks(), chunked=True).status == 200
            answer = HTTP.request("GET", url, preload_content=False)
            received = 0
            for block in answer.stream(chunk):
                digest_out.update(block)
                received += len(block)
            answer.release_conn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert received == size
    assert digest_out.digest() == digest_in.digest()
    assert peak < 12 << 20, f"peak {peak} bytes for a {size}-byte object"


# --- StorageOperations ----------------------------------------------------------------------------------------


class Folder(enum.Enum):
    docs = "documents"
    pics = "pictures"


class Documents(StorageOperations):
    storage_location = Folder.docs


def test_generated_names_keep_the_extension() -> None:
    first = StorageOperations.storage_generate_filename("report.final.pdf")
    second = StorageOperations.storage_generate_filename("report.final.pdf")
    assert first.endswith(".pdf")
    assert first != second
    assert len(first) == 36 + 4
    bare = StorageOperations.storage_generate_filename("README")
    assert "." not in bare
    assert len(bare) == 36


def test_prefix_path_joins_the_location() -> None:
    assert StorageOperations.storage_prefix_path(Folder.pics, "a.png") == "pictures/a.png"
    assert StorageOperations.storage_prefix_path(Folder.pics, ".hidden") == "pictures/hidden"


def test_operations_round_trip(door: Door) -> None:
    with door.app.app_context():
        name = Documents.storage_upload_file(io.BytesIO(b"contents"), "../My Report.PDF")
        assert name.endswith(".PDF")
        assert door.backend.store.get_bytes(f"documents/{name}") == b"contents"
        assert Documents.storage_download_file(name).read() == b"contents"
        kept = Documents.storage_upload_file(io.BytesIO(b"k"), "../My Report.PDF", preserve_filename=True)
        assert kept == "My_Report.PDF"
        copy = Documents.storage_duplicate_file(name)
        assert copy != name
        assert copy.endswith(".PDF")
        assert door.backend.store.get_bytes(f"documents/{copy}") == b"contents"
        assert Documents.storage_delete_file(name) is True
        assert not door.backend.store.exists(f"documents/{name}")
        with pytest.raises(FileNotFoundInStorageError):
            Documents.storage_download_file(name)
        other = Documents.storage_upload_file(
            io.BytesIO(b"p"), "x.png", storage_location=Folder.pics, storage_profile="spare"
        )
        assert door.storage.get_interface("spare").store.get_bytes(f"pictures/{other}") == b"p"


def test_operations_profile_defaults_to_the_class_then_the_first(door: Door) -> None:
    class Spare(StorageOperations):
        storage_profile = "spare"

    with door.app.app_context():
        assert Spare.storage_get_profile() is door.storage.get_interface("spare")
        assert Spare.storage_get_profile("local") is door.storage.get_interface("local")
        assert StorageOperations.storage_get_profile() is door.backend
        with pytest.raises(ValueError, match="invalid interface"):
            StorageOperations.storage_get_profile("nope")


def test_operations_links(door: Door) -> None:
    with door.app.test_request_context():
        url, name = Documents.storage_get_upload_link("scan.tiff", expire_minutes=5)
        assert name.endswith(".tiff")
    assert call(door.app, "PUT", url, b"scanned").status == 200
    assert door.backend.store.get_bytes(f"documents/{name}") == b"scanned"
    with door.app.test_request_context():
        download = Documents.storage_get_download_link(name, 5)
        named = Documents.storage_get_download_link(name, 5, output_path="scan.tiff")
    assert call(door.app, "GET", download).data == b"scanned"
    assert 'filename="scan.tiff"' in call(door.app, "GET", named).headers["content-disposition"]


def test_upload_form_file(door: Door) -> None:
    names: list[str] = []

    @door.app.post("/upload")
    def upload() -> str:
        names.append(Documents.storage_upload_form_file("document"))
        return "stored"

    client = door.app.test_client()
    reply = client.post("/upload", data={"document": (io.BytesIO(b"form data"), "form.txt")})
    assert reply.status_code == 200
    assert names[0].endswith(".txt")
    assert door.backend.store.get_bytes(f"documents/{names[0]}") == b"form data"
    assert client.post("/upload", data={}).status_code == 400


def test_operations_need_the_app(door: Door) -> None:
    with pytest.raises(RuntimeError):
        Documents.storage_get_profile()
    with flask.Flask("bare").app_context(), pytest.raises(satchel.ConfigError, match="not set up"):
        Documents.storage_get_profile()


# --- the per-service constructors ------------------------------------------------------------------------------


def test_local_fs_storage(tmp_path: Path) -> None:
    with pytest.raises(satchel.ConfigError, match="does not exist"):
        LocalFSStorage(tmp_path / "absent")
    root = tmp_path / "files"
    root.mkdir()
    backend = LocalFSStorage(root)
    assert backend.name == "fs-files"
    backend.upload(io.BytesIO(b"on disk"), "a/b.txt")
    assert (root / "a" / "b.txt").read_bytes() == b"on disk"
    assert [entry.name for entry in backend.list("")] == ["a/b.txt"]
    with pytest.raises(satchel.InvalidPath):
        backend.upload(io.BytesIO(b"x"), "../escape")
    backend.close()


def moto_bucket(server: servers.Server) -> str:
    bucket = f"door-{secrets.token_hex(6)}"
    assert HTTP.request("PUT", f"{server.endpoint}/{bucket}").status == 200
    return bucket


def test_s3_storage_on_moto(moto_server: servers.Server) -> None:
    bucket = moto_bucket(moto_server)
    backend = S3Storage(bucket, "us-east-1", "testing", "testing", endpoint_url=moto_server.endpoint)
    assert backend.name == "s3"
    backend.upload(io.BytesIO(b"in the bucket"), "x/y.txt")
    backend.copy(current_file="x/y.txt", new_file="x/z.txt")
    assert [entry.name for entry in backend.list("x/")] == ["x/y.txt", "x/z.txt"]
    app = flask.Flask("s3")
    with app.test_request_context():
        url = backend.link_to("x/z.txt", "download", timedelta(minutes=1))
    assert url.startswith(f"{moto_server.endpoint}/{bucket}/x/z.txt?")
    assert HTTP.request("GET", url).data == b"in the bucket"
    wrong = S3Storage(bucket, "us-east-1", "testing", "testing", name="other", endpoint_url=moto_server.endpoint)
    assert wrong.name == "other"
    backend.close()
    wrong.close()


def test_azure_storage_on_azurite(azurite_server: servers.Server) -> None:
    container = fresh_container(azurite_server)
    account, key = azurite_server.extra["account"], azurite_server.extra["key"]
    endpoint = f"{azurite_server.endpoint}/{account}"
    backend = AzureStorage(account=account, key=key, bucket=container, endpoint_url=endpoint)
    assert backend.name == "azure"
    data = payload(100_000)
    progress: list[int] = []
    backend.upload(io.BytesIO(data), "az/one.bin", progress_callback=progress.append)
    monotonic_to(progress, len(data))
    app = flask.Flask("azure")
    with app.test_request_context():
        get_url = backend.link_to("az/one.bin", "download", timedelta(minutes=1))
        put_url = backend.link_to("az/sas.bin", "upload", timedelta(minutes=1))
    assert "sig=" in get_url
    assert HTTP.request("GET", get_url).data == data
    # A blob SAS URL makes a backend limited to that blob.
    blob_backend = AzureStorage(sas_blob_url=put_url, name="one-blob")
    blob_backend.upload(io.BytesIO(b"through the SAS"), "az/sas.bin")
    out = io.BytesIO()
    backend.download("az/sas.bin", out)
    assert out.getvalue() == b"through the SAS"
    with pytest.raises(satchel.SatchelError):
        blob_backend.upload(io.BytesIO(b"elsewhere"), "az/other.bin")
    backend.close()
    blob_backend.close()


def test_azure_storage_configuration_errors() -> None:
    with pytest.raises(satchel.ConfigError, match="needs a bucket"):
        AzureStorage(account="a", key="k")
    with pytest.raises(satchel.ConfigError, match="sig="):
        AzureStorage(sas_container_url="https://acct.blob.core.windows.net/box?sv=2021")
    with pytest.raises(satchel.ConfigError, match="container"):
        AzureStorage(sas_container_url="https://acct.blob.core.windows.net/?sv=1&sig=abc")


def test_sftp_storage_on_sshd(sshd_server: servers.Server) -> None:
    extra = sshd_server.extra
    with pytest.raises(satchel.NotSupported):
        SFTPStorage(sshd_server.host, extra["user"], extra["client_key"], extra["known_hosts"], look_for_keys=True)
    backend = SFTPStorage(
        sshd_server.host,
        extra["user"],
        extra["client_key"],
        extra["known_hosts"],
        port=sshd_server.port,
        secret_key="sftp secret",
    )
    folder = f"door-{secrets.token_hex(6)}"
    data = payload(200_000)
    backend.upload(io.BytesIO(data), f"{folder}/f.bin")
    out = io.BytesIO()
    backend.download(f"{folder}/f.bin", out)
    assert out.getvalue() == data
    assert [entry.name for entry in backend.list(f"{folder}/")] == [f"{folder}/f.bin"]
    app = flask.Flask("sftp")
    app.config["KEG_STORAGE_PROFILES"] = [(lambda: backend, {})]
    Storage(app)
    url = link(app, backend, f"{folder}/f.bin", "download")
    assert url.startswith("http://localhost/_storage/link/sftp?token=")
    assert call(app, "GET", url).data == data
    backend.delete(f"{folder}/f.bin")
    backend.close()


# --- the extra ------------------------------------------------------------------------------------------------


def test_missing_flask_names_the_extra() -> None:
    code = "import sys; sys.modules['flask'] = None; import satchel.flask"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ}, check=False, timeout=60
    )
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "pip install 'satchel[flask]'" in result.stderr
