"""SIGKILL ``satchel serve`` during concurrent uploads: after each restart every object is absent or whole.

Several clients stream large self-verifying payloads (chunked PUTs of 1-8 MiB) over known keys, overwriting
earlier versions, and the server is killed at a random moment, then restarted on the same data folder. After
each restart every key must answer 404 or a whole payload whose digest matches, and that payload must be the
last version acknowledged for it or the one in flight when the server died (an acknowledged write survives
the kill: the page cache outlives the process). The only files outside ``.satchel/`` are those objects.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import urllib3

import servers

SEED = 20260817
KILLS = 30
TIME_BUDGET = 240.0  # a safety net against a hang; the loop takes about 40 s on two shared cores
CLIENTS = 4
KEYS_PER_CLIENT = 2
USECASE, SCOPE = "crash", "org=1"
CHUNK = 256 << 10
HEADER = struct.Struct(">Q32s")  # the payload's total length, then the SHA-256 of everything after the header


def make_payload(rng: random.Random) -> bytes:
    """Return 1-8 MiB whose header states its length and the digest of the rest."""
    size = rng.randrange(1 << 20, 8 << 20)
    body = rng.randbytes(size - HEADER.size)
    return HEADER.pack(size, hashlib.sha256(body).digest()) + body


def check_payload(data: bytes) -> bytes:
    """Return the digest of a whole, self-consistent payload; fail on a torn one."""
    assert len(data) >= HEADER.size, f"a {len(data)}-byte object is shorter than its header"
    size: int
    digest: bytes
    size, digest = HEADER.unpack_from(data)
    assert len(data) == size, f"a torn object: {len(data)} bytes of {size}"
    assert hashlib.sha256(data[HEADER.size :]).digest() == digest, "an object whose digest does not match"
    return digest


def object_path(key: str) -> str:
    return f"/v1/objects/{USECASE}/{SCOPE}/{key}"


@dataclass
class KeyState:
    """What a key may hold: the version last acknowledged (None: absent) and the one in flight at the kill."""

    acked: bytes | None = None
    in_flight: bytes | None = None


@dataclass
class Round:
    """One server life: the clients' threads and what they saw."""

    started: threading.Barrier
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    puts: int = 0
    cut: int = 0

    def count(self, *, puts: int = 0, cut: int = 0) -> None:
        with self.lock:
            self.puts += puts
            self.cut += cut


def upload_forever(
    server: servers.Server, keys: list[str], states: dict[str, KeyState], rng: random.Random, run: Round
) -> None:
    """Overwrite ``keys`` with fresh payloads until the server dies; record each version's fate in ``states``."""
    pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False, timeout=30.0)
    waited = False
    sent = 0

    def chunks(data: bytes) -> Iterator[bytes]:
        nonlocal waited, sent
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
            sent += 1
            if not waited:  # the kill is timed from the moment every client is mid-upload
                waited = True
                run.started.wait()

    try:
        while not run.stop.is_set():
            key = rng.choice(keys)
            data = make_payload(rng)
            state = states[key]
            state.in_flight = HEADER.unpack_from(data)[1]
            sent = 0
            try:
                response = pool.urlopen("PUT", object_path(key), body=chunks(data), chunked=True)
            except (urllib3.exceptions.HTTPError, OSError) as err:
                if not waited:
                    run.errors.append(f"PUT {key} failed before the kill: {err!r}")
                run.count(cut=int(sent > 0))  # the server died; this version may or may not have landed
                return
            if response.status != 200:
                run.errors.append(f"PUT {key} answered {response.status}: {response.data[:200]!r}")
                return
            state.acked, state.in_flight = state.in_flight, None
            run.count(puts=1)
    except threading.BrokenBarrierError:
        return
    finally:
        if not waited:
            run.started.abort()  # wake the test at once instead of at the barrier's timeout
        pool.close()


def kill(server: servers.Server) -> None:
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


def check_after_restart(server: servers.Server, states: dict[str, KeyState]) -> int:
    """Check every key and the data folder; settle ``states`` to what survived; return how many keys are present."""
    pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False, timeout=30.0)
    present: set[str] = set()
    try:
        for key, state in states.items():
            response = pool.request("GET", object_path(key))
            allowed = {state.acked, state.in_flight} - {None}
            if response.status == 404:
                assert state.acked is None, f"{key}: an acknowledged write was lost"
                state.in_flight = None
                continue
            assert response.status == 200, f"GET {key} answered {response.status}"
            digest = check_payload(response.data)
            assert digest in allowed, f"{key}: holds a version that was neither acknowledged nor in flight"
            state.acked, state.in_flight = digest, None
            present.add(key)
    finally:
        pool.close()
    data = Path(server.extra["data"])
    outside = {
        str(path.relative_to(data))
        for path in data.rglob("*")
        if path.is_file() and path.relative_to(data).parts[0] != ".satchel"
    }
    expected = {f"{USECASE}/org.1/objects/{key}" for key in present}
    assert outside == expected, f"files outside .satchel/ other than the objects: {sorted(outside - expected)}"
    return len(present)


@pytest.mark.slow
def test_killed_server_never_serves_a_partial_object(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    workdir = tmp_path / "serve"
    spool = workdir / "tmp"  # the servers' temp folders: killed servers leave theirs behind, removed with workdir
    spool.mkdir(parents=True)
    keys = [f"k{client}-{n}" for client in range(CLIENTS) for n in range(KEYS_PER_CLIENT)]
    states = {key: KeyState() for key in keys}
    kills = torn = puts = 0
    deadline = time.monotonic() + TIME_BUDGET
    server = servers.start_satchel(workdir=workdir, env={"TMPDIR": str(spool)})
    try:
        while kills < KILLS and time.monotonic() < deadline:
            run = Round(threading.Barrier(CLIENTS + 1, timeout=20.0))
            threads = [
                threading.Thread(
                    target=upload_forever,
                    args=(server, keys[c * KEYS_PER_CLIENT : (c + 1) * KEYS_PER_CLIENT], states),
                    kwargs={"rng": random.Random(rng.getrandbits(64)), "run": run},
                )
                for c in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            try:
                run.started.wait()
            except threading.BrokenBarrierError:
                pytest.fail(f"a client stopped before its first upload: {run.errors}\n{server.log_tail()}")
            time.sleep(rng.uniform(0.0, 0.3))
            kill(server)
            run.stop.set()
            for thread in threads:
                thread.join(timeout=30)
                assert not thread.is_alive(), "a client hung after the kill"
            assert not run.errors, run.errors
            kills += 1
            puts += run.puts
            torn += run.cut
            server = servers.start_satchel(workdir=workdir, env={"TMPDIR": str(spool)})
            check_after_restart(server, states)
        present = check_after_restart(server, states)
        left = len(list(spool.iterdir())) - 1  # the running server's own
    finally:
        servers.stop(server)
    assert kills >= KILLS, f"only {kills} kills fit in {TIME_BUDGET} s"
    assert torn >= kills, f"only {torn} uploads were in flight across {kills} kills: the kills miss the uploads"
    print(
        f"{kills} kills, {puts} acknowledged puts, {torn} uploads cut by a kill, {present} keys present at the end, "
        f"{left} temp folders left by killed servers"
    )
