"""Helpers of the local backend tests: mounts, worker processes, and the crash-test writer.

Worker functions live here (not in the test modules) so processes started with the "spawn" context can import
them by module name. Run as a script, this module is the crash test's writer factory:
``python local_helpers.py ROOT KEY`` reads one line per writer from stdin ("1" to fsync, "0" not to) and forks a
writer that replaces KEY forever with self-verifying values. The writer prints ``ready PID`` after its first put;
once it is dead (the test kills it) the factory prints ``dead``.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from satchel.backends.local import LocalBackend
from satchel.errors import AlreadyExists, PreconditionFailed
from satchel.path import Key
from satchel.types import Attributes, GetOptions, ObjectMeta, PutMode, PutOptions

CRASH_MAX_PAYLOAD = 2 << 20


@contextmanager
def mounted(kind: str, where: Path, options: str = "") -> Iterator[Path]:
    """Mount a fresh ``kind`` filesystem (tmpfs, ramfs) at ``where`` for the block; fail the test if we cannot."""
    where.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", kind, *(["-o", options] if options else []), kind, str(where)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        pytest.fail("the `mount` command is missing; this test needs it (and root) to mount a real filesystem")
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` failed (this test needs root to mount a real {kind}): {result.stderr.strip()}"
        )
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def internal_names(root: Path) -> list[str]:
    """Return every name in the backend's staging and multipart folders."""
    return sorted(os.listdir(root / ".satchel" / "staging")) + sorted(os.listdir(root / ".satchel" / "multipart"))


def read_counter(backend: LocalBackend, key: str) -> tuple[int, str]:
    """Return the integer stored at ``key`` and its etag."""
    result = backend.get(Key(key), GetOptions())
    with result.body as body:
        value = int(body.read())
    assert result.meta.etag is not None
    return value, result.meta.etag


def increment_worker(root: str, key: str, times: int) -> int:
    """Add 1 to the counter at ``key`` ``times`` times with if_match, retrying lost races; return the retries."""
    backend = LocalBackend(root, fsync=False)
    retries = 0
    for _ in range(times):
        while True:
            value, etag = read_counter(backend, key)
            try:
                backend.put(Key(key), str(value + 1).encode(), PutOptions(mode=PutMode.UPDATE, if_match=etag))
                break
            except PreconditionFailed:
                retries += 1
    return retries


def create_worker(root: str, key: str, barrier: Any, token: str) -> bool:
    """Wait at ``barrier``, then try to create ``key`` holding ``token``; return True if this call won."""
    backend = LocalBackend(root, fsync=False)
    barrier.wait()
    try:
        backend.put(Key(key), token.encode(), PutOptions(mode=PutMode.CREATE))
    except AlreadyExists:
        return False
    return True


def crash_value(rng: random.Random) -> tuple[bytes, Attributes]:
    """Return a self-verifying value (a header with length and sha256, then the payload) and its attributes."""
    payload = rng.randbytes(rng.randint(0, CRASH_MAX_PAYLOAD))
    digest = hashlib.sha256(payload).hexdigest()
    data = f"{len(payload)}:{digest}\n".encode() + payload
    metadata = {"digest": digest, "nonce": rng.randbytes(8).hex()}
    return data, Attributes(content_type="application/x-crash-test", metadata=metadata)


def check_crash_value(data: bytes, meta: ObjectMeta) -> None:
    """Assert that ``data`` is one complete crash-test value and that ``meta`` was written with it."""
    header, newline, payload = data.partition(b"\n")
    assert newline, f"no header in {len(data)} bytes"
    length, _, digest = header.decode().partition(":")
    assert len(payload) == int(length), "the payload is truncated or padded"
    assert hashlib.sha256(payload).hexdigest() == digest, "the payload is corrupt"
    assert meta.metadata.get("digest") == digest, "the metadata belongs to another value"
    assert meta.content_type == "application/x-crash-test"
    assert meta.size == len(data)


def _crash_writer(root: str, key: str, fsync: bool) -> None:
    backend = LocalBackend(root, fsync=fsync)
    rng = random.Random()
    announced = False
    factory = os.getppid()
    while os.getppid() == factory:  # a writer whose factory died (the test stopped early) stops too
        data, attributes = crash_value(rng)
        options = PutOptions(attributes=attributes)
        if rng.random() < 0.25:
            upload = backend.put_multipart(Key(key), options)
            cut = rng.randint(0, len(data))
            second = upload.put_part(2, data[cut:])
            first = upload.put_part(1, data[:cut])
            upload.complete([second, first])
        else:
            backend.put(Key(key), data, options)
        if not announced:
            os.write(1, f"ready {os.getpid()}\n".encode())
            announced = True


def _writer_factory(root: str, key: str) -> None:
    # Forking from one process that has imported satchel already makes each writer start in milliseconds, where
    # a fresh interpreter takes most of a second: the kill count no longer depends on the machine's speed.
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            try:
                _crash_writer(root, key, line.strip() == "1")
            except BaseException:
                traceback.print_exc()  # the test then reads "dead" where it waits for "ready"
            os._exit(1)
        os.waitpid(pid, 0)
        os.write(1, b"dead\n")


if __name__ == "__main__":
    _writer_factory(sys.argv[1], sys.argv[2])
