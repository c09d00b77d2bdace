"""The SFTP backend against a real OpenSSH sshd on loopback: the conformance suite, and what only SFTP has."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import satchel
import servers
from satchel.backends.sftp import SFTPBackend, SFTPConfig, _connection
from satchel.backends.sftp._meta import this_host
from satchel.errors import AlreadyExists, NotFound, PermissionDenied, TransientError, Unauthenticated
from satchel.secret import Secret
from satchel.testing import ConformanceTests


def sftp_url(server: servers.Server, root: str) -> str:
    """The URL of ``root`` (an absolute path) on the test server."""
    return f"sftp://{server.extra['user']}@{server.host}:{server.port}{root}"


def open_sftp(server: servers.Server, root: str, **options: Any) -> satchel.Store:
    """Open a store on the test server with its client key and known_hosts, unless ``options`` say otherwise."""
    given: dict[str, Any] = {
        "key_filename": server.extra["client_key"],
        "known_hosts": server.extra["known_hosts"],
        "allow_agent": False,
        "fsync": False,
    }
    given.update(options)
    return satchel.open(sftp_url(server, root), **given)


@pytest.fixture
def sftp_root(sshd_server: servers.Server) -> Path:
    """A fresh folder under the server's home (the tests run on the same machine as sshd)."""
    return Path(sshd_server.extra["home"]) / f"root-{secrets.token_hex(6)}"


def bare_store(server: servers.Server, root: Path, **options: Any) -> satchel.Store:
    """A Store straight over an SFTPBackend, with no layers."""
    config = SFTPConfig(
        host=server.host,
        port=server.port,
        username=server.extra["user"],
        key_filename=server.extra["client_key"],
        known_hosts=server.extra["known_hosts"],
        allow_agent=False,
        root=str(root),
        fsync=False,
    )
    return satchel.Store(SFTPBackend(dataclasses.replace(config, **options)))


class TestSFTPConformance(ConformanceTests):
    """Every conformance test over sshd: as ``satchel.open`` stacks it, and bare."""

    @pytest.fixture(params=["stack", "bare"])
    def store(
        self, request: pytest.FixtureRequest, sshd_server: servers.Server, sftp_root: Path
    ) -> Iterator[satchel.Store]:
        if request.param == "stack":
            store = open_sftp(sshd_server, str(sftp_root))
        else:
            store = bare_store(sshd_server, sftp_root)
        with store:
            yield store

    @pytest.fixture
    def many_keys(self, request: pytest.FixtureRequest) -> int:
        # Listing past a thousand keys once is enough: over SFTP every key costs a few round trips.
        return 1100 if "stack" in request.node.callspec.id else 0

    @pytest.fixture
    def advance(self) -> Callable[[float], None]:
        return time.sleep


# --- connecting: host keys, credentials, reachability ------------------------------------------------------


def test_host_key_mismatch_is_refused(sshd_server: servers.Server, sftp_root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, key = (tmp_path / "other_key.pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{sshd_server.host}]:{sshd_server.port} {kind} {key}\n")
    with pytest.raises(Unauthenticated) as info:
        open_sftp(sshd_server, str(sftp_root), known_hosts=str(known_hosts), key_passphrase=Secret("hunter2"))
    message = str(info.value)
    assert "host key" in message
    assert f"{sshd_server.host}:{sshd_server.port}" in message
    assert "sftp" in message
    assert "hunter2" not in message
    assert "hunter2" not in repr(info.value)


def test_unknown_host_is_refused_unless_explicitly_skipped(
    sshd_server: servers.Server,
    sftp_root: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(Unauthenticated) as info:
        open_sftp(sshd_server, str(sftp_root), known_hosts=str(empty))
    assert "not in" in str(info.value)
    assert not info.value.retryable
    monkeypatch.setattr(_connection, "_insecure_warned", False)
    with (
        caplog.at_level(logging.WARNING, logger="satchel.sftp"),
        open_sftp(sshd_server, str(sftp_root), known_hosts=str(empty), insecure_skip_host_key_check=True) as store,
    ):
        store.put("k", b"v")
        assert store.get_bytes("k") == b"v"
    assert "host key checking is OFF" in caplog.text


def test_wrong_client_key_is_unauthenticated(sshd_server: servers.Server, sftp_root: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    with pytest.raises(Unauthenticated) as info:
        open_sftp(sshd_server, str(sftp_root), key_filename=str(wrong), password=Secret("s3cret-pw"))
    assert info.value.backend == "sftp"
    assert f"{sshd_server.host}:{sshd_server.port}" in str(info.value)
    assert "s3cret-pw" not in str(info.value)


def test_unreachable_port_is_transient(sshd_server: servers.Server) -> None:
    url = f"sftp://{sshd_server.extra['user']}@127.0.0.1:{servers.free_port()}/nowhere"
    with pytest.raises(TransientError) as info:
        satchel.open(url, key_filename=sshd_server.extra["client_key"], allow_agent=False, timeout=5)
    assert info.value.retryable


def test_secrets_stay_out_of_reprs() -> None:
    config = SFTPConfig(host="h", password=Secret("pw-value"), key_passphrase=Secret("pass-value"))
    assert "pw-value" not in repr(config)
    assert "pass-value" not in repr(config)


# --- containment, atomicity, streaming, leftovers -----------------------------------------------------------


def test_symlinks_never_lead_out_of_the_root(sshd_server: servers.Server, sftp_root: Path, tmp_path: Path) -> None:
    outside = Path(sshd_server.extra["home"]) / f"outside-{secrets.token_hex(4)}"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"outside")
    with bare_store(sshd_server, sftp_root) as store:
        store.put("inside", b"in")
        (sftp_root / "escape").symlink_to(outside)
        (sftp_root / "link-file").symlink_to(outside / "secret.txt")
        for key in ("escape/secret.txt", "link-file"):
            with pytest.raises(NotFound):
                store.get_bytes(key)
            assert not store.exists(key)
            with pytest.raises(PermissionDenied):
                store.put(key, b"overwritten")
            with pytest.raises(PermissionDenied):
                store.delete(key)
        with pytest.raises(PermissionDenied):
            store.put("escape/new", b"planted")
        with pytest.raises(NotFound):
            store.copy("escape/secret.txt", "stolen")
        assert [meta.key for meta in store.list()] == ["inside"]
        assert store.list_with_delimiter("").common_prefixes == []
        assert [meta.key for meta in store.list("escape/")] == []
    assert sorted(path.name for path in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"outside"


def test_readers_never_see_data_and_metadata_of_different_writes(sshd_server: servers.Server, sftp_root: Path) -> None:
    # Same-size payloads written many times a second: the case where size and mtime alone cannot tell
    # versions apart, so only the record's fingerprints and the double read keep the pairs straight.
    key = "contended"
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def payload(n: int) -> bytes:
        return f"{n:08d}".encode() * 512

    def writer(base: int) -> None:
        with bare_store(sshd_server, sftp_root) as store:
            for n in range(base, base + 60):
                store.put(key, payload(n), metadata={"n": str(n)})

    def reader() -> None:
        with bare_store(sshd_server, sftp_root) as store:
            while not stop.is_set():
                try:
                    result = store.get(key)
                    with result.body as body:
                        data = body.read()
                except Exception as exc:
                    failures.append(repr(exc))
                    return
                n = result.meta.metadata.get("n")
                if n is None or data != payload(int(n)):
                    failures.append(f"metadata {n!r} with data {data[:8]!r}")
                else:
                    seen.append(n)

    with bare_store(sshd_server, sftp_root) as store:
        store.put(key, payload(0), metadata={"n": "0"})
    readers = [threading.Thread(target=reader) for _ in range(3)]
    writers = [threading.Thread(target=writer, args=(base,)) for base in (1000, 2000)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert failures == []
    assert len(set(seen)) > 5  # the readers really did see many versions
    with bare_store(sshd_server, sftp_root) as store:
        final = store.get(key)
        with final.body as body:
            assert body.read() == payload(int(final.meta.metadata["n"]))


class _CountingStream:
    """A readable stream of ``size`` pseudo-random bytes that never holds more than one chunk."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()
        self.counter = 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        chunk = hashlib.sha256(str(self.counter).encode()).digest() * (n // 32 + 1)
        chunk = chunk[:n]
        self.counter += 1
        self.left -= n
        self.digest.update(chunk)
        return chunk


def test_large_object_streams_both_ways(sshd_server: servers.Server, sftp_root: Path) -> None:
    size = 40 << 20
    with bare_store(sshd_server, sftp_root) as store:
        source = _CountingStream(size)
        tracemalloc.start()
        try:
            store.put("big", source)
            _, put_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            got = hashlib.sha256()
            total = 0
            with store.get("big").body as body:
                for chunk in body:
                    got.update(chunk)
                    total += len(chunk)
            _, get_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == size
        assert got.hexdigest() == source.digest.hexdigest()
        assert store.head("big").size == size
        assert store.get_range("big", size - 10) == store.get_range("big", -10)
        # Flat memory: far below the object's size in both directions.
        assert put_peak < 16 << 20, put_peak
        assert get_peak < 16 << 20, get_peak


def _reserved(root: Path, area: str) -> list[str]:
    return sorted(path.name for path in (root / ".satchel" / area).iterdir())


def test_aborted_multipart_leaves_nothing(sshd_server: servers.Server, sftp_root: Path) -> None:
    with bare_store(sshd_server, sftp_root) as store:
        upload = store.put_multipart("parts")
        upload.put_part(2, b"b" * 1000)
        upload.put_part(1, b"a" * 1000)
        upload.put_part(1, b"A" * 1000)
        assert len(_reserved(sftp_root, "multipart")) == 1
        upload.abort()
        upload.abort()
        assert not store.exists("parts")
        assert _reserved(sftp_root, "multipart") == []
        assert _reserved(sftp_root, "staging") == []
        assert list(store.list()) == []


def test_dead_writers_leftovers_are_removed_at_open(sshd_server: servers.Server, sftp_root: Path) -> None:
    with bare_store(sshd_server, sftp_root) as store:
        store.put("kept", b"x")
    dead = subprocess.Popen(["true"])
    dead.wait()
    staging = sftp_root / ".satchel" / "staging"
    host = this_host()
    (staging / f"{host}-{dead.pid}-abc.tmp").write_bytes(b"half written")
    old = staging / "otherhost-1234-def.tmp"
    old.write_bytes(b"forgotten")
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    live = staging / f"{host}-{os.getpid()}-ghi.tmp"
    live.write_bytes(b"being written")
    upload = sftp_root / ".satchel" / "multipart" / f"{host}-{dead.pid}-jkl"
    upload.mkdir()
    (upload / "1.abc").write_bytes(b"part")
    with bare_store(sshd_server, sftp_root) as store:
        assert [meta.key for meta in store.list()] == ["kept"]
        assert store.list_with_delimiter("").common_prefixes == []
    assert _reserved(sftp_root, "staging") == [live.name]
    assert _reserved(sftp_root, "multipart") == []


def test_create_is_atomic_among_racing_writers(sshd_server: servers.Server, sftp_root: Path) -> None:
    winners: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def create(worker: int) -> None:
        with bare_store(sshd_server, sftp_root) as store:
            barrier.wait()
            for round_ in range(5):
                try:
                    store.put(f"race-{round_}", str(worker).encode(), mode="create")
                except AlreadyExists:
                    continue
                with lock:
                    winners.append(round_)

    threads = [threading.Thread(target=create, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(winners) == [0, 1, 2, 3, 4]


def test_files_written_by_other_programs(sshd_server: servers.Server, sftp_root: Path) -> None:
    with bare_store(sshd_server, sftp_root) as store:
        store.put("edited", b"satchel wrote this", content_type="text/plain", metadata={"a": "b"})
        (sftp_root / "foreign").write_bytes(b"from elsewhere")
        os.utime(sftp_root / "edited", (1_000_000_000, 1_000_000_000))  # edited in place by another program
        foreign = store.head("foreign")
        assert foreign.size == len(b"from elsewhere")
        assert foreign.etag
        assert store.get_bytes("foreign") == b"from elsewhere"
        edited = store.head("edited")
        assert edited.content_type is None
        assert edited.metadata == {}
        assert [meta.key for meta in store.list()] == ["edited", "foreign"]
