"""The ``satchel`` command against remote stores: moto's S3 and memory-backed ``satchel serve`` servers."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urllib3
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import satchel
import servers
from satchel.cli import main

TREE = {
    "a.txt": b"alpha\n",
    "docs/c.md": b"# gamma\n" * 50,
    "docs/deep/d.bin": os.urandom(300_000),
    "empty": b"",
}


def run(*args: str, input: bytes | None = None) -> Result:
    """Run ``satchel ARGS`` in this process and return its result."""
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def files_below(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    # An explicit type: urllib's default for a body (a web form) makes moto parse the body as form fields.
    headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@dataclass(frozen=True)
class Remote:
    """A fresh place in a remote store: ``url(key)`` names a key there; ``store`` checks what the CLI did."""

    base: str
    query: str = ""

    def url(self, key: str = "") -> str:
        return f"{self.base}/{key}" + (f"?{self.query}" if self.query else "")

    @property
    def store(self) -> satchel.Store:
        return satchel.open(self.url())


def s3_remote(server: servers.Server) -> Remote:
    bucket = f"cli-{secrets.token_hex(6)}"
    made = urllib3.PoolManager(retries=False).request("PUT", f"{server.endpoint}/{bucket}")
    assert made.status == 200, made.data
    query = urllib.parse.urlencode(
        {"endpoint_url": server.endpoint, "region": "us-east-1", "access_key_id": "testing", "secret_access_key": "t"}
    )
    return Remote(f"s3://{bucket}", query)


def satchel_remote(server: servers.Server) -> Remote:
    return Remote(f"satchel+http://{server.host}:{server.port}/cli{secrets.token_hex(4)}/_")


def _start(*args: str, store: str | None = None) -> servers.Server:
    try:
        return servers.start_satchel(*args, store=store)
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)


@pytest.fixture(scope="module")
def memory_server() -> Iterator[servers.Server]:
    """``satchel serve --store memory://``."""
    server = _start(store="memory://")
    yield server
    servers.stop(server)


@pytest.fixture(scope="module")
def folder_server() -> Iterator[servers.Server]:
    """``satchel serve`` over a local folder (it signs links itself)."""
    server = _start()
    yield server
    servers.stop(server)


@pytest.fixture(params=["s3", "satchel"])
def remote(request: pytest.FixtureRequest) -> Remote:
    """A fresh bucket on moto, or a fresh usecase on the memory-backed satchel server."""
    if request.param == "s3":
        return s3_remote(request.getfixturevalue("moto_server"))
    return satchel_remote(request.getfixturevalue("memory_server"))


def test_recursive_copies_both_ways(remote: Remote, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    up = run("cp", "-r", str(source), remote.url("up"))
    assert up.exit_code == 0, up.stderr
    assert sorted(m.key for m in remote.store.list()) == sorted(f"up/{rel}" for rel in TREE)
    assert remote.store.head("up/docs/c.md").content_type == "text/markdown"
    listing = [json.loads(line) for line in run("ls", "-r", "--json", remote.url("up/docs/")).stdout.splitlines()]
    assert [(r["name"], r["size"]) for r in listing] == [("c.md", 400), ("deep/d.bin", 300_000)]

    down = run("cp", "-r", remote.url("up"), str(tmp_path / "down"), "--transfers", "3")
    assert down.exit_code == 0, down.stderr
    assert files_below(tmp_path / "down") == TREE
    meta = remote.store.head("up/docs/deep/d.bin")
    local = (tmp_path / "down" / "docs" / "deep" / "d.bin").stat()
    assert abs(local.st_mtime - meta.last_modified.timestamp()) < 1


def test_sync_with_and_without_delete(remote: Remote, tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", TREE)
    assert run("sync", str(source), remote.url("s")).exit_code == 0
    second = run("sync", str(source), remote.url("s"))
    assert (second.exit_code, second.stdout) == (0, "")
    assert f"nothing to transfer ({len(TREE)} files up to date)" in second.stderr

    target = make_tree(tmp_path / "down", {"extra.txt": b"only here"})
    down = run("sync", remote.url("s"), str(target))
    assert down.exit_code == 0, down.stderr
    assert files_below(target) == {**TREE, "extra.txt": b"only here"}
    again = run("sync", remote.url("s/"), str(target))
    assert (again.exit_code, again.stdout) == (0, "")
    assert "nothing to transfer" in again.stderr
    pruned = run("sync", "--delete", remote.url("s"), str(target))
    assert pruned.stdout == f"delete: {target / 'extra.txt'}\n"
    assert files_below(target) == TREE

    (source / "a.txt").unlink()
    (source / "new.txt").write_bytes(b"new")
    without = run("sync", str(source), remote.url("s"))
    assert without.stdout == f"upload: {source / 'new.txt'} -> {remote.base}/s/new.txt\n"
    assert remote.store.exists("s/a.txt")
    with_delete = run("sync", "--delete", str(source), remote.url("s"))
    assert with_delete.stdout == f"delete: {remote.base}/s/a.txt\n"
    assert sorted(m.key for m in remote.store.list()) == sorted(
        f"s/{rel}" for rel in [*TREE, "new.txt"] if rel != "a.txt"
    )
    checked = run("sync", "--checksum", str(source), remote.url("s"))
    assert "nothing to transfer" in checked.stderr


def test_copy_between_s3_and_a_satchel_server(
    moto_server: servers.Server, memory_server: servers.Server, tmp_path: Path
) -> None:
    s3, served = s3_remote(moto_server), satchel_remote(memory_server)
    make_tree(tmp_path / "src", TREE)
    assert run("cp", "-r", str(tmp_path / "src"), s3.url("from")).exit_code == 0
    across = run("cp", "-r", s3.url("from"), served.url("to"), "--exclude", "*.bin")
    assert across.exit_code == 0, across.stderr
    assert across.stdout.count("copy: ") == len(TREE) - 1
    assert served.store.get_bytes("to/docs/c.md") == TREE["docs/c.md"]
    inside = run("cp", "-r", s3.url("from/docs"), s3.url("docs-copy/"))
    assert inside.exit_code == 0, inside.stderr
    assert s3.store.get_bytes("docs-copy/deep/d.bin") == TREE["docs/deep/d.bin"]
    assert run("rm", "-r", s3.url("from")).exit_code == 0
    assert sorted(m.key for m in s3.store.list()) == ["docs-copy/c.md", "docs-copy/deep/d.bin"]
    du = json.loads(run("du", "--json", s3.url()).stdout)
    assert du["files"] == 2


def test_sign_on_s3(moto_server: servers.Server, tmp_path: Path) -> None:
    s3 = s3_remote(moto_server)
    (tmp_path / "shared.txt").write_bytes(b"for anyone with the link")
    assert run("cp", str(tmp_path / "shared.txt"), s3.url()).exit_code == 0
    signed = run("sign", s3.url("shared.txt"), "--expires-in", "5m")
    assert signed.exit_code == 0, signed.stderr
    assert fetch(signed.stdout.strip()) == (200, b"for anyone with the link")
    upload = run("presign", s3.url("uploaded.bin"), "--method", "PUT", "--expires-in", "60")
    assert fetch(upload.stdout.strip(), "PUT", b"sent with the link")[0] == 200
    assert run("cat", s3.url("uploaded.bin")).stdout_bytes == b"sent with the link"


def test_sign_through_a_satchel_server_over_a_folder(folder_server: servers.Server) -> None:
    served = satchel_remote(folder_server)
    assert run("cp", "-", served.url("doc.txt"), input=b"served from a folder").exit_code == 0
    url = run("sign", served.url("doc.txt")).stdout.strip()
    assert url.startswith(folder_server.endpoint)
    assert fetch(url) == (200, b"served from a folder")
    put_url = run("sign", served.url("dropbox/in.txt"), "--method", "put").stdout.strip()
    assert fetch(put_url, "PUT", b"dropped")[0] == 200
    assert served.store.get_bytes("dropbox/in.txt") == b"dropped"
    local = run("sign", "/tmp/some-file")
    assert local.exit_code == 2
    assert "satchel serve" in local.stderr


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    """A memory-backed server that refuses requests without a valid token."""
    key = Ed25519PrivateKey.generate()
    public = tmp_path_factory.mktemp("keys") / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    server = _start("--auth-key", f"cli={public}", "--enforce-auth", store="memory://")
    yield server
    servers.stop(server)


def test_no_token_is_exit_4(auth_server: servers.Server, tmp_path: Path) -> None:
    served = satchel_remote(auth_server)
    listing = run("ls", served.url("private/"))
    assert listing.exit_code == 4
    assert listing.stderr.startswith(f"satchel: {served.base}/private/: ")
    assert len(listing.stderr.splitlines()) == 1
    (tmp_path / "f.txt").write_bytes(b"x")
    assert run("cp", str(tmp_path / "f.txt"), served.url("f.txt")).exit_code == 4
