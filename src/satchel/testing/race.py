"""The conditional-update race: N workers each add 1 to a counter M times, and the counter must end at N*M.

Each increment reads the counter and its etag, then writes the value plus one with ``if_match`` set to that
etag, starting over on :class:`~satchel.errors.PreconditionFailed`. A lost update (two workers both writing
on the same etag) leaves the counter short; an update applied twice leaves it long.

:func:`run_increment_race` runs the workers as threads sharing one Store, or, given a URL, as separate
processes (``multiprocessing`` with the ``spawn`` start method) that each open the store from that URL: the
honest test for stores that several processes share, such as a local folder.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import traceback
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier
from typing import Any

import satchel
from satchel.errors import NotSupported, PreconditionFailed
from satchel.store import Store

__all__ = ["RaceResult", "increment", "run_increment_race"]

_GATE_TIMEOUT = 60.0


@dataclass(frozen=True)
class RaceResult:
    """How a race ended: the counter's final value, the value it should have, and the retries it took."""

    final: int
    expected: int
    conflicts: int

    @property
    def ok(self) -> bool:
        """True when no update was lost or applied twice."""
        return self.final == self.expected


def increment(store: Store, key: str, times: int) -> int:
    """Add 1 to the decimal counter at ``key`` ``times`` times with conditional updates.

    Returns the number of conflicts (``PreconditionFailed`` retries) it ran into.

    Raises:
        NotSupported: the store returns no etags, so it cannot update conditionally.
        NotFound: the counter does not exist.
    """
    conflicts = 0
    for _ in range(times):
        while True:
            result = store.get(key)
            with result.body as body:
                value = int(body.read())
            etag = result.meta.etag
            if etag is None:
                raise NotSupported("the store returns no etags", key=key, operation="increment")
            try:
                store.put(key, str(value + 1).encode(), if_match=etag)
            except PreconditionFailed:
                conflicts += 1
                continue
            break
    return conflicts


def run_increment_race(
    target: Store | str | os.PathLike[str],
    key: str,
    *,
    workers: int = 4,
    increments: int = 25,
    options: Mapping[str, Any] | None = None,
    timeout: float = 240.0,
) -> RaceResult:
    """Race ``workers`` workers of ``increments`` increments each on the counter ``key`` and report the end.

    Args:
        target: a Store (the workers are threads sharing it), or a URL or path that :func:`satchel.open`
            accepts (the workers are processes started with ``spawn``, each opening the store itself).
        key: the counter's key; it is set to 0 first and left in place afterwards.
        options: keyword options for :func:`satchel.open` (URL targets only).
        timeout: seconds to wait for process workers before they are terminated.

    Raises:
        RuntimeError: a worker failed or did not finish in time (the message carries its traceback).
    """
    if isinstance(target, Store):
        if options:
            raise ValueError("options apply to URL targets only")
        return _race_threads(target, key, workers, increments)
    return _race_processes(os.fspath(target), dict(options or {}), key, workers, increments, timeout)


def _race_threads(store: Store, key: str, workers: int, increments: int) -> RaceResult:
    store.put(key, b"0")
    gate = threading.Barrier(workers)

    def work() -> int:
        gate.wait(timeout=_GATE_TIMEOUT)
        return increment(store, key, increments)

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        conflicts = 0
        for number, future in enumerate(futures):
            try:
                conflicts += future.result()
            except Exception as err:
                raise RuntimeError(f"worker {number} failed: {err!r}") from err
    return RaceResult(int(store.get_bytes(key)), workers * increments, conflicts)


def _race_processes(
    url: str, options: dict[str, Any], key: str, workers: int, increments: int, timeout: float
) -> RaceResult:
    with satchel.open(url, **options) as store:
        store.put(key, b"0")
    context = multiprocessing.get_context("spawn")
    gate = context.Barrier(workers)
    results: multiprocessing.Queue[tuple[int, int, str | None]] = context.Queue()
    processes = [
        context.Process(
            target=_process_worker,
            args=(number, url, options, key, increments, gate, results),
            name=f"satchel-race-{number}",
        )
        for number in range(workers)
    ]
    for process in processes:
        process.start()
    conflicts = 0
    failures: list[str] = []
    try:
        for _ in processes:
            try:
                number, count, error = results.get(timeout=timeout)
            except queue.Empty:
                failures.append(f"workers did not finish within {timeout} s")
                break
            if error is not None:
                failures.append(f"worker {number} failed:\n{error}")
            conflicts += count
    finally:
        for process in processes:
            process.join(timeout=5 if failures else timeout)
            if process.is_alive():
                process.terminate()
                process.join()
        results.close()
    if failures:
        raise RuntimeError("\n".join(failures))
    with satchel.open(url, **options) as store:
        final = int(store.get_bytes(key))
    return RaceResult(final, workers * increments, conflicts)


def _process_worker(
    number: int,
    url: str,
    options: dict[str, Any],
    key: str,
    increments: int,
    gate: Barrier,
    results: multiprocessing.Queue[tuple[int, int, str | None]],
) -> None:
    try:
        with satchel.open(url, **options) as store:
            gate.wait(timeout=_GATE_TIMEOUT)
            conflicts = increment(store, key, increments)
    except BaseException:  # noqa: BLE001 - everything is reported to the parent, which raises it
        results.put((number, 0, traceback.format_exc()))
        return
    results.put((number, conflicts, None))
