"""Benchmark: ``satchel serve`` (Sentry's Objectstore protocol) against nginx's WebDAV, Azurite and moto, over HTTP.

The script starts every server itself on a free 127.0.0.1 port and stops each by its PID at the end:
``satchel serve`` once per ASGI engine (``satchel-uvicorn``, ``satchel-granian``; a local folder without fsync),
Debian's nginx with ``dav_methods PUT`` as the ceiling (installed with apt if missing; one process, like the
satchel contenders, leaving the other core to the client; see ``bench/_nginx.py``), and the emulators the tests
use, Azurite and moto (``tests/servers.py``), for orientation. ``asgi-floor`` is a bare ASGI app under uvicorn
that keeps objects in a dict (``bench/_floor_app.py``): no app under uvicorn can beat it, so its ratios show how
much of each target uvicorn and the client leave to any app on this machine. ``file-floor``
(``bench/_file_floor_app.py``) makes the system calls of satchel's local folder and nothing else: the distance
from it to satchel is satchel's own Python. One lean client drives them all from this process:
``http.client`` with a keep-alive connection per thread, which costs about half the client CPU of urllib3's
pool per 1 KiB request against nginx.

Workloads: 1 KiB PUT, then GET of the same keys, with 1 and 8 client threads; one 256 MiB PUT (a bytes object
sent with one ``sendall``) and GET (read with ``readinto`` into one reused buffer; size and samples checked).
The servers take turns, round after round, as in ``bench/remote.py``: small operations are summed over the
rounds (5000 per workload in 20 rounds of 250; ``--quick``: 600 in 6), a large transfer is made in 5 of the
rounds (``--quick``: 3) and reports its median. Short turns matter here: this VM's speed changes by up to 3x
within seconds with the host's load, and 5 long turns per server let one slow spell decide a ratio. Each
row shows the CPU time per operation of the server (its process tree's, from ``/proc``) and of this client
(which shows when the client, not the server, is the limit, as for nginx's 1 KiB GETs). Each server's peak RSS
is the sum of ``VmHWM`` over the process it was started as and its living descendants: exact for one process,
an upper bound for a tree (granian's parent and worker).

Targets (satchel serve), for each engine: every 1 KiB workload >= 0.5x nginx's ops/s, 256 MiB GET >= 0.6x and
256 MiB PUT >= 0.5x nginx's MiB/s, peak RSS < 150 MiB. The engine meeting more targets wins (ties: the higher
geometric mean of the six speed ratios); the lead picks the default ASGI server from it.

    python bench/server.py [--quick] [--engines uvicorn,granian] [--large-mib 256]

``--engines ''`` runs the reference servers alone.
"""

from __future__ import annotations

import argparse
import math
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _process
import servers
from _contenders import (
    Contender,
    probe,
    start_azurite,
    start_file_floor,
    start_floor,
    start_moto,
    start_nginx,
    start_satchel,
)

KIB = 1024
MIB = 1024 * 1024
THREADS = 8
TURN_LIMIT = 120.0  # seconds one server may spend on one small workload in one round; it then stops early
SMALL_TARGET, GET_TARGET, PUT_TARGET = 0.5, 0.6, 0.5
RSS_LIMIT_MIB = 150.0


@dataclass
class Result:
    workload: str
    contender: str
    ops: int
    nbytes: int
    seconds: float
    server_cpu: float
    client_cpu: float

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds

    @property
    def mib_per_second(self) -> float:
        return self.nbytes / MIB / self.seconds

    @property
    def server_ms_per_op(self) -> float:
        return self.server_cpu / self.ops * 1000

    @property
    def client_ms_per_op(self) -> float:
        return self.client_cpu / self.ops * 1000


Op = Callable[[str, memoryview], None]


def _spread(pool: ThreadPoolExecutor, threads: int, keys: list[str], op: Op) -> list[str]:
    """Run ``op`` on every key, split over ``threads`` threads, and return the keys done before TURN_LIMIT."""
    deadline = time.perf_counter() + TURN_LIMIT

    def work(share: list[str]) -> list[str]:
        buffer = memoryview(bytearray(64 * KIB))
        done = []
        for key in share:
            if time.perf_counter() > deadline:
                break
            op(key, buffer)
            done.append(key)
        return done

    if threads == 1:
        return work(keys)
    futures = [pool.submit(work, keys[i::threads]) for i in range(threads)]
    return [key for future in futures for key in future.result()]


def _measure(workload: str, contender: Contender, op_bytes: int, run: Callable[[], int]) -> Result:
    server0 = _process.cpu_seconds(contender.pid)
    client0, start = time.process_time(), time.perf_counter()
    ops = run()
    seconds, client = time.perf_counter() - start, time.process_time() - client0
    server = _process.cpu_seconds(contender.pid) - server0
    return Result(workload, contender.name, ops, ops * op_bytes, seconds, server, client)


def _small_turn(
    pool: ThreadPoolExecutor, c: Contender, threads: int, keys: list[str], payload: bytes
) -> tuple[Result, Result]:
    """PUT ``payload`` under every key, then GET back the keys the PUTs reached, with ``threads`` threads."""
    label = f"1 KiB x{threads}"
    done: list[str] = []

    def put(key: str, _: memoryview) -> None:
        c.client.put(c.path(key), payload, c.put_headers, c.put_ok)

    def get(key: str, buffer: memoryview) -> None:
        got = c.client.get_into(c.path(key), buffer, {})
        if buffer[:got] != payload:
            raise AssertionError(f"{c.name}: GET {key} returned {got} other bytes than PUT sent")

    def put_all() -> int:
        done.extend(_spread(pool, threads, keys, put))
        return len(done)

    def get_all() -> int:
        return len(_spread(pool, threads, done, get))

    return _measure(f"put {label}", c, KIB, put_all), _measure(f"get {label}", c, KIB, get_all)


def _large_turn(c: Contender, big: bytes, into: memoryview) -> tuple[Result, Result]:
    """PUT ``big`` in one ``sendall``, then GET it back into ``into``, checking its size and three samples."""
    size = len(big)

    def put() -> int:
        c.client.put(c.path("large"), big, c.put_headers, c.put_ok)
        return 1

    def get() -> int:
        got = c.client.get_into(c.path("large"), into, {})
        if got != size:
            raise AssertionError(f"{c.name}: GET large returned {got} bytes, not {size}")
        return 1

    results = _measure(f"put {size // MIB} MiB", c, size, put), _measure(f"get {size // MIB} MiB", c, size, get)
    for sample in (slice(0, 64 * KIB), slice(size // 2, size // 2 + 64 * KIB), slice(size - 64 * KIB, size)):
        if into[sample] != big[sample]:
            raise AssertionError(f"{c.name}: GET large returned other bytes than PUT sent")
    return results


def run_rounds(contenders: list[Contender], small: int, large: int, rounds: int, large_rounds: int) -> list[Result]:
    """Run every workload in ``rounds`` rounds, the servers taking turns within each round.

    Taking turns spreads the drift of a shared 2-core machine (other processes, page cache, writeback, and
    the host's own load, which changes this VM's speed by up to 3x within seconds) over all servers: the more
    and shorter the turns, the more evenly. Small operations are summed over the rounds. A large transfer is
    one operation, made in ``large_rounds`` of the rounds spread over the run, and its median is reported.
    """
    payload = secrets.token_bytes(KIB)
    big = secrets.token_bytes(large)
    into = memoryview(bytearray(large))
    per_round = max(1, small // rounds)
    large_every = max(1, rounds // max(1, large_rounds))
    runs: dict[tuple[str, str], list[Result]] = {}

    def record(result: Result) -> None:
        runs.setdefault((result.workload, result.contender), []).append(result)

    with ThreadPoolExecutor(THREADS) as pool:  # one pool for the whole run: its threads keep their connections
        for round_number in range(rounds):
            shift = round_number % len(contenders)
            turn = contenders[shift:] + contenders[:shift]
            for threads in (1, THREADS):
                keys = [f"small{threads}/{round_number}/{i:06d}" for i in range(per_round)]
                for c in turn:
                    for result in _small_turn(pool, c, threads, keys, payload):
                        record(result)
            if round_number % large_every == large_every - 1:
                for c in turn:
                    for result in _large_turn(c, big, into):
                        record(result)
    results = []
    for (workload, contender), measured in runs.items():
        if "1 KiB" in workload:
            results.append(
                Result(
                    workload,
                    contender,
                    sum(r.ops for r in measured),
                    sum(r.nbytes for r in measured),
                    sum(r.seconds for r in measured),
                    sum(r.server_cpu for r in measured),
                    sum(r.client_cpu for r in measured),
                )
            )
        else:
            seconds = statistics.median(r.seconds for r in measured)
            server = statistics.median(r.server_cpu for r in measured)
            client = statistics.median(r.client_cpu for r in measured)
            results.append(Result(workload, contender, 1, large, seconds, server, client))
    return results


def _speed(result: Result) -> float:
    return result.ops_per_second if "1 KiB" in result.workload else result.mib_per_second


def report(results: list[Result], names: list[str], rss: dict[str, list[float]]) -> None:
    """Print the table, the peak RSS of every server, the targets and which satchel engine wins."""
    by = {(r.workload, r.contender): r for r in results}
    workloads = list(dict.fromkeys(r.workload for r in results))
    ratio = {key: _speed(r) / _speed(by[(key[0], "nginx")]) for key, r in by.items()}
    columns = ("ops/s", 10), ("MiB/s", 10), ("x nginx", 9), ("server CPU ms/op", 18), ("client CPU ms/op", 18)
    print(f"{'workload':<16}{'server':<17}" + "".join(f"{name:>{width}}" for name, width in columns))
    for workload in workloads:
        for name in names:
            r = by[(workload, name)]
            ops = f"{r.ops_per_second:>10.0f}" if r.ops_per_second >= 100 else f"{r.ops_per_second:>10.2f}"
            print(
                f"{workload:<16}{name:<17}{ops}{r.mib_per_second:>10.1f}"
                f"{ratio[(workload, name)]:>8.2f}x{r.server_ms_per_op:>18.3f}{r.client_ms_per_op:>18.3f}"
            )
    print("\npeak RSS (sum of VmHWM over the server's process tree)")
    for name in names:
        peaks = rss[name]
        tree = f"{len(peaks)} processes, largest {max(peaks):.1f} MiB" if len(peaks) > 1 else "1 process"
        print(f"  {name:<17}{sum(peaks):>8.1f} MiB  ({tree})")
    engines = [name for name in names if name.startswith("satchel-")]
    if not engines:
        print("\nno satchel engine ran: targets not checked")
        return
    print()
    score: dict[str, tuple[int, float]] = {}
    for name in engines:
        checks = []
        for workload in workloads:
            need = SMALL_TARGET if "1 KiB" in workload else GET_TARGET if workload.startswith("get") else PUT_TARGET
            got = ratio[(workload, name)]
            checks.append((f"{workload} >= {need}x nginx", f"{got:.2f}x", got >= need))
        peak = sum(rss[name])
        checks.append((f"peak RSS < {RSS_LIMIT_MIB:.0f} MiB", f"{peak:.1f} MiB", peak < RSS_LIMIT_MIB))
        for target, got_text, met in checks:
            print(f"target {target:<26} {name:<17}{got_text:>10}  {'ok' if met else 'MISSED'}")
        mean = math.exp(statistics.fmean(math.log(ratio[(w, name)]) for w in workloads))
        score[name] = (sum(met for *_, met in checks), mean)
        print(f"       {name}: {score[name][0]}/{len(checks)} targets met, geometric mean {mean:.2f}x nginx\n")
    winner = max(engines, key=lambda name: score[name])
    if len(engines) > 1:
        print(f"winner: {winner.removeprefix('satchel-')} ({score[winner][0]} targets, {score[winner][1]:.2f}x nginx)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer small operations and rounds, for a smoke run")
    parser.add_argument("--engines", default="uvicorn,granian", help="satchel serve --engine values, comma-separated")
    parser.add_argument("--large-mib", type=int, default=256, help="size of the large object (default 256)")
    args = parser.parse_args()
    engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    small = 600 if args.quick else 5000
    rounds = 6 if args.quick else 20
    large_rounds = 3 if args.quick else 5
    large = args.large_mib * MIB
    satchels: list[Contender] = []
    peers: list[Contender] = []
    try:
        for engine in engines:  # first: if satchel serve cannot start, nothing else is waited for
            try:
                satchels.append(start_satchel(engine))
            except servers.ServerFailed as exc:
                raise SystemExit(f"satchel serve --engine {engine} could not start:\n{exc}") from None
        for start in (start_nginx, start_floor, start_file_floor, start_azurite, start_moto):
            peers.append(start())  # noqa: PERF401 -- one at a time, so `finally` stops those that did start
        contenders = peers + satchels
        for contender in contenders:
            probe(contender)
        print(
            ", ".join(f"{c.name} at {c.server.endpoint} (pid {c.pid})" for c in contenders)
            + f"\n{small} small ops per workload in {rounds} rounds taking turns, "
            f"{large // MIB} MiB large in {large_rounds} of them (median)\n"
        )
        try:
            results = run_rounds(contenders, small, large, rounds, large_rounds)
        except Exception:
            for c in contenders:  # the failing request's server usually says why
                print(f"--- {c.name} log tail ---\n{c.server.log_tail(8)}", file=sys.stderr)
            raise
        rss = {c.name: _process.peak_rss_mib(c.pid) for c in contenders}
        report(results, [c.name for c in contenders], rss)
    finally:
        for contender in peers + satchels:
            contender.stop()


if __name__ == "__main__":
    main()
