"""Benchmark: satchel's local folder against raw Python file I/O doing what a crash-safe store must do.

Raw put: write a temp file, fsync it, rename it into place, fsync the directory (the fsync steps only with
``--fsync``, matching satchel's setting). Raw get: ``open(path, "rb").read()``. Both sides run in one process:
small objects in alternating batches of 50 (totals compared), large objects in alternating rounds (best
round compared). Targets (issue 2): 256 MiB put and get >= 0.9x raw,
1 KiB put >= 0.7x raw, 1 KiB get >= 0.5x raw, listing 10,000 keys under 0.25 s.

    python bench/local.py [--fsync|--no-fsync] [--quick] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import satchel

KIB = 1024
MIB = 1024 * 1024


@dataclass
class Raw:
    """The minimum a crash-safe store does, in plain Python."""

    root: str
    fsync: bool

    def put(self, name: str, data: bytes) -> None:
        path = os.path.join(self.root, name)
        temp = os.path.join(self.root, f".tmp-{secrets.token_hex(6)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp, path)
        if self.fsync:
            dirfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)

    def get(self, name: str) -> bytes:
        with open(os.path.join(self.root, name), "rb") as f:
            return f.read()


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    """Return the fastest of ``rounds`` timings of ``fn`` in seconds."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name: str, unit: str, ours: float, raw: float, target: float) -> str:
    ratio = ours / raw if raw else float("inf")
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    return f"{name:<28} {ours:>12,.1f} {raw:>12,.1f} {unit:<6} {ratio:>6.2f}x  (target >= {target}x) {verdict}"


Batch = Callable[[list[str]], None]


def paired(ours: Batch, raw: Batch, names: list[str]) -> tuple[float, float]:
    """Time ``ours`` and ``raw`` over ``names`` in alternating batches of 50 and return their total seconds.

    Fine-grained alternation matters on a real disk: a journal commit or writeback stall then lands on both
    sides alike instead of on whichever side happened to be running.
    """
    total_ours = total_raw = 0.0
    for i in range(0, len(names), 50):
        batch = names[i : i + 50]
        first, second = (ours, raw) if (i // 50) % 2 == 0 else (raw, ours)
        start = time.perf_counter()
        first(batch)
        middle = time.perf_counter()
        second(batch)
        end = time.perf_counter()
        a, b = middle - start, end - middle
        if first is ours:
            total_ours, total_raw = total_ours + a, total_raw + b
        else:
            total_ours, total_raw = total_ours + b, total_raw + a
    return total_ours, total_raw


def bench_small(store: satchel.Store, raw: Raw, count: int, rounds: int) -> list[str]:
    data = os.urandom(KIB)
    names = [f"small/{i:06d}" for i in range(count)]
    os.makedirs(os.path.join(raw.root, "small"), exist_ok=True)

    def ours_put(batch: list[str]) -> None:
        for name in batch:
            store.put(name, data)

    def raw_put(batch: list[str]) -> None:
        for name in batch:
            raw.put(name, data)

    def ours_get(batch: list[str]) -> None:
        for name in batch:
            store.get_bytes(name)

    def raw_get(batch: list[str]) -> None:
        for name in batch:
            raw.get(name)

    put_ours = put_raw = get_ours = get_raw = 0.0
    for _ in range(rounds):  # the first round creates the files, later ones replace them: both count
        a, b = paired(ours_put, raw_put, names)
        put_ours, put_raw = put_ours + a, put_raw + b
        a, b = paired(ours_get, raw_get, names)
        get_ours, get_raw = get_ours + a, get_raw + b
    assert store.get_bytes(names[-1]) == data == raw.get(names[-1])
    ops = count * rounds
    return [
        row("1 KiB put", "ops/s", ops / put_ours, ops / put_raw, 0.7),
        row("1 KiB get", "ops/s", ops / get_ours, ops / get_raw, 0.5),
    ]


def bench_large(store: satchel.Store, raw: Raw, size: int, rounds: int) -> list[str]:
    data = os.urandom(size)
    put_ours = put_raw = get_ours = get_raw = float("inf")
    for _ in range(rounds):
        put_ours = min(put_ours, best_of(1, lambda: store.put("large.bin", data)))
        put_raw = min(put_raw, best_of(1, lambda: raw.put("large.bin", data)))
        get_ours = min(get_ours, best_of(1, lambda: store.get_bytes("large.bin")))
        get_raw = min(get_raw, best_of(1, lambda: raw.get("large.bin")))
    assert store.get_bytes("large.bin") == data
    mib = size / MIB
    return [
        row(f"{mib:.0f} MiB put", "MiB/s", mib / put_ours, mib / put_raw, 0.9),
        row(f"{mib:.0f} MiB get", "MiB/s", mib / get_ours, mib / get_raw, 0.9),
    ]


def bench_listing(store: satchel.Store, root: str, count: int, rounds: int) -> list[str]:
    for i in range(count):
        store.put(f"listing/{i // 100:03d}/{i:06d}", b"x")
    raw_root = os.path.join(root, "listing")

    def ours() -> None:
        assert sum(1 for _ in store.list("listing/")) == count

    def raw() -> None:
        assert sum(len(files) for _, _, files in os.walk(raw_root)) == count

    ours_s = best_of(rounds, ours)
    raw_s = best_of(rounds, raw)
    verdict = "ok" if ours_s < 0.25 else "ABOVE TARGET"
    return [
        f"{'list ' + format(count, ',') + ' keys':<28} {ours_s:>12.3f} {raw_s:>12.3f} {'s':<6} "
        f"(os.walk, names only)  (target < 0.25 s) {verdict}"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fsync", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir under the cwd)")
    args = parser.parse_args()

    base = tempfile.mkdtemp(prefix="satchel-bench-", dir=args.dir or ".")
    try:
        ours_root, raw_root = os.path.join(base, "satchel"), os.path.join(base, "raw")
        os.makedirs(raw_root)
        store = satchel.open(ours_root, fsync=args.fsync)
        raw = Raw(raw_root, args.fsync)
        small = (200 if args.fsync else 2000) if args.quick else (1000 if args.fsync else 10000)
        large = 32 * MIB if args.quick else 256 * MIB
        print(f"satchel {satchel.__version__} local folder vs raw file I/O, fsync={args.fsync}, dir={base}")
        print(f"{'workload':<28} {'satchel':>12} {'raw':>12} {'unit':<6} {'ratio':>6}")
        for line in bench_small(store, raw, small, 3 if args.quick else 5):
            print(line, flush=True)
        for line in bench_large(store, raw, large, 2 if args.quick else 3):
            print(line, flush=True)
        for line in bench_listing(store, ours_root, 10_000, 3 if args.quick else 5):
            print(line, flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
