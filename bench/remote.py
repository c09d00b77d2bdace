"""Benchmark: satchel's S3 backend against raw obstore and raw boto3, in one process, against one moto server.

The script starts moto itself (``tests/servers.py``) on a free loopback port and stops it at the end. Each
client runs the same workloads on its own bucket: 1 KiB put and get with 1 and 8 threads, one large put and
get (256 MiB), and listing 10,000 keys; the clients take turns, round after round (see ``run_rounds``). The
large object is read twice: whole into ``bytes`` (``get``) and streamed in 1 MiB reads that are dropped
(``stream``), how a program reads an object it does not want in memory. For each it prints operations per
second, MiB/s and the client's CPU time per operation (``time.process_time`` of this process, every thread
included; moto's CPU is its own process's and not counted). Targets (issue 3): satchel's client CPU per small
operation within 1.2x of raw obstore, and no workload slower than raw boto3.

``satchel`` is ``satchel.open("s3://...")`` with its default layers (retry, compression, expiration);
``satchel-bare`` is a Store over the S3 backend alone, to show what the layers cost.

    python bench/remote.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3  # type: ignore[import-untyped]
import obstore
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from obstore.store import S3Store

import satchel
from satchel.backends.obstore.s3 import S3Backend, S3Config
from satchel.secret import Secret

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import servers

KIB = 1024
MIB = 1024 * 1024
REGION = "us-east-1"


class Client(Protocol):
    """What each contender offers the workloads."""

    name: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def stream(self, key: str) -> int: ...
    def list(self, prefix: str) -> int: ...


@dataclass
class SatchelClient:
    name: str
    store: satchel.Store

    def put(self, key: str, data: bytes) -> None:
        self.store.put(key, data)

    def get(self, key: str) -> bytes:
        return self.store.get_bytes(key)

    def stream(self, key: str) -> int:
        with self.store.get(key).body as body:
            return sum(len(chunk) for chunk in iter(lambda: body.read(MIB), b""))

    def list(self, prefix: str) -> int:
        return sum(1 for _ in self.store.list(prefix))


@dataclass
class ObstoreClient:
    name: str
    store: S3Store

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self.store, key, data)

    def get(self, key: str) -> bytes:
        return obstore.get(self.store, key).bytes().to_bytes()

    def stream(self, key: str) -> int:
        return sum(len(chunk) for chunk in obstore.get(self.store, key).stream(min_chunk_size=MIB))

    def list(self, prefix: str) -> int:
        return sum(len(batch) for batch in obstore.list(self.store, prefix, chunk_size=1000))


@dataclass
class Boto3Client:
    name: str
    client: Any
    bucket: str

    def put(self, key: str, data: bytes) -> None:
        if len(data) > 8 * MIB:
            self.client.upload_fileobj(io.BytesIO(data), self.bucket, key, Config=TransferConfig())
        else:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def stream(self, key: str) -> int:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return sum(len(chunk) for chunk in body.iter_chunks(MIB))

    def list(self, prefix: str) -> int:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sum(len(page.get("Contents", [])) for page in pages)


@dataclass
class Result:
    workload: str
    client: str
    ops: int
    nbytes: int
    seconds: float
    cpu: float

    @property
    def ops_per_second(self) -> float:
        return self.ops / self.seconds

    @property
    def mib_per_second(self) -> float:
        return self.nbytes / MIB / self.seconds

    @property
    def cpu_ms_per_op(self) -> float:
        return self.cpu / self.ops * 1000


def _measure(workload: str, client: str, ops: int, nbytes: int, run: Callable[[], None]) -> Result:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run()
    return Result(workload, client, ops, nbytes, time.perf_counter() - wall0, time.process_time() - cpu0)


def _spread(threads: int, keys: list[str], call: Callable[[str], object]) -> Callable[[], None]:
    def run() -> None:
        if threads == 1:
            for key in keys:
                call(key)
        else:
            with ThreadPoolExecutor(threads) as pool:
                for _ in pool.map(call, keys):
                    pass

    return run


def _combine(results: list[Result], how: Callable[[list[float]], float]) -> Result:
    first = results[0]
    seconds = how([r.seconds for r in results])
    cpu = how([r.cpu for r in results])
    return Result(first.workload, first.client, first.ops, first.nbytes, seconds, cpu)


def _total(values: list[float]) -> float:
    return sum(values)


def run_rounds(clients: list[Client], small: int, large: int, listing: int, rounds: int) -> list[Result]:
    """Run every workload in ``rounds`` rounds, the clients taking turns within each round.

    Taking turns spreads the drift of a shared 2-core machine (moto's own CPU, page cache, allocator state)
    evenly over the clients. Small operations are summed over the rounds; a large transfer and a listing are
    one operation each round, and their median round is reported.
    """
    payload = secrets.token_bytes(KIB)
    big = secrets.token_bytes(large)
    per_round = max(1, small // rounds)
    runs: dict[tuple[str, str], list[Result]] = {}

    def record(result: Result) -> None:
        runs.setdefault((result.workload, result.client), []).append(result)

    for round_number in range(rounds):
        turn = clients[round_number % len(clients) :] + clients[: round_number % len(clients)]
        for threads in (1, 8):
            label = f"1 KiB x{threads}"
            for client in turn:
                keys = [f"{client.name}/small{threads}/{round_number}/{i:06d}" for i in range(per_round)]
                put = _spread(threads, keys, lambda k, c=client: c.put(k, payload))  # type: ignore[misc]
                record(_measure(f"put {label}", client.name, per_round, per_round * KIB, put))
                record(
                    _measure(
                        f"get {label}", client.name, per_round, per_round * KIB, _spread(threads, keys, client.get)
                    )
                )
        for client in turn:
            key = f"{client.name}/large"
            record(_measure(f"put {large // MIB} MiB", client.name, 1, large, lambda c=client, k=key: c.put(k, big)))  # type: ignore[misc]

            def get_large(c: Client = client, k: str = key) -> None:
                assert len(c.get(k)) == large

            record(_measure(f"get {large // MIB} MiB", client.name, 1, large, get_large))

            def stream_large(c: Client = client, k: str = key) -> None:
                assert c.stream(k) == large

            record(_measure(f"stream {large // MIB} MiB", client.name, 1, large, stream_large))

            def list_all(c: Client = client) -> None:
                count = c.list("listing/")
                assert count == listing, (c.name, count)

            record(_measure(f"list {listing} keys", client.name, listing, 0, list_all))
    results = []
    for (workload, _), measured in runs.items():
        results.append(_combine(measured, _total if "1 KiB" in workload else statistics.median))
        if "1 KiB" in workload:
            results[-1].ops = sum(r.ops for r in measured)
            results[-1].nbytes = sum(r.nbytes for r in measured)
    return results


def _populate(store: S3Store, count: int) -> None:
    keys = [f"listing/{i:06d}" for i in range(count)]
    with ThreadPoolExecutor(16) as pool:
        for _ in pool.map(lambda k: obstore.put(store, k, b"x"), keys):
            pass


def _report(results: list[Result]) -> None:
    by = {(r.workload, r.client): r for r in results}
    workloads = list(dict.fromkeys(r.workload for r in results))
    columns = ("ops/s", 10), ("MiB/s", 10), ("CPU ms/op", 11), ("CPU/obstore", 13), ("speed/boto3", 13)
    print(f"{'workload':<18}{'client':<14}" + "".join(f"{name:>{width}}" for name, width in columns))
    for workload in workloads:
        raw = by.get((workload, "obstore"))
        boto = by.get((workload, "boto3"))
        for client in ("satchel", "satchel-bare", "obstore", "boto3"):
            r = by.get((workload, client))
            if r is None:
                continue
            cpu_ratio = r.cpu / raw.cpu if raw and raw.cpu else float("nan")
            speed_ratio = boto.seconds / r.seconds if boto else float("nan")
            print(
                f"{workload:<18}{client:<14}{r.ops_per_second:>10.0f}{r.mib_per_second:>10.1f}"
                f"{r.cpu_ms_per_op:>11.3f}{cpu_ratio:>12.2f}x{speed_ratio:>12.2f}x"
            )
    print()
    small = [w for w in workloads if "1 KiB" in w]
    for workload in small:
        ratio = by[(workload, "satchel")].cpu / by[(workload, "obstore")].cpu
        verdict = "ok" if ratio <= 1.2 else "MISSED"
        print(f"target CPU <= 1.2x obstore  {workload:<14} satchel {ratio:.2f}x  {verdict}")
    for workload in workloads:
        ratio = by[(workload, "boto3")].seconds / by[(workload, "satchel")].seconds
        verdict = "ok" if ratio >= 1.0 else "MISSED"
        print(f"target not slower than boto3 {workload:<14} satchel {ratio:.2f}x boto3's speed  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    args = parser.parse_args()
    small = 300 if args.quick else 2000
    large = 32 * MIB if args.quick else 256 * MIB
    listing = 2000 if args.quick else 10_000
    rounds = 3 if args.quick else 5
    server = servers.start_moto()
    try:
        endpoint = server.endpoint
        boto = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        clients: list[Client] = []
        buckets = {}
        for name in ("satchel", "satchel-bare", "obstore", "boto3"):
            bucket = f"bench-{name}-{secrets.token_hex(4)}"
            boto.create_bucket(Bucket=bucket)
            buckets[name] = bucket
            raw = S3Store(
                bucket,
                endpoint=endpoint,
                access_key_id="testing",
                secret_access_key="testing",
                region=REGION,
                virtual_hosted_style_request=False,
                client_options={"allow_http": True},
            )
            _populate(raw, listing)
            if name == "satchel":
                store = satchel.open(
                    f"s3://{bucket}",
                    endpoint_url=endpoint,
                    access_key_id="testing",
                    secret_access_key="testing",
                    region=REGION,
                )
                clients.append(SatchelClient(name, store))
            elif name == "satchel-bare":
                config = S3Config(bucket, endpoint, REGION, "testing", Secret("testing"))
                clients.append(SatchelClient(name, satchel.Store(S3Backend.from_config(config))))
            elif name == "obstore":
                clients.append(ObstoreClient(name, raw))
            else:
                clients.append(Boto3Client(name, boto, bucket))
        print(
            f"moto at {endpoint}; {small} small ops per workload in {rounds} rounds taking turns, "
            f"{large // MIB} MiB large and {listing} keys listed once a round (median round)\n"
        )
        _report(run_rounds(clients, small, large, listing, rounds))
    finally:
        servers.stop(server)


if __name__ == "__main__":
    main()
