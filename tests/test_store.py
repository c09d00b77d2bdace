"""Store conveniences: file objects, transfers with progress, ranges, payload types, batches, copy/move, sign,
sweep."""

from __future__ import annotations

import dataclasses
import gc
import io
import itertools
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import satchel
from satchel.backend import Backend, ForwardingBackend, GetResult, Payload
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.body import CHUNK_SIZE, Body, IteratorBody, Remainder
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotSupported,
    PreconditionFailed,
    RangeNotSatisfiable,
    TransientError,
)
from satchel.io import ObjectWriter
from satchel.path import Key
from satchel.types import TTL, Capabilities, DeleteOptions, GetOptions, PutOptions, PutResult

DATA = bytes(i * 31 % 256 for i in range(3 * CHUNK_SIZE + 5))


@pytest.fixture(params=["memory", "local", "local-stack"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[satchel.Store]:
    """A memory store, a bare local folder and a local folder with the default layers."""
    root = tmp_path / "root"
    if request.param == "memory":
        made = satchel.open("memory://")
    elif request.param == "local":
        made = satchel.Store(LocalBackend(root, fsync=False))
    else:
        made = satchel.open(root, fsync=False)
    with made:
        yield made


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A folder for local files, apart from the store's root."""
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


class _Spy(ForwardingBackend):
    """Records the payload types of puts and the batches of deletes; may declare a smaller delete batch."""

    def __init__(self, inner: Backend, max_delete_batch: int | None = None) -> None:
        super().__init__(inner)
        self.payload_types: list[type] = []
        self.delete_batches: list[list[str]] = []
        self.closed = False
        caps = inner.capabilities
        self._caps = caps if max_delete_batch is None else dataclasses.replace(caps, max_delete_batch=max_delete_batch)

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        self.payload_types.append(type(payload))
        return super().put(key, payload, options)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        self.delete_batches.append(list(keys))
        super().delete(keys, options)

    def close(self) -> None:
        self.closed = True
        super().close()


# --- open("rb") --------------------------------------------------------------------------------------


def test_reader_seeks_from_every_whence(store: satchel.Store) -> None:
    store.put("k", DATA)
    with store.open("k") as reader:
        assert reader.name == "k"
        assert reader.meta.size == len(DATA)
        assert reader.seek(-5, io.SEEK_END) == len(DATA) - 5
        assert reader.read() == DATA[-5:]
        assert reader.seek(CHUNK_SIZE) == CHUNK_SIZE
        assert reader.read(10) == DATA[CHUNK_SIZE : CHUNK_SIZE + 10]
        assert reader.seek(-20, io.SEEK_CUR) == CHUNK_SIZE - 10
        assert reader.read(20) == DATA[CHUNK_SIZE - 10 : CHUNK_SIZE + 10]
        assert reader.seek(0, io.SEEK_END) == len(DATA)
        assert reader.read(1) == b""
        with pytest.raises(ValueError):
            reader.seek(0, 7)
        reader.seek(0)
        assert reader.read() == DATA
    with pytest.raises(ValueError):
        reader.read(1)


def test_reader_across_a_replaced_object(store: satchel.Store) -> None:
    store.put("k", DATA)
    with store.open("k") as reader:
        assert reader.read(3) == DATA[:3]
        store.put("k", b"replaced")
        reader.seek(10)
        with pytest.raises(PreconditionFailed):
            reader.read(5)


def test_reader_of_missing_key(store: satchel.Store) -> None:
    with pytest.raises(NotFound):
        store.open("missing")
    with pytest.raises(ConfigError):
        store.open("k", "r")  # type: ignore[call-overload]


# --- open("wb") --------------------------------------------------------------------------------------


def test_small_writer_is_one_put(store: satchel.Store) -> None:
    spy = _Spy(store.backend)
    with satchel.Store(spy).open("k", "wb", content_type="text/plain", metadata={"m": "1"}) as writer:
        writer.write(b"abc")
        writer.write(bytearray(b"def"))
        assert not store.exists("k")
    assert store.get_bytes("k") == b"abcdef"
    assert store.head("k").content_type == "text/plain"
    assert store.head("k").metadata == {"m": "1"}
    assert spy.payload_types == [bytes]
    assert writer.result is not None
    with pytest.raises(ValueError):
        writer.write(b"after close")


def test_large_writer_streams(store: satchel.Store) -> None:
    spy = _Spy(store.backend)
    writer = satchel.Store(spy).open("k", "wb")
    writer.threshold = 64 * 1024
    with writer:
        for i in range(0, len(DATA), 100_000):
            writer.write(DATA[i : i + 100_000])
        assert not store.exists("k")
    assert store.get_bytes("k") == DATA
    assert len(spy.payload_types) == 1
    assert spy.payload_types[0] not in (bytes, bytearray, memoryview)


class _Boom(Exception):
    pass


def _fill_and_fail(writer: ObjectWriter, size: int) -> None:
    with writer:
        for i in range(0, size, 50_000):
            writer.write(DATA[i : min(i + 50_000, size)])
        raise _Boom


@pytest.mark.parametrize("threshold", [ObjectWriter.threshold, 16 * 1024])
def test_writer_aborts_on_exception(store: satchel.Store, threshold: int) -> None:
    store.put("existing", b"previous")
    for key in ("existing", "fresh"):
        writer = store.open(key, "wb")
        writer.threshold = threshold
        with pytest.raises(_Boom):
            _fill_and_fail(writer, 300_000)
    assert store.get_bytes("existing") == b"previous"
    assert [m.key for m in store.list()] == ["existing"]


def test_abandoned_writer_publishes_nothing(store: satchel.Store) -> None:
    writer = store.open("k", "wb")
    writer.write(b"never closed")
    del writer
    gc.collect()
    assert not store.exists("k")
    explicit = store.open("k", "wb")
    explicit.write(b"aborted")
    explicit.abort()
    explicit.close()
    assert not store.exists("k")


def test_writer_surfaces_backend_errors(store: satchel.Store) -> None:
    store.put("k", b"first")
    writer = store.open("k/child", "wb")  # a key below an object
    writer.write(b"x")
    if store.backend.capabilities.file_and_prefix:
        writer.close()
        assert store.get_bytes("k/child") == b"x"
    else:
        with pytest.raises(InvalidPath):
            writer.close()
        assert not store.exists("k/child")


# --- upload_file / download_file ---------------------------------------------------------------------


def _check_progress(calls: list[tuple[int, int | None]], size: int) -> None:
    assert calls[0][0] == 0
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert calls[-1][0] == size
    assert all(total in (size, None) for _, total in calls)
    assert len(calls) > 2


def test_upload_and_download_with_progress(store: satchel.Store, files: Path) -> None:
    source = files / "source.bin"
    source.write_bytes(DATA)
    up: list[tuple[int, int | None]] = []
    store.upload_file(source, "k", progress=lambda done, total: up.append((done, total)), content_type="x/y")
    _check_progress(up, len(DATA))
    assert store.get_bytes("k") == DATA
    assert store.head("k").content_type == "x/y"
    down: list[tuple[int, int | None]] = []
    target = files / "target.bin"
    meta = store.download_file("k", target, progress=lambda done, total: down.append((done, total)))
    _check_progress(down, len(DATA))
    assert target.read_bytes() == DATA
    assert meta.size == len(DATA)
    assert os.stat(target).st_mtime == pytest.approx(meta.last_modified.timestamp(), abs=1)


def test_download_without_progress(store: satchel.Store, files: Path) -> None:
    store.put("k", DATA)
    target = files / "target.bin"
    store.download_file("k", str(target))
    assert target.read_bytes() == DATA


def test_upload_missing_file(store: satchel.Store, files: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.upload_file(files / "missing", "k")
    assert not store.exists("k")


class _FailingBody(Body):
    """Serves one chunk of the inner body, then fails like a dropped connection."""

    def __init__(self, inner: Body) -> None:
        super().__init__()
        self._inner = inner
        self._reads = 0
        self.size = inner.size

    def _read(self, n: int) -> bytes:
        self._reads += 1
        if self._reads > 1:
            raise TransientError("connection reset")
        return self._inner.read(n)

    def _close(self) -> None:
        self._inner.close()


class _DropsConnections(ForwardingBackend):
    def get(self, key: Key, options: GetOptions) -> GetResult:
        result = self.inner.get(key, options)
        result.body = _FailingBody(result.body)
        return result


def test_failed_download_leaves_target_untouched(store: satchel.Store, files: Path) -> None:
    store.put("k", DATA)
    target = files / "target.bin"
    target.write_bytes(b"previous contents")
    flaky = satchel.Store(_DropsConnections(store.backend))
    with pytest.raises(TransientError):
        flaky.download_file("k", target)
    with pytest.raises(NotFound):
        store.download_file("missing", target)
    assert target.read_bytes() == b"previous contents"
    assert [p.name for p in files.iterdir()] == ["target.bin"]


# --- get_range and payloads ----------------------------------------------------------------------------


def test_get_range_semantics(store: satchel.Store) -> None:
    store.put("k", b"0123456789")
    assert store.get_range("k", 2, 5) == b"234"
    assert store.get_range("k", 7) == b"789"
    assert store.get_range("k", -3) == b"789"
    assert store.get_range("k", -30) == b"0123456789"
    assert store.get_range("k", 8, 100) == b"89"
    assert store.get_range("k", 5, 5) == b""
    assert store.get_range("k", 5, 2) == b""
    with pytest.raises(ConfigError):
        store.get_range("k", -3, 9)
    with pytest.raises(RangeNotSatisfiable):
        store.get_range("k", 10)
    with pytest.raises(RangeNotSatisfiable):
        store.get_range("k", 10, 20)


def test_put_payload_types(store: satchel.Store, files: Path) -> None:
    store.put("bytes", b"b")
    store.put("bytearray", bytearray(b"ba"))
    store.put("memoryview", memoryview(b"mv"))
    store.put("stream", io.BytesIO(b"stream"))
    store.put("list", [b"a", bytearray(b"b"), memoryview(b"c")])  # type: ignore[list-item]
    store.put("generator", (bytes([i]) for i in range(3)))
    path = files / "f.bin"
    path.write_bytes(b"file object")
    with path.open("rb") as handle:
        store.put("file", handle)
    expected = {
        "bytes": b"b",
        "bytearray": b"ba",
        "memoryview": b"mv",
        "stream": b"stream",
        "list": b"abc",
        "generator": b"\x00\x01\x02",
        "file": b"file object",
    }
    assert {key: store.get_bytes(key) for key in expected} == expected


def test_put_rejects_text(store: satchel.Store) -> None:
    with pytest.raises(TypeError):
        store.put("k", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("k", ["text"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        store.put("k", 42)  # type: ignore[arg-type]
    assert not store.exists("k")


def test_put_option_errors(store: satchel.Store) -> None:
    with pytest.raises(ConfigError):
        store.put("k", b"x", mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        store.put("k", b"x", mode="update")
    with pytest.raises(ConfigError):
        store.put("k", b"x", compress="gzip")  # type: ignore[arg-type]
    with pytest.raises(InvalidPath):
        store.put("a//b", b"x")
    with pytest.raises(InvalidPath):
        store.exists("/abs")
    assert [m.key for m in store.list()] == []


# --- delete_many, copy, move -----------------------------------------------------------------------------


def test_delete_many_batches(store: satchel.Store) -> None:
    keys = [f"k{i}" for i in range(7)]
    for key in keys:
        store.put(key, b"x")
    spy = _Spy(store.backend, max_delete_batch=3)
    satchel.Store(spy).delete_many(iter([*keys, "missing"]))
    assert [len(batch) for batch in spy.delete_batches] == [3, 3, 2]
    assert [key for batch in spy.delete_batches for key in batch] == [*keys, "missing"]
    assert list(store.list()) == []


def test_delete_many_validates_keys(store: satchel.Store) -> None:
    store.put("keep", b"x")
    with pytest.raises(InvalidPath):
        store.delete_many(["keep", "bad//key"])
    assert store.exists("keep")


def test_copy_and_move(store: satchel.Store) -> None:
    store.put("a", b"A", metadata={"who": "a"})
    store.put("b", b"B")
    with pytest.raises(AlreadyExists):
        store.copy("a", "b", overwrite=False)
    with pytest.raises(AlreadyExists):
        store.move("a", "b", overwrite=False)
    assert (store.get_bytes("a"), store.get_bytes("b")) == (b"A", b"B")
    store.copy("a", "c")
    assert store.head("c").metadata == {"who": "a"}
    store.move("c", "d", overwrite=False)
    store.move("d", "b")
    assert [m.key for m in store.list()] == ["a", "b"]
    assert store.get_bytes("b") == b"A"
    with pytest.raises(NotFound):
        store.move("missing", "e")
    with pytest.raises(NotFound):
        store.move("missing", "missing")


# --- sign, sweep, close ------------------------------------------------------------------------------------


def test_sign_is_not_supported_on_memory_and_local(store: satchel.Store) -> None:
    store.put("k", b"x")
    with pytest.raises(NotSupported):
        store.sign("k")
    with pytest.raises(NotSupported):
        store.sign("k", "PUT", 60)
    with pytest.raises(ConfigError):
        store.sign("k", "DELETE")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        store.sign("k", expires_in=0)


def test_sweep(tmp_path: Path) -> None:
    with satchel.open(tmp_path / "root", fsync=False) as store:
        store.put("a/expired", b"x", expires=TTL(0.05))
        store.put("b/expired", b"x", expires=TTL(0.05))
        store.put("a/live", b"x", expires=TTL(3600))
        store.put("a/plain", b"x")
        time.sleep(0.1)
        assert store.sweep("a/") == 1
        assert store.sweep() == 1
        assert store.sweep() == 0
        assert [m.key for m in store.list()] == ["a/live", "a/plain"]
    with pytest.raises(NotSupported):
        satchel.Store(MemoryBackend()).sweep()


def test_close_closes_the_backend() -> None:
    spy = _Spy(MemoryBackend())
    with satchel.Store(spy) as store:
        assert repr(store).startswith("Store(")
    assert spy.closed


@given(
    st.lists(st.binary(max_size=300), max_size=6),
    st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=20),
)
def test_an_iterator_body_hands_out_every_byte_once_in_order(chunks: list[bytes], sizes: list[int]) -> None:
    body = IteratorBody(iter(chunks))
    pieces = []
    for n in itertools.cycle(sizes):
        piece = body.read(n)
        if not piece:
            break
        assert type(piece) is bytes
        assert 0 < len(piece) <= n
        pieces.append(piece)
    assert b"".join(pieces) == b"".join(chunks)


@given(st.sampled_from([bytes, bytearray, memoryview]), st.binary(max_size=200), st.integers(min_value=1, max_value=64))
def test_a_remainder_copies_only_what_is_taken(kind: type, data: bytes, n: int) -> None:
    rest = Remainder(kind(data))
    assert len(rest) == len(data)
    taken = []
    while rest:
        piece = rest.take(n)
        assert type(piece) is bytes
        assert 0 < len(piece) <= n
        taken.append(piece)
    assert b"".join(taken) == data
    assert rest.take(n) == b""
    assert Remainder(kind(data)).take(-1) == data
