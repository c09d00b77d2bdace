"""satchel.open: URLs and paths to backends, options, and the layer stack around them."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

import satchel
from satchel.backend import Backend, ForwardingBackend, find_layer, innermost
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.errors import ConfigError, PermissionDenied
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.metrics import MetricsLayer, NoOpMetricsBackend
from satchel.layers.prefix import PrefixLayer
from satchel.layers.readonly import ReadOnlyLayer
from satchel.layers.retry import RetryLayer
from satchel.registry import _coerce, schemes
from satchel.secret import Secret
from satchel.store_async import AsyncStore


def _stack(backend: Backend) -> list[type]:
    types: list[type] = []
    current: Backend = backend
    while isinstance(current, ForwardingBackend):
        types.append(type(current))
        current = current.inner
    types.append(type(current))
    return types


def _local(store: satchel.Store) -> LocalBackend:
    backend = innermost(store.backend)
    assert isinstance(backend, LocalBackend)
    return backend


def test_plain_path(tmp_path: Path) -> None:
    for path in (tmp_path / "as-path", str(tmp_path / "as-str")):
        with satchel.open(path, fsync=False) as store:
            store.put("dir/k", b"on disk")
            assert Path(path, "dir", "k").read_bytes() == b"on disk"
            assert _local(store).root == str(Path(path).resolve())
            assert _local(store).config.fsync is False


def test_plain_path_defaults_to_fsync(tmp_path: Path) -> None:
    assert _local(satchel.open(tmp_path)).config.fsync is True


@pytest.mark.parametrize("value", ["false", "False", "0", "no", "off"])
def test_file_url_with_options(tmp_path: Path, value: str) -> None:
    store = satchel.open(f"file://{tmp_path}/root?fsync={value}")
    assert _local(store).config.fsync is False
    assert _local(store).root == str(tmp_path / "root")
    store.put("k", b"x")
    assert (tmp_path / "root" / "k").read_bytes() == b"x"


def test_file_url_percent_encoded_and_localhost(tmp_path: Path) -> None:
    store = satchel.open(f"file://localhost{tmp_path}/with%20space?fsync=true")
    assert _local(store).root == str(tmp_path / "with space")
    assert _local(store).config.fsync is True


@pytest.mark.parametrize("url", ["file://otherhost/srv/blobs", "file://"])
def test_bad_file_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        satchel.open(url)


def test_memory_urls() -> None:
    first, second = satchel.open("memory://"), satchel.open("memory://")
    first.put("k", b"x")
    assert not second.exists("k")
    assert isinstance(innermost(first.backend), MemoryBackend)


def test_named_memory_is_shared() -> None:
    name = f"shared-{secrets.token_hex(4)}"
    one, two = satchel.open(f"memory://{name}"), satchel.open(f"memory://{name}")
    other = satchel.open(f"memory://{name}-other")
    one.put("k", b"shared")
    assert two.get_bytes("k") == b"shared"
    assert not other.exists("k")
    assert innermost(one.backend) is innermost(two.backend)


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigError) as info:
        satchel.open("nosuch://bucket")
    assert isinstance(info.value, ValueError)
    assert "nosuch" in str(info.value)


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("memory://?colour=blue", {}),
        ("memory://", {"colour": "blue"}),
        ("file:///tmp/satchel-registry-test?colour=blue", {}),
    ],
)
def test_unknown_option(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="colour"):
        satchel.open(url, **options)


@pytest.mark.parametrize("query", ["fsync=maybe", "fsync=", "readonly=2"])
def test_bad_bool(tmp_path: Path, query: str) -> None:
    with pytest.raises(ConfigError):
        satchel.open(f"file://{tmp_path}?{query}")


def test_bad_int() -> None:
    with pytest.raises(ConfigError):
        satchel.open("memory://?retries=many")


def test_default_stack_order(tmp_path: Path) -> None:
    store = satchel.open(tmp_path, fsync=False, prefix="ns/", metrics=NoOpMetricsBackend())
    assert _stack(store.backend) == [
        MetricsLayer,
        RetryLayer,
        CompressionLayer,
        ExpirationLayer,
        PrefixLayer,
        LocalBackend,
    ]
    assert _stack(satchel.open("memory://").backend) == [
        RetryLayer,
        CompressionLayer,
        ExpirationLayer,
        MemoryBackend,
    ]


def test_prefix_option() -> None:
    name = f"ns-{secrets.token_hex(4)}"
    namespaced = satchel.open(f"memory://{name}?prefix=tenant/")
    layer = find_layer(namespaced.backend, PrefixLayer)
    assert layer is not None
    assert layer.prefix == "tenant/"
    namespaced.put("k", b"x")
    assert [m.key for m in namespaced.list()] == ["k"]
    assert [m.key for m in satchel.open(f"memory://{name}").list()] == ["tenant/k"]
    with pytest.raises(ConfigError):
        satchel.open("memory://", prefix="no-slash")


@pytest.mark.parametrize("readonly", ["true", "1", True])
def test_readonly_option(readonly: str | bool) -> None:
    name = f"ro-{secrets.token_hex(4)}"
    satchel.open(f"memory://{name}").put("k", b"x")
    store = satchel.open(f"memory://{name}", readonly=readonly)
    assert isinstance(store.backend, ReadOnlyLayer)
    assert store.get_bytes("k") == b"x"
    with pytest.raises(PermissionDenied):
        store.put("k", b"y")
    assert find_layer(satchel.open("memory://?readonly=false").backend, ReadOnlyLayer) is None


def test_retries_and_compression_level() -> None:
    assert find_layer(satchel.open("memory://?retries=0").backend, RetryLayer) is None
    retry = find_layer(satchel.open("memory://", retries=2).backend, RetryLayer)
    assert retry is not None
    assert retry.attempts == 3
    compression = find_layer(satchel.open("memory://?compression_level=7").backend, CompressionLayer)
    assert compression is not None
    assert compression.level == 7


def test_metrics_option() -> None:
    store = satchel.open("memory://", metrics=NoOpMetricsBackend())
    assert find_layer(store.backend, MetricsLayer) is not None
    assert find_layer(satchel.open("memory://").backend, MetricsLayer) is None


def test_schemes() -> None:
    assert {"file", "memory"} <= set(schemes())


def test_open_async() -> None:
    store = satchel.open_async("memory://", limit=2)
    assert isinstance(store, AsyncStore)
    assert isinstance(store.store, satchel.Store)


def test_a_secret_given_as_a_keyword_keeps_its_value() -> None:
    given = Secret("s3cr3t")
    kept = _coerce("password", given, Secret)
    assert isinstance(kept, Secret)
    assert kept.reveal() == "s3cr3t"
    assert _coerce("password", "plain", Secret).reveal() == "plain"
    assert "s3cr3t" not in repr(kept)
