"""The conditional-update race: processes sharing a local folder, threads sharing a memory store."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

import satchel
from satchel.backend import ForwardingBackend
from satchel.backends.memory import MemoryBackend
from satchel.errors import PreconditionFailed
from satchel.path import Key
from satchel.testing.race import run_increment_race
from satchel.types import GetOptions, PutMode, PutOptions, PutResult


@pytest.mark.slow
def test_processes_on_a_local_folder(tmp_path: Path) -> None:
    result = run_increment_race(tmp_path / "root", "counters/a", workers=4, increments=25, options={"fsync": False})
    assert result.final == result.expected == 100


@pytest.mark.slow
def test_processes_through_a_file_url(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/root?fsync=false&prefix=ns/"
    result = run_increment_race(url, "counter", workers=3, increments=10)
    assert result.final == result.expected == 30
    assert satchel.open(tmp_path / "root").get_bytes("ns/counter") == b"30"


@pytest.mark.parametrize("url", ["memory://", "memory://?prefix=ns/"])
def test_threads_on_memory(url: str) -> None:
    result = run_increment_race(satchel.open(url), "counter", workers=4, increments=25)
    assert result.final == result.expected == 100


class _CheckThenWrite(ForwardingBackend):
    """A broken conditional update: it checks the etag, then overwrites without holding anything."""

    def put(self, key: Key, payload: object, options: PutOptions) -> PutResult:
        if options.mode is PutMode.UPDATE:
            current = self.inner.get(key, GetOptions(head=True)).meta.etag
            if current != options.if_match:
                raise PreconditionFailed("etag changed", key=key)
            time.sleep(0.002)  # widen the window another worker slips through
            options = dataclasses.replace(options, mode=PutMode.OVERWRITE, if_match=None)
        return self.inner.put(key, payload, options)  # type: ignore[arg-type]


def test_race_catches_lost_updates() -> None:
    result = run_increment_race(satchel.Store(_CheckThenWrite(MemoryBackend())), "counter", workers=4, increments=10)
    assert result.expected == 40
    assert result.final < result.expected
    assert not result.ok


def test_failing_worker_is_reported() -> None:
    store = satchel.Store(MemoryBackend())
    with pytest.raises(RuntimeError, match="worker"):
        run_increment_race(satchel.Store(_NoEtags(store.backend)), "counter", workers=2, increments=1)


class _NoEtags(ForwardingBackend):
    def get(self, key: Key, options: GetOptions) -> satchel.GetResult:
        result = self.inner.get(key, options)
        result.meta = dataclasses.replace(result.meta, etag=None)
        return result
