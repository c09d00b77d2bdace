"""Flat memory: streaming a large object through the local store never holds it whole.

Each scenario runs in a fresh interpreter so its peak RSS (``VmHWM``) measures that scenario alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SIZE_MIB = 256
# Measured: 33-43 MiB (the interpreter, satchel, zstandard, 1 MiB chunks, the 8 MiB writer buffer); reading
# the object whole instead peaks at 280 MiB.
LIMIT_MIB = 80

PRELUDE = """
import hashlib, os, sys
import satchel

SIZE = {size} << 20
root = sys.argv[1]
store = satchel.open(root, fsync=False)

def chunks():
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB per chunk
    for i in range(SIZE >> 20):
        yield block[:-8] + i.to_bytes(8, "big")

def peak_mib():
    # VmHWM belongs to this address space; ru_maxrss would include the parent's peak, as Linux keeps it
    # across execve.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
"""

SCENARIOS = {
    "put-iterable-and-stream-get": """
store.put("big", chunks())
total = 0
with store.get("big").body as body:
    for chunk in body:
        total += len(chunk)
assert total == SIZE, total
""",
    "writer-and-reader": """
with store.open("big", "wb") as f:
    for chunk in chunks():
        f.write(chunk)
total = 0
with store.open("big", "rb") as f:
    while chunk := f.read(1 << 20):
        total += len(chunk)
assert total == SIZE, total
""",
    "compressed-put-get-and-range": """
store.put("big", chunks(), compress="zstd")
total = 0
with store.get("big").body as body:
    for chunk in body:
        total += len(chunk)
assert total == SIZE, total
assert len(store.get_range("big", SIZE - 100)) == 100
""",
    "upload-and-download-file": """
path = os.path.join(root, "..", "local.bin")
with open(path, "wb") as f:
    for chunk in chunks():
        f.write(chunk)
seen = []
store.upload_file(path, "big", progress=lambda done, total: seen.append(done))
store.download_file("big", path + ".out", progress=lambda done, total: seen.append(done))
assert os.path.getsize(path + ".out") == SIZE
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_streaming_keeps_memory_flat(tmp_path: Path, scenario: str) -> None:
    script = textwrap.dedent(PRELUDE.format(size=SIZE_MIB)) + textwrap.dedent(SCENARIOS[scenario])
    script += "\nprint(peak_mib())\n"
    root = tmp_path / "root"
    # glibc raises its mmap threshold after large frees and then keeps freed chunks on the heap, which shows
    # as RSS without being live memory; fixed thresholds make the peak measure what the code holds.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(root)], capture_output=True, text=True, timeout=300, check=False, env=env
    )
    assert done.returncode == 0, done.stderr
    peak = float(done.stdout.strip().splitlines()[-1])
    assert peak < LIMIT_MIB, f"{scenario}: peak RSS {peak:.0f} MiB for a {SIZE_MIB} MiB object"
