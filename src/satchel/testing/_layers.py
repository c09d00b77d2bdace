"""Conformance of the layers that change what is stored: expiration and compression."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import zstandard

from satchel.backend import find_layer
from satchel.errors import NotFound, PreconditionFailed, RangeNotSatisfiable
from satchel.layers.expiration import ExpirationLayer
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys, requires, requires_layer
from satchel.types import TTI, TTL

__all__ = ["CompressionTests", "ExpirationTests"]

Advance = Callable[[float], None]


class ExpirationTests(StoreTests):
    """Time to live and time to idle (stores with an ExpirationLayer): expired objects are absent at once
    and ``sweep`` deletes them.

    Time passes through the ``advance`` fixture, which sleeps; a project whose ExpirationLayer runs on a fake
    clock overrides it to move that clock instead.
    """

    ttl = 0.5

    @pytest.fixture
    def advance(self) -> Advance:
        """Let ``seconds`` pass for the store's expiration layer (real time by default)."""
        return time.sleep

    @requires_layer("expiration")
    def test_deadline_is_recorded(self, store: Store, prefix: str) -> None:
        before = datetime.now(UTC)
        store.put(prefix + "k", b"x", expires=TTL(3600))
        meta = store.head(prefix + "k")
        assert meta.expires_at is not None
        # A fake clock may run ahead of real time; it never runs behind.
        assert meta.expires_at >= before + timedelta(seconds=3600) - timedelta(seconds=5)
        assert meta.attributes.expiration == TTL(3600)
        store.put(prefix + "k", b"y")
        assert store.head(prefix + "k").expires_at is None

    @requires_layer("expiration")
    def test_expired_is_absent_at_once(self, store: Store, prefix: str, advance: Advance) -> None:
        short, plain, long = prefix + "short", prefix + "plain", prefix + "long"
        store.put(short, b"short-lived", expires=TTL(self.ttl))
        store.put(plain, b"forever")
        store.put(long, b"long-lived", expires=TTL(3600))
        assert store.get_bytes(short) == b"short-lived"
        advance(self.ttl + 0.1)
        with pytest.raises(NotFound):
            store.get(short)
        with pytest.raises(NotFound):
            store.head(short)
        assert not store.exists(short)
        assert listed_keys(store, prefix) == [long, plain]
        assert [m.key for m in store.list_with_delimiter(prefix).objects] == [long, plain]
        assert store.get_bytes(long) == b"long-lived"

    @requires_layer("expiration")
    def test_expired_object_for_writes_and_copies(self, store: Store, prefix: str, advance: Advance) -> None:
        etag = store.put(prefix + "updated", b"old", expires=TTL(self.ttl)).etag
        store.put(prefix + "created", b"old", expires=TTL(self.ttl))
        store.put(prefix + "copied", b"old", expires=TTL(self.ttl))
        advance(self.ttl + 0.1)
        caps = store.backend.capabilities
        if caps.conditional_create:
            store.put(prefix + "created", b"new", mode="create")
            assert store.get_bytes(prefix + "created") == b"new"
        if caps.conditional_update and etag is not None:
            with pytest.raises(PreconditionFailed):
                store.put(prefix + "updated", b"new", if_match=etag)
        if caps.copy:
            with pytest.raises(NotFound):
                store.copy(prefix + "copied", prefix + "copy")
            assert not store.exists(prefix + "copy")

    @requires_layer("expiration")
    def test_sweep_deletes_expired(self, store: Store, prefix: str, advance: Advance) -> None:
        for name in ("gone-1", "dir/gone-2", "other/gone-3"):
            store.put(prefix + name, b"x", expires=TTL(self.ttl))
        store.put(prefix + "dir/live", b"y", expires=TTL(3600))
        store.put(prefix + "plain", b"z")
        advance(self.ttl + 0.1)
        assert store.sweep(prefix + "dir/") == 1
        assert store.sweep(prefix) == 2
        assert store.sweep(prefix) == 0
        layer = find_layer(store.backend, ExpirationLayer)
        assert layer is not None
        # Gone from the backend below the layer too, not only hidden.
        assert [m.key for m in layer.inner.list(prefix)] == [prefix + "dir/live", prefix + "plain"]

    @requires_layer("expiration")
    @requires("copy")
    def test_time_to_idle_extends_on_read(self, store: Store, prefix: str, advance: Advance) -> None:
        key = prefix + "idle"
        store.put(key, b"x", expires=TTI(1.0))
        first = store.head(key).expires_at
        advance(0.5)
        assert store.get_bytes(key) == b"x"  # an access: the deadline moves to about now + 1 s
        advance(0.7)  # past the first deadline
        assert store.exists(key)
        second = store.head(key).expires_at
        assert first is not None
        assert second is not None
        assert second > first
        advance(1.5)  # reads bump the deadline at most to about now + 1 s
        assert not store.exists(key)


DATA = b"satchel compresses this nicely. " * 4000 + bytes(range(256))


def _zstd_decode(raw: bytes) -> bytes:
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True) as reader:
        return reader.read()


class CompressionTests(StoreTests):
    """zstd compression (stores with a CompressionLayer): round trips, raw frames, ranges and file access."""

    @pytest.fixture
    def compressed_key(self, store: Store, prefix: str) -> str:
        key = prefix + "compressed"
        store.put(key, DATA, compress="zstd")
        return key

    @requires_layer("compression")
    def test_compressed_round_trip(self, store: Store, compressed_key: str) -> None:
        assert store.get_bytes(compressed_key) == DATA
        assert store.head(compressed_key).attributes.compression == "zstd"

    @requires_layer("compression")
    def test_decompress_false_returns_the_zstd_frame(self, store: Store, compressed_key: str) -> None:
        raw = store.get_bytes(compressed_key, decompress=False)
        assert raw.startswith(zstandard.FRAME_HEADER)
        assert len(raw) < len(DATA) // 10
        assert _zstd_decode(raw) == DATA

    @requires_layer("compression")
    def test_uncompressed_unless_asked(self, store: Store, prefix: str) -> None:
        store.put(prefix + "plain", DATA)
        assert store.get_bytes(prefix + "plain", decompress=False) == DATA
        assert store.head(prefix + "plain").attributes.compression is None

    @requires_layer("compression")
    @requires("ranges")
    def test_ranges_apply_to_decompressed_bytes(self, store: Store, compressed_key: str) -> None:
        stored = len(store.get_bytes(compressed_key, decompress=False))
        assert store.get_range(compressed_key, 10, 20) == DATA[10:20]
        assert store.get_range(compressed_key, len(DATA) - 5) == DATA[-5:]
        assert store.get_range(compressed_key, -300) == DATA[-300:]
        assert store.get_range(compressed_key, len(DATA) - 3, len(DATA) + 100) == DATA[-3:]
        assert store.get_range(compressed_key, stored + 7, stored + 50) == DATA[stored + 7 : stored + 50]
        assert store.get_range(compressed_key, -(len(DATA) + 10)) == DATA
        with pytest.raises(RangeNotSatisfiable):
            store.get_range(compressed_key, len(DATA))

    @requires_layer("compression")
    @requires("ranges")
    def test_ranges_of_raw_bytes(self, store: Store, compressed_key: str) -> None:
        raw = store.get_bytes(compressed_key, decompress=False)
        assert store.get_range(compressed_key, 0, 4, decompress=False) == raw[:4]
        assert store.get_range(compressed_key, -4, decompress=False) == raw[-4:]

    @requires_layer("compression")
    @requires("ranges")
    def test_compressed_streamed_payloads(self, store: Store, prefix: str) -> None:
        store.put(prefix + "seekable", io.BytesIO(DATA), compress="zstd")
        chunks = (DATA[i : i + 5000] for i in range(0, len(DATA), 5000))
        store.put(prefix + "generator", chunks, compress="zstd")
        for name in ("seekable", "generator"):
            assert store.get_bytes(prefix + name) == DATA
            assert store.get_range(prefix + name, 100, 200) == DATA[100:200]
            assert store.get_range(prefix + name, -10) == DATA[-10:]
            assert store.get_range(prefix + name, len(DATA) - 1) == DATA[-1:]

    @requires_layer("compression")
    def test_compressed_empty_object(self, store: Store, prefix: str) -> None:
        store.put(prefix + "empty", b"", compress="zstd")
        assert store.get_bytes(prefix + "empty") == b""

    @requires_layer("compression")
    @requires("ranges", "conditional_get")
    def test_compressed_file_reader(self, store: Store, compressed_key: str) -> None:
        with store.open(compressed_key) as reader:
            assert reader.read(10) == DATA[:10]
            reader.seek(50_000)
            assert reader.read(10) == DATA[50_000:50_010]
            with pytest.raises(io.UnsupportedOperation):
                reader.seek(-10, io.SEEK_END)
            reader.seek(0)
            assert reader.read() == DATA

    @requires_layer("compression")
    def test_compressed_file_writer(self, store: Store, prefix: str) -> None:
        writer = store.open(prefix + "written", "wb", compress="zstd")
        writer.threshold = 4096
        with writer:
            for i in range(0, len(DATA), 7000):
                writer.write(DATA[i : i + 7000])
        assert store.get_bytes(prefix + "written") == DATA
        assert len(store.get_bytes(prefix + "written", decompress=False)) < len(DATA)

    @requires_layer("compression")
    @requires("copy")
    def test_copy_keeps_compression(self, store: Store, prefix: str, compressed_key: str) -> None:
        store.copy(compressed_key, prefix + "copy")
        assert store.get_bytes(prefix + "copy") == DATA
        assert store.get_bytes(prefix + "copy", decompress=False) == store.get_bytes(compressed_key, decompress=False)

    @requires_layer("compression")
    @requires("multipart", "ranges")
    def test_compressed_multipart(self, store: Store, prefix: str) -> None:
        size = max(store.backend.capabilities.min_part_size, 50_000)
        data = (DATA * (size // len(DATA) + 2))[: 2 * size + 123]
        upload = store.put_multipart(prefix + "mp", compress="zstd")
        parts = [upload.put_part(2, data[size : 2 * size]), upload.put_part(3, data[2 * size :])]
        parts.append(upload.put_part(1, data[:size]))
        upload.complete(parts)
        assert store.get_bytes(prefix + "mp") == data
        assert store.get_range(prefix + "mp", size - 5, size + 5) == data[size - 5 : size + 5]
        assert _zstd_decode(store.get_bytes(prefix + "mp", decompress=False)) == data
