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

KILLS = 60
TIME_BUDGET = 55.0
KEY = "crash/object"
WRITER = Path(__file__).with_name("local_helpers.py")


def _start_writer(root: Path, fsync: bool) -> subprocess.Popen[bytes]:
    # The child sees exactly the modules we see, whether satchel is installed or on PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(root), KEY, "1" if fsync else "0"], stdout=subprocess.PIPE, env=env
    )


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
    while kills < KILLS and time.monotonic() < deadline:
        writer = _start_writer(root, fsync=rng.random() < 0.5)
        assert writer.stdout is not None
        try:
            assert writer.stdout.readline() == b"ready\n", "the writer died before its first put"
            time.sleep(rng.uniform(0, 0.05))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            writer.stdout.close()
        kills += 1
        _check_object(reader)
        with_leftovers += bool(internal_names(root))
    assert kills >= 50, f"only {kills} kills fit in {TIME_BUDGET} s"
    LocalBackend(root)  # reopening removes what the dead writers left
    assert internal_names(root) == []
    _check_object(reader)
    print(f"{kills} kills, {with_leftovers} left temp files or parts behind")
