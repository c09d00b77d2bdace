"""Flat server memory: a 2 GiB object goes up and down through ``satchel serve``, and a 300 MiB resumable upload
goes through its spool file, while the server's peak resident memory (``VmHWM``) stays under 150 MiB.

Each scenario has a server of its own, so its peak measures that scenario alone. The client side streams too:
the upload is a generator of 1 MiB blocks and the download is read 1 MiB at a time while it is hashed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from objectstore_client import Client, Usecase

import servers

LIMIT_MIB = 150
BIG = 2 << 30
RESUMABLE = 300 << 20
BLOCK = 1 << 20
FREE_NEEDED = 5 << 30


def blocks(size: int) -> Iterator[bytes]:
    """Yield ``size`` bytes, 1 MiB at a time, each block distinct (no two blocks compress to the same bytes)."""
    pattern = hashlib.sha256(b"satchel memory test").digest() * (BLOCK // 32)
    for index in range(size // BLOCK):
        yield pattern[:-8] + index.to_bytes(8, "big")


def peak_mib(server: servers.Server) -> float:
    """The server process's peak resident set size so far, in MiB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM in /proc/{server.process.pid}/status")


def answered(pool: urllib3.HTTPConnectionPool) -> dict[tuple[str, str], float]:
    """The server's count of answered requests by method and status, from ``/metrics``."""
    counts: dict[tuple[str, str], float] = {}
    for line in pool.request("GET", "/metrics").data.decode().splitlines():
        found = re.match(r'satchel_requests_total\{.*method="(\w+)".*status="(\d+)".*\} (\S+)$', line)
        if found:
            method, status, value = found.groups()
            counts[method, status] = counts.get((method, status), 0.0) + float(value)
    return counts


def require_free_space(folder: Path) -> None:
    """Fail unless ``folder`` (which holds the data, the server's temp files and the source file) has room."""
    free = shutil.disk_usage(folder).free
    if free < FREE_NEEDED:
        pytest.fail(f"{folder} has {free / 2**30:.1f} GiB free; this test needs {FREE_NEEDED >> 30} GiB")


def download_digest(response: urllib3.BaseHTTPResponse) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := response.read(BLOCK):
        digest.update(chunk)
        size += len(chunk)
    response.release_conn()
    return size, digest.hexdigest()


@pytest.fixture
def folders(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A data folder and a temp folder for the server; both removed at the end, whatever happened."""
    data, spool = tmp_path / "data", tmp_path / "tmp"
    data.mkdir()
    spool.mkdir()
    yield data, spool
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(spool, ignore_errors=True)


@pytest.mark.slow
def test_two_gib_up_and_down_in_flat_memory(folders: tuple[Path, Path]) -> None:
    data, spool = folders
    require_free_space(data)
    server = servers.start_satchel(store=f"file://{data}?fsync=false", env={"TMPDIR": str(spool)})
    try:
        pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False, timeout=120.0)
        path = "/v1/objects/memory/_/big"
        sent = hashlib.sha256()

        def body() -> Iterator[bytes]:
            for block in blocks(BIG):
                sent.update(block)
                yield block

        put = pool.urlopen("PUT", path, body=body(), chunked=True, headers={"content-type": "application/x-test"})
        assert put.status == 200, put.data[:300]
        got = pool.urlopen("GET", path, preload_content=False)
        assert got.status == 200
        assert download_digest(got) == (BIG, sent.hexdigest())
        peak = peak_mib(server)
    finally:
        servers.stop(server)
    assert peak < LIMIT_MIB, f"the server peaked at {peak:.0f} MiB moving a 2 GiB object"
    print(f"server peak {peak:.0f} MiB")


@pytest.mark.slow
def test_resumable_upload_in_flat_memory(folders: tuple[Path, Path], tmp_path: Path) -> None:
    data, spool = folders
    require_free_space(data)
    source = tmp_path / "source"
    written = hashlib.sha256()
    with source.open("wb") as file:
        for block in blocks(RESUMABLE):
            written.update(block)
            file.write(block)
    server = servers.start_satchel(store=f"file://{data}?fsync=false", env={"TMPDIR": str(spool)})
    try:
        session = Client(server.endpoint).session(Usecase("memory", resumable_threshold_bytes=1 << 20), org=1)
        with source.open("rb") as file:
            key = session.put(file, key="resumed", compress="none")
        assert key == "resumed"
        pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False, timeout=120.0)
        counts = answered(pool)
        # The resumable protocol was used (the client falls back to a plain PUT, answered 200, when it cannot
        # be): the session was created (PUT with a key, 200) and its one chunk completed it (201).
        assert counts.get(("PUT", "200")) == 1, counts
        assert counts.get(("PUT", "201")) == 1, counts
        leftovers = [path.name for path in spool.rglob("*") if path.is_file()]
        assert leftovers == [], f"the spool file outlived the upload: {leftovers}"
        got = pool.urlopen("GET", "/v1/objects/memory/org=1/resumed", preload_content=False)
        assert got.status == 200
        assert download_digest(got) == (RESUMABLE, written.hexdigest())
        peak = peak_mib(server)
    finally:
        servers.stop(server)
        source.unlink(missing_ok=True)
    assert peak < LIMIT_MIB, f"the server peaked at {peak:.0f} MiB for a 300 MiB resumable upload"
    print(f"server peak {peak:.0f} MiB")
