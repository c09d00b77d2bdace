"""SIGKILL a writer at random moments: readers must always see one whole object with its own metadata."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_helpers import check_crash_value, internal_names
from satchel.backends.local import LocalBackend
from satchel.path import Key
from satchel.types import GetOptions

KILLS = 100
TIME_BUDGET = 240.0  # a safety net against a hung writer; the loop takes 5-15 s on two shared cores
KEY = "crash/object"
WRITER = Path(__file__).with_name("local_helpers.py")


def _start_factory(root: Path) -> subprocess.Popen[bytes]:
    # The child sees exactly the modules we see, whether satchel is installed or on PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(root), KEY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )


def _kill_one_writer(factory: subprocess.Popen[bytes], fsync: bool, delay: float) -> None:
    """Have ``factory`` fork a writer, let it write for ``delay`` seconds after its first put, then SIGKILL it."""
    assert factory.stdin is not None
    assert factory.stdout is not None
    factory.stdin.write(b"1\n" if fsync else b"0\n")
    factory.stdin.flush()
    ready = factory.stdout.readline()
    assert ready.startswith(b"ready "), f"the writer died before its first put: {ready!r}"
    time.sleep(delay)
    os.kill(int(ready.split()[1]), signal.SIGKILL)
    assert factory.stdout.readline() == b"dead\n"


def _check_object(backend: LocalBackend) -> None:
    result = backend.get(Key(KEY), GetOptions())
    with result.body as body:
        check_crash_value(body.read(), result.meta)
    assert [meta.key for meta in backend.list("")] == [KEY]
    assert backend.list_with_delimiter("").common_prefixes == ["crash/"]


@pytest.mark.slow
def test_a_killed_writer_never_leaves_a_partial_object(tmp_path: Path) -> None:
    root = tmp_path / "root"
    reader = LocalBackend(root)
    rng = random.Random()
    kills = with_leftovers = 0
    deadline = time.monotonic() + TIME_BUDGET
    factory = _start_factory(root)
    try:
        while kills < KILLS and time.monotonic() < deadline:
            _kill_one_writer(factory, fsync=rng.random() < 0.5, delay=rng.uniform(0, 0.05))
            kills += 1
            _check_object(reader)
            with_leftovers += bool(internal_names(root))
    finally:
        factory.kill()
        factory.wait()
    assert kills >= KILLS, f"only {kills} kills fit in {TIME_BUDGET} s"
    LocalBackend(root)  # reopening removes what the dead writers left
    assert internal_names(root) == []
    _check_object(reader)
    print(f"{kills} kills, {with_leftovers} left temp files or parts behind")
