"""Conformance: the file-like API (``Store.open``) and whole-file transfers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from satchel.errors import NotFound, PreconditionFailed
from satchel.io import ObjectWriter
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys, requires

__all__ = ["FileAPITests"]

DATA = bytes(i * 13 % 256 for i in range(10_000))


class _Boom(Exception):
    pass


def _write_then_fail(writer: ObjectWriter, data: bytes, chunk: int = 1000) -> None:
    """Write ``data`` in chunks inside the writer's ``with`` block, then raise _Boom out of it."""
    with writer:
        for i in range(0, len(data), chunk):
            writer.write(data[i : i + chunk])
        raise _Boom


class FileAPITests(StoreTests):
    """``Store.open`` readers (seeking, replaced objects) and writers (small, streaming, aborted), and
    ``upload_file``/``download_file``."""

    @requires("ranges", "conditional_get")
    def test_reader_reads_and_seeks(self, store: Store, prefix: str) -> None:
        key = prefix + "file"
        store.put(key, DATA)
        with store.open(key) as reader:
            assert reader.readable()
            assert reader.seekable()
            assert reader.read(10) == DATA[:10]
            assert reader.tell() == 10
            assert reader.seek(5000) == 5000
            assert reader.read(5) == DATA[5000:5005]
            assert reader.seek(-10, io.SEEK_END) == len(DATA) - 10
            assert reader.read() == DATA[-10:]
            assert reader.read(1) == b""
            assert reader.seek(-20, io.SEEK_CUR) == len(DATA) - 20
            assert reader.read(5) == DATA[-20:-15]
            assert reader.seek(0) == 0
            buffer = bytearray(7)
            assert reader.readinto(buffer) == 7
            assert bytes(buffer) == DATA[:7]
            assert reader.seek(len(DATA) + 100) == len(DATA) + 100
            assert reader.read() == b""
            with pytest.raises(ValueError):
                reader.seek(-1)
        assert reader.closed

    @requires("ranges", "conditional_get")
    def test_buffered_reader(self, store: Store, prefix: str) -> None:
        key = prefix + "lines"
        text = b"".join(b"line %d\n" % i for i in range(1000))
        store.put(key, text)
        with io.BufferedReader(store.open(key), buffer_size=256) as buffered:
            assert buffered.readline() == b"line 0\n"
            buffered.seek(len(text) - len(b"line 999\n"))
            assert buffered.readline() == b"line 999\n"
            buffered.seek(0)
            assert buffered.readlines() == text.splitlines(keepends=True)

    @requires("ranges", "conditional_get")
    def test_reader_across_replaced_object_fails(self, store: Store, prefix: str) -> None:
        key = prefix + "file"
        store.put(key, DATA)
        with store.open(key) as reader:
            assert reader.read(100) == DATA[:100]
            reader.seek(200)
            store.put(key, DATA[::-1])
            with pytest.raises(PreconditionFailed):
                reader.read(100)

    def test_reader_of_empty_object(self, store: Store, prefix: str) -> None:
        store.put(prefix + "empty", b"")
        with store.open(prefix + "empty") as reader:
            assert reader.read() == b""

    def test_reader_of_missing_object(self, store: Store, prefix: str) -> None:
        with pytest.raises(NotFound):
            store.open(prefix + "missing")

    def test_writer(self, store: Store, prefix: str) -> None:
        key = prefix + "written"
        with store.open(key, "wb") as writer:
            assert writer.writable()
            writer.write(b"hello ")
            writer.write(memoryview(b"world"))
            assert writer.tell() == 11
            assert not store.exists(key)
        assert store.get_bytes(key) == b"hello world"
        assert writer.result is not None

    def test_writer_discards_on_exception(self, store: Store, prefix: str) -> None:
        store.put(prefix + "existing", b"previous")
        with pytest.raises(_Boom):
            _write_then_fail(store.open(prefix + "existing", "wb"), b"half a new version")
        with pytest.raises(_Boom):
            _write_then_fail(store.open(prefix + "fresh", "wb"), b"never visible")
        assert store.get_bytes(prefix + "existing") == b"previous"
        assert listed_keys(store, prefix) == [prefix + "existing"]

    def test_streaming_writer(self, store: Store, prefix: str) -> None:
        key = prefix + "streamed"
        writer = store.open(key, "wb", content_type="application/octet-stream")
        writer.threshold = 4096  # stream through the pipe after 4 KiB instead of buffering
        with writer:
            for i in range(0, len(DATA), 1000):
                writer.write(DATA[i : i + 1000])
            assert not store.exists(key)
        assert store.get_bytes(key) == DATA
        if store.backend.capabilities.attributes:
            assert store.head(key).content_type == "application/octet-stream"

    def test_streaming_writer_discards_on_exception(self, store: Store, prefix: str) -> None:
        store.put(prefix + "existing", b"previous")
        for key in (prefix + "existing", prefix + "fresh"):
            writer = store.open(key, "wb")
            writer.threshold = 4096
            with pytest.raises(_Boom):
                _write_then_fail(writer, DATA)
        assert store.get_bytes(prefix + "existing") == b"previous"
        assert listed_keys(store, prefix) == [prefix + "existing"]

    def test_upload_and_download_file(self, store: Store, prefix: str, tmp_path: Path) -> None:
        folder = tmp_path / "transfers"
        folder.mkdir()
        source = folder / "source.bin"
        source.write_bytes(DATA)
        store.upload_file(source, prefix + "uploaded")
        assert store.get_bytes(prefix + "uploaded") == DATA
        target = folder / "target.bin"
        meta = store.download_file(prefix + "uploaded", target)
        assert target.read_bytes() == DATA
        assert meta.key == prefix + "uploaded"

    def test_failed_download_leaves_target(self, store: Store, prefix: str, tmp_path: Path) -> None:
        folder = tmp_path / "transfers"
        folder.mkdir()
        target = folder / "target.bin"
        target.write_bytes(b"untouched")
        with pytest.raises(NotFound):
            store.download_file(prefix + "missing", target)
        assert target.read_bytes() == b"untouched"
        assert [p.name for p in folder.iterdir()] == ["target.bin"]
