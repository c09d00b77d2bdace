"""The ``store`` fixture: every backend of the core, bare, under each layer, and as ``satchel.open`` builds it."""

from __future__ import annotations

import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import urllib3

import satchel
import servers
from satchel.backend import Backend
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.metrics import MetricsLayer
from satchel.layers.prefix import PrefixLayer
from satchel.layers.retry import RetryLayer
from satchel.testing import RecordingMetrics


class FakeClock:
    """A clock for the expiration layer that runs with real time plus whatever the test advanced it by."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Env:
    """What a store case may use: a fresh folder, the fake clock, the metrics recorder."""

    root: Path
    clock: FakeClock
    metrics: RecordingMetrics


BackendFactory = Callable[[Env], Backend]
StoreFactory = Callable[[Env], satchel.Store]


def _memory(env: Env) -> Backend:
    return MemoryBackend()


def _local(env: Env) -> Backend:
    return LocalBackend(env.root, fsync=False)


_LAYERS: dict[str, Callable[[Backend, Env], Backend]] = {
    "compression": lambda inner, env: CompressionLayer(inner, level=3),
    "expiration": lambda inner, env: ExpirationLayer(inner, clock=env.clock),
    "retry": lambda inner, env: RetryLayer(inner, attempts=3),
    "metrics": lambda inner, env: MetricsLayer(inner, env.metrics),
    "prefix": lambda inner, env: PrefixLayer(inner, "p/"),
}


@dataclass(frozen=True)
class StoreCase:
    """One way of building a store: ``fast`` cases run the 1100-key listing test; ``fake_clock`` cases
    have their expiration layer on the fake clock, so tests advance it instead of sleeping."""

    id: str
    build: StoreFactory
    fast: bool = True
    fake_clock: bool = False


def _bare(backend: BackendFactory) -> StoreFactory:
    return lambda env: satchel.Store(backend(env))


def _layered(backend: BackendFactory, layer: str) -> StoreFactory:
    return lambda env: satchel.Store(_LAYERS[layer](backend(env), env))


CASES = [
    StoreCase("memory", lambda env: satchel.open("memory://")),
    StoreCase("local", lambda env: satchel.open(env.root, fsync=False)),
    StoreCase("local-fsync", lambda env: satchel.open(env.root, fsync=True), fast=False),
    StoreCase("memory-bare", _bare(_memory)),
    StoreCase("local-bare", _bare(_local)),
    *(
        StoreCase(f"{name}-{layer}", _layered(backend, layer), fake_clock=layer == "expiration")
        for name, backend in (("memory", _memory), ("local", _local))
        for layer in _LAYERS
    ),
    StoreCase("memory-stack-ns", lambda env: satchel.open("memory://", prefix="ns/")),
    StoreCase("local-stack-ns", lambda env: satchel.open(env.root, fsync=False, prefix="ns/")),
]


@pytest.fixture(params=CASES, ids=[case.id for case in CASES])
def store_case(request: pytest.FixtureRequest) -> StoreCase:
    """The way the current ``store`` is built."""
    case: StoreCase = request.param
    return case


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """A fresh folder for local stores, a fake clock and a metrics recorder."""
    return Env(tmp_path / "root", FakeClock(), RecordingMetrics())


@pytest.fixture
def store(store_case: StoreCase, env: Env) -> Iterator[satchel.Store]:
    """The store under test, closed afterwards."""
    with store_case.build(env) as store:
        yield store


@pytest.fixture
def fast_store(store_case: StoreCase) -> bool:
    """True when the store is fast enough for the tests that write over a thousand objects."""
    return store_case.fast


@pytest.fixture
def store_advance(store_case: StoreCase, env: Env) -> Callable[[float], None]:
    """Let time pass for the store's expiration layer: move the fake clock, or sleep for real."""
    return env.clock.advance if store_case.fake_clock else time.sleep


# --- real servers for the remote backends (started on first use, once per session) ---------------------------


def _serve(start: Callable[[], servers.Server]) -> Iterator[servers.Server]:
    try:
        server = start()
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    try:
        yield server
    finally:
        servers.stop(server)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[servers.Server]:
    """moto's S3 server on a free 127.0.0.1 port."""
    yield from _serve(servers.start_moto)


@pytest.fixture(scope="session")
def azurite_server() -> Iterator[servers.Server]:
    """Azurite's blob service on a free 127.0.0.1 port (extra: account, key)."""
    yield from _serve(servers.start_azurite)


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[servers.Server]:
    """gcp-storage-emulator on a free 127.0.0.1 port."""
    yield from _serve(servers.start_gcs)


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[servers.Server]:
    """OpenSSH's sshd with SFTP on a free 127.0.0.1 port (extra: user, client_key, known_hosts, home)."""
    yield from _serve(servers.start_sshd)


@pytest.fixture(params=["memory", "local", "s3"])
def door_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store as a satchel URL, for the front doors' tests: memory, a local folder, or an S3 bucket on moto.

    Every option is in the URL (credentials of moto included), so a front door built from the URL alone reaches
    the store.
    """
    if request.param == "memory":
        return f"memory://door-{secrets.token_hex(6)}"
    if request.param == "local":
        return str(tmp_path / "store")
    server: servers.Server = request.getfixturevalue("moto_server")
    bucket = f"door-{secrets.token_hex(6)}"
    http = urllib3.PoolManager(retries=False)
    made = http.request("PUT", f"{server.endpoint}/{bucket}")
    assert made.status == 200, made.data
    query = urllib.parse.urlencode(
        {
            "endpoint_url": server.endpoint,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
        }
    )
    return f"s3://{bucket}?{query}"
