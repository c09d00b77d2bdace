"""The libcloud front door: ``satchel.drivers`` against libcloud's storage base API, over memory, a local folder
and S3 (moto)."""

from __future__ import annotations

import hashlib
import os
import pickle
import secrets
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import urllib3

import satchel
import servers
from satchel.backend import Backend, ForwardingBackend, GetResult, Payload
from satchel.body import IteratorBody
from satchel.drivers import (
    CONTAINER_MARKER,
    Container,
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerError,
    ContainerIsNotEmptyError,
    InvalidContainerNameError,
    LibcloudError,
    Object,
    ObjectDoesNotExistError,
    ObjectError,
    ObjectHashMismatchError,
    StorageDriver,
)
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotSupported,
    RangeNotSatisfiable,
    SatchelError,
)
from satchel.path import Key
from satchel.types import GetOptions, PutOptions, PutResult

DATA = bytes(i * 7 % 251 for i in range(300_000))


@pytest.fixture
def driver(door_url: str) -> Iterator[StorageDriver]:
    """A driver over a fresh store (memory, local folder or S3 bucket)."""
    with StorageDriver(door_url) as made:
        yield made


@pytest.fixture
def box(driver: StorageDriver) -> Container:
    """An empty container."""
    return driver.create_container("box")


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A local folder for files to upload and download."""
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


@pytest.fixture
def layered(door_url: str) -> Iterator[Callable[[Callable[[Backend], Backend]], StorageDriver]]:
    """Build drivers over the door's store with a test layer on top of its stack."""
    opened: list[satchel.Store] = []

    def build(layer: Callable[[Backend], Backend]) -> StorageDriver:
        store = satchel.open(door_url)
        opened.append(store)
        return StorageDriver(satchel.Store(layer(store.backend)))

    yield build
    for store in opened:
        store.close()


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# --- test layers ---------------------------------------------------------------------------------------------


class _CountingReader:
    def __init__(self, inner: Payload, spy: _ReadSpy) -> None:
        self._inner = inner
        self._spy = spy

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)  # type: ignore[union-attr]
        self._spy.bytes_read += len(data)
        return data


class _ReadSpy(ForwardingBackend):
    """Counts the bytes the store has read from a put's payload so far."""

    bytes_read = 0

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        if isinstance(payload, bytes | bytearray | memoryview):
            self.bytes_read += len(payload)
            return self.inner.put(key, payload, options)
        return self.inner.put(key, _CountingReader(payload, self), options)


class _FlipFirstByte:
    def __init__(self, inner: Payload) -> None:
        self._inner = inner
        self._first = True

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)  # type: ignore[union-attr]
        if self._first and data:
            self._first = False
            return bytes([data[0] ^ 0xFF]) + data[1:]
        return data


class _Corrupting(ForwardingBackend):
    """Stores every object with its first byte flipped."""

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        if isinstance(payload, bytes | bytearray | memoryview):
            payload = bytes([payload[0] ^ 0xFF]) + bytes(payload[1:]) if payload else b""
            return self.inner.put(key, payload, options)
        return self.inner.put(key, _FlipFirstByte(payload), options)


class _Truncating(ForwardingBackend):
    """Serves only the first half of each object's bytes while announcing the full length."""

    def get(self, key: Key, options: GetOptions) -> GetResult:
        result = self.inner.get(key, options)
        if options.head:
            return result
        announced = result.body.size
        data = result.body.read()
        result.body.close()
        return GetResult(result.meta, result.range, IteratorBody(iter([data[: len(data) // 2]]), size=announced))


class _Failing(ForwardingBackend):
    """Serves a body that fails with a connection error after its first chunk."""

    def get(self, key: Key, options: GetOptions) -> GetResult:
        result = self.inner.get(key, options)
        if options.head:
            return result
        result.body.close()

        def chunks() -> Iterator[bytes]:
            yield b"partial"
            raise ConnectionResetError("connection reset by peer")

        return GetResult(result.meta, result.range, IteratorBody(chunks(), size=result.meta.size))


# --- the constructor ---------------------------------------------------------------------------------------


def test_driver_from_url_and_from_store(door_url: str) -> None:
    with StorageDriver(door_url) as driver:
        assert driver.name == "satchel"
        driver.create_container("c")
        assert driver.store.exists(f"c/{CONTAINER_MARKER}")
    store = satchel.open(door_url)
    with StorageDriver(store) as shared:
        assert [c.name for c in shared.list_containers()] == ["c"]
    assert store.exists(f"c/{CONTAINER_MARKER}")  # an open store is not closed with the driver
    store.close()


def test_driver_refuses_options_with_a_store_and_unknown_options() -> None:
    with satchel.open("memory://") as store, pytest.raises(ConfigError):
        StorageDriver(store, retries=1)
    with pytest.raises(ConfigError):
        StorageDriver("memory://", secure=True)


# --- containers --------------------------------------------------------------------------------------------


def test_create_container_returns_an_empty_listable_container(driver: StorageDriver) -> None:
    created = driver.create_container("photos")
    assert isinstance(created, Container)
    assert (created.name, created.extra, created.driver) == ("photos", {}, driver)
    assert driver.list_container_objects(created) == []
    assert created.list_objects() == []
    assert [c.name for c in driver.list_containers()] == ["photos"]
    assert driver.get_container("photos").name == "photos"


def test_create_existing_container_fails(driver: StorageDriver) -> None:
    driver.create_container("photos")
    with pytest.raises(ContainerAlreadyExistsError) as caught:
        driver.create_container("photos")
    assert caught.value.container_name == "photos"
    assert isinstance(caught.value, AlreadyExists | FileExistsError)


def test_a_prefix_with_objects_is_a_container(driver: StorageDriver) -> None:
    driver.store.put("made-elsewhere/a.txt", b"a")
    driver.store.put("top-level-object", b"x")
    assert [c.name for c in driver.list_containers()] == ["made-elsewhere"]
    assert driver.get_container("made-elsewhere").name == "made-elsewhere"
    with pytest.raises(ContainerAlreadyExistsError):
        driver.create_container("made-elsewhere")
    assert [o.name for o in driver.get_container("made-elsewhere").list_objects()] == ["a.txt"]


@pytest.mark.parametrize("name", ["", "a/b", "/a", ".", "..", ".satchel", "nul\x00", "tab\there"])
def test_invalid_container_names(driver: StorageDriver, name: str) -> None:
    with pytest.raises(InvalidContainerNameError) as caught:
        driver.create_container(name)
    assert isinstance(caught.value, InvalidPath | ValueError)
    assert caught.value.container_name == name
    assert driver.list_containers() == []
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_container(name)


def test_get_missing_container(driver: StorageDriver) -> None:
    with pytest.raises(ContainerDoesNotExistError) as caught:
        driver.get_container("nope")
    assert caught.value.container_name == "nope"
    assert isinstance(caught.value, NotFound)


def test_iterate_and_list_containers(driver: StorageDriver) -> None:
    for name in ("b", "a", "c"):
        driver.create_container(name)
    iterated = driver.iterate_containers()
    assert iter(iterated) is iterated
    assert [c.name for c in iterated] == ["a", "b", "c"]
    assert [c.name for c in driver.list_containers()] == ["a", "b", "c"]
    assert all(c.driver is driver for c in driver.list_containers())


def test_delete_empty_container(driver: StorageDriver) -> None:
    box = driver.create_container("box")
    assert driver.delete_container(box) is True
    assert driver.list_containers() == []
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_container("box")
    again = driver.create_container("box")
    assert again.delete() is True


def test_delete_container_with_objects_fails(driver: StorageDriver, box: Container) -> None:
    box.upload_object_via_stream(iter([b"x"]), "thing")
    with pytest.raises(ContainerIsNotEmptyError) as caught:
        driver.delete_container(box)
    assert caught.value.container_name == "box"
    assert [o.name for o in box.list_objects()] == ["thing"]
    box.get_object("thing").delete()
    assert box.delete() is True


def test_delete_missing_container(driver: StorageDriver) -> None:
    with pytest.raises(ContainerDoesNotExistError):
        driver.delete_container(Container("ghost", {}, driver))


def test_container_cdn_is_not_supported(driver: StorageDriver, box: Container) -> None:
    with pytest.raises(NotSupported):
        driver.get_container_cdn_url(box)
    with pytest.raises(NotImplementedError):
        box.enable_cdn()
    with pytest.raises(NotImplementedError):
        box.get_cdn_url()


# --- uploads -----------------------------------------------------------------------------------------------


def test_upload_object_streams_a_file(driver: StorageDriver, box: Container, files: Path) -> None:
    path = _write(files / "report.txt", DATA)
    obj = driver.upload_object(path, box, "docs/report.txt")
    assert isinstance(obj, Object)
    assert (obj.name, obj.size, obj.container, obj.driver) == ("docs/report.txt", len(DATA), box, driver)
    assert obj.extra["content_type"] == "text/plain"
    assert driver.store.get_bytes("box/docs/report.txt") == DATA
    fetched = driver.get_object("box", "docs/report.txt")
    assert fetched.hash == obj.hash
    assert fetched.size == len(DATA)


def test_upload_object_extra_and_headers(driver: StorageDriver, box: Container, files: Path) -> None:
    path = _write(files / "blob", b"data")
    box.upload_object(
        path,
        "with-extra",
        extra={"content_type": "application/x-thing", "meta_data": {"owner": "ada"}},
        headers={"Cache-Control": "max-age=60", "Content-Disposition": "attachment"},
    )
    obj = driver.get_object("box", "with-extra")
    assert obj.extra["content_type"] == "application/x-thing"
    assert obj.meta_data == {"owner": "ada"}
    assert obj.extra["cache_control"] == "max-age=60"
    assert obj.extra["content_disposition"] == "attachment"
    box.upload_object(path, "unknown-type")
    assert driver.get_object("box", "unknown-type").extra["content_type"] == "application/octet-stream"


def test_upload_refuses_what_it_cannot_store(driver: StorageDriver, box: Container, files: Path) -> None:
    path = _write(files / "f", b"x")
    with pytest.raises(NotSupported):
        driver.upload_object(path, box, "acl", extra={"acl": "public-read"})
    with pytest.raises(NotSupported):
        driver.upload_object_via_stream(iter([b"x"]), box, "cors", headers={"Access-Control-Allow-Origin": "*"})
    with pytest.raises(LibcloudError):
        driver.upload_object(path, box, CONTAINER_MARKER)
    with pytest.raises(InvalidPath):
        driver.upload_object(path, box, "a//b")
    assert box.list_objects() == []


def test_upload_missing_file_or_container(driver: StorageDriver, box: Container, files: Path) -> None:
    with pytest.raises(FileNotFoundError):
        driver.upload_object(str(files / "absent"), box, "x")
    path = _write(files / "f", b"x")
    ghost = Container("ghost", {}, driver)
    with pytest.raises(ContainerDoesNotExistError):
        driver.upload_object(path, ghost, "x")
    with pytest.raises(ContainerDoesNotExistError):
        driver.upload_object_via_stream(iter([b"x"]), ghost, "x")
    assert [c.name for c in driver.list_containers()] == ["box"]


def test_upload_large_file_verifies_hash(driver: StorageDriver, box: Container, files: Path) -> None:
    data = os.urandom(11 << 20)  # past the writers' part size: a multipart etag on S3
    obj = box.upload_object(_write(files / "big.bin", data), "big.bin")
    assert obj.size == len(data)
    got = hashlib.md5(usedforsecurity=False)
    for chunk in obj.as_stream():
        got.update(chunk)
    assert got.hexdigest() == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_verify_hash_detects_corruption(
    layered: Callable[[Callable[[Backend], Backend]], StorageDriver], files: Path
) -> None:
    driver = layered(_Corrupting)
    box = driver.create_container("box")
    path = _write(files / "f.bin", DATA)
    with pytest.raises(ObjectHashMismatchError) as caught:
        driver.upload_object(path, box, "f.bin")
    assert caught.value.object_name == "f.bin"
    obj = driver.upload_object(path, box, "unchecked.bin", verify_hash=False)
    assert obj.size == len(DATA)
    assert driver.store.get_bytes("box/unchecked.bin") != DATA


def test_upload_via_stream_does_not_buffer_the_iterator(
    layered: Callable[[Callable[[Backend], Backend]], StorageDriver],
) -> None:
    driver = layered(_ReadSpy)
    backend = driver.store.backend
    assert isinstance(backend, _ReadSpy)
    box = driver.create_container("box")
    chunk = b"z" * (256 << 10)
    read_when_yielding: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            read_when_yielding.append(backend.bytes_read)
            yield chunk

    obj = driver.upload_object_via_stream(chunks(), box, "streamed")
    assert obj.size == 12 * len(chunk)
    # The store reads chunk k before the iterator is asked for chunk k + 2: nothing piles up in between.
    assert read_when_yielding[-1] >= 9 * len(chunk)
    assert driver.store.get_bytes("box/streamed") == chunk * 12


def test_upload_via_stream_accepts_iterators_str_and_files(driver: StorageDriver, box: Container, files: Path) -> None:
    mixed: list[bytes | str] = [b"ab", b"cd", "é"]
    obj = driver.upload_object_via_stream(iter(mixed), box, "mixed.json")
    assert (obj.size, obj.extra["content_type"]) == (6, "application/json")
    assert driver.store.get_bytes("box/mixed.json") == "abcdé".encode()
    with open(_write(files / "f", DATA), "rb") as source:
        from_file = box.upload_object_via_stream(source, "from-file", extra={"content_type": "text/csv"})
    assert from_file.size == len(DATA)
    assert box.get_object("from-file").extra["content_type"] == "text/csv"
    empty = box.upload_object_via_stream(iter([]), "empty")
    assert empty.size == 0
    assert b"".join(empty.as_stream()) == b""


def test_failing_iterator_leaves_previous_object(driver: StorageDriver, box: Container) -> None:
    box.upload_object_via_stream(iter([b"old"]), "kept")

    def broken() -> Iterator[bytes]:
        yield b"new"
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        box.upload_object_via_stream(broken(), "kept")
    assert driver.store.get_bytes("box/kept") == b"old"


# --- objects and listings ------------------------------------------------------------------------------------


def test_get_object_fields(driver: StorageDriver, box: Container) -> None:
    uploaded = box.upload_object_via_stream(iter([DATA]), "a.bin", extra={"meta_data": {"k": "v"}})
    obj = driver.get_object("box", "a.bin")
    assert (obj.name, obj.size, obj.hash) == ("a.bin", len(DATA), uploaded.hash)
    assert obj.hash is not None
    assert '"' not in obj.hash
    assert obj.meta_data == {"k": "v"}
    assert obj.extra["last_modified"].tzinfo is not None
    assert obj.container.name == "box"
    assert repr(obj).startswith("<Object: name=a.bin, size=300000")
    assert "provider=satchel" in repr(box)


def test_get_missing_object(driver: StorageDriver, box: Container) -> None:
    with pytest.raises(ObjectDoesNotExistError) as caught:
        driver.get_object("box", "absent")
    assert caught.value.object_name == "absent"
    assert isinstance(caught.value, NotFound | FileNotFoundError)
    with pytest.raises(ObjectDoesNotExistError):
        driver.get_object("box", CONTAINER_MARKER)
    with pytest.raises(ObjectDoesNotExistError):
        box.get_object("a//b")
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_object("ghost", "absent")
    with pytest.raises(ContainerDoesNotExistError):
        driver.get_object("a/b", "absent")


def test_list_objects_with_prefix(driver: StorageDriver, box: Container) -> None:
    for name in ("b/2", "a/1", "ab", "b/1", "c"):
        box.upload_object_via_stream(iter([name.encode()]), name)
    driver.store.put("boxy/other", b"not in box")
    assert [o.name for o in driver.list_container_objects(box)] == ["a/1", "ab", "b/1", "b/2", "c"]
    assert [o.name for o in driver.list_container_objects(box, prefix="a")] == ["a/1", "ab"]
    assert [o.name for o in box.list_objects(prefix="b/")] == ["b/1", "b/2"]
    assert [o.size for o in box.list_objects(prefix="b/")] == [3, 3]
    assert box.list_objects(prefix="zzz") == []
    with pytest.warns(DeprecationWarning, match="ex_prefix"):
        assert [o.name for o in driver.list_container_objects(box, ex_prefix="b")] == ["b/1", "b/2"]
    with pytest.warns(DeprecationWarning, match="ex_prefix"):
        assert [o.name for o in box.iterate_objects(ex_prefix="c")] == ["c"]


def test_iterate_objects_is_lazy(driver: StorageDriver, box: Container) -> None:
    for i in range(5):
        box.upload_object_via_stream(iter([b"x"]), f"o{i}")
    iterated = driver.iterate_container_objects(box)
    assert iter(iterated) is iterated
    assert next(iterated).name == "o0"
    assert [o.name for o in iterated] == ["o1", "o2", "o3", "o4"]
    assert all(o.container is box for o in box.iterate_objects(prefix="o"))


def test_list_objects_of_missing_container(driver: StorageDriver) -> None:
    ghost = Container("ghost", {}, driver)
    with pytest.raises(ContainerDoesNotExistError):
        driver.list_container_objects(ghost)
    with pytest.raises(ContainerDoesNotExistError):
        list(driver.iterate_container_objects(ghost, prefix="x"))


def test_delete_object(driver: StorageDriver, box: Container) -> None:
    obj = box.upload_object_via_stream(iter([b"x"]), "gone")
    assert driver.delete_object(obj) is True
    with pytest.raises(ObjectDoesNotExistError):
        box.get_object("gone")
    assert obj.delete() is True  # a missing object deletes fine, as on S3
    again = box.upload_object_via_stream(iter([b"x"]), "gone")
    assert box.delete_object(again) is True
    assert box.list_objects() == []
    assert [c.name for c in driver.list_containers()] == ["box"]  # the marker keeps the empty container


def test_object_cdn_url_is_a_signed_url(door_url: str, driver: StorageDriver, box: Container) -> None:
    obj = box.upload_object_via_stream(iter([b"signed bytes"]), "s.txt")
    with pytest.raises(NotImplementedError):
        obj.enable_cdn()
    if not door_url.startswith("s3://"):
        with pytest.raises(NotSupported):
            obj.get_cdn_url()
        return
    url = driver.get_object_cdn_url(obj)
    assert "s.txt" in url
    assert "s.txt" in obj.get_cdn_url()
    response = urllib3.PoolManager(retries=False).request("GET", url)
    assert response.status == 200
    assert response.data == b"signed bytes"
    short = driver.get_object_cdn_url(obj, ex_expiry=0.01)
    assert short != url


# --- downloads -----------------------------------------------------------------------------------------------


def test_download_object_to_a_file(driver: StorageDriver, box: Container, files: Path) -> None:
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    target = files / "out.bin"
    assert driver.download_object(obj, str(target)) is True
    assert target.read_bytes() == DATA
    with pytest.raises(LibcloudError):
        obj.download(str(target))
    box.upload_object_via_stream(iter([b"newer"]), "a.bin")
    assert obj.download(str(target), overwrite_existing=True) is True
    assert target.read_bytes() == b"newer"
    assert _leftovers(files) == []


def test_download_object_into_a_directory(driver: StorageDriver, box: Container, files: Path) -> None:
    flat = box.upload_object_via_stream(iter([b"flat"]), "flat.txt")
    nested = box.upload_object_via_stream(iter([b"nested"]), "deep/er/n.txt")
    assert box.download_object(flat, str(files)) is True
    assert (files / "flat.txt").read_bytes() == b"flat"
    assert nested.download(str(files) + os.sep) is True
    assert (files / "deep" / "er" / "n.txt").read_bytes() == b"nested"
    with pytest.raises(LibcloudError):
        flat.download(str(files / "missing-dir") + os.sep)
    assert not (files / "missing-dir").exists()


def test_download_missing_object(driver: StorageDriver, box: Container, files: Path) -> None:
    ghost = Object("absent", 3, None, {}, {}, box, driver)
    with pytest.raises(ObjectDoesNotExistError):
        ghost.download(str(files / "x"))
    with pytest.raises(ObjectDoesNotExistError):
        driver.download_object_as_stream(ghost)
    with pytest.raises(ObjectDoesNotExistError):
        ghost.range_as_stream(0, 1)
    assert list(files.iterdir()) == []


def test_short_download_is_deleted_or_kept(
    layered: Callable[[Callable[[Backend], Backend]], StorageDriver], files: Path
) -> None:
    driver = layered(_Truncating)
    box = driver.create_container("box")
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    assert obj.download(str(files / "deleted")) is False
    assert list(files.iterdir()) == []
    assert obj.download(str(files / "kept"), delete_on_failure=False) is False
    assert (files / "kept").read_bytes() == DATA[: len(DATA) // 2]
    assert box.download_object_range(obj, str(files / "range"), 10, 1010) is False
    assert not (files / "range").exists()
    assert _leftovers(files) == []


def test_failed_download_leaves_the_destination(
    layered: Callable[[Callable[[Backend], Backend]], StorageDriver], files: Path
) -> None:
    driver = layered(_Failing)
    box = driver.create_container("box")
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    target = files / "existing"
    target.write_bytes(b"previous")
    for delete_on_failure in (True, False):
        with pytest.raises(ConnectionResetError):
            obj.download(str(target), overwrite_existing=True, delete_on_failure=delete_on_failure)
        assert target.read_bytes() == b"previous"
    with pytest.raises(ConnectionResetError):
        obj.download(str(files / "fresh"))
    assert sorted(p.name for p in files.iterdir()) == ["existing"]


def test_download_as_stream(driver: StorageDriver, box: Container) -> None:
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    assert b"".join(driver.download_object_as_stream(obj)) == DATA
    sized = list(obj.as_stream(chunk_size=7000))
    assert b"".join(sized) == DATA
    assert {len(c) for c in sized[:-1]} == {7000}
    assert 0 < len(sized[-1]) <= 7000
    assert b"".join(box.download_object_as_stream(obj, 1 << 16)) == DATA
    with pytest.raises(ValueError):
        obj.as_stream(chunk_size=0)


@pytest.mark.parametrize(
    ("start", "end"), [(0, None), (0, 1), (5, 17), (1000, None), (len(DATA) - 1, None), (100, len(DATA) + 50)]
)
def test_range_as_stream_end_is_exclusive(driver: StorageDriver, box: Container, start: int, end: int | None) -> None:
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    expected = DATA[start:end]
    assert b"".join(driver.download_object_range_as_stream(obj, start, end)) == expected
    assert b"".join(obj.range_as_stream(start, end, chunk_size=999)) == expected
    chunks = list(box.download_object_range_as_stream(obj, start, end, chunk_size=4096))
    assert all(len(c) == 4096 for c in chunks[:-1])


def test_range_errors(driver: StorageDriver, box: Container) -> None:
    obj = box.upload_object_via_stream(iter([b"0123456789"]), "digits")
    for start, end in ((-1, None), (5, 5), (6, 5)):
        with pytest.raises(ValueError):
            driver.download_object_range_as_stream(obj, start, end)
    with pytest.raises(RangeNotSatisfiable):
        b"".join(obj.range_as_stream(10))
    empty = box.upload_object_via_stream(iter([]), "empty")
    assert b"".join(empty.range_as_stream(0)) == b""


def test_download_object_range_to_a_file(driver: StorageDriver, box: Container, files: Path) -> None:
    obj = box.upload_object_via_stream(iter([DATA]), "a.bin")
    target = files / "part"
    assert driver.download_object_range(obj, str(target), 100, 5100) is True
    assert target.read_bytes() == DATA[100:5100]
    with pytest.raises(LibcloudError):
        obj.download_range(str(target), 0, 10)
    assert obj.download_range(str(target), 299_990, overwrite_existing=True) is True
    assert target.read_bytes() == DATA[299_990:]
    assert box.download_object_range(obj, str(files), 0, 3) is True
    assert (files / "a.bin").read_bytes() == DATA[:3]
    with pytest.raises(ValueError):
        obj.download_range(str(files / "never"), 3, 3)
    assert not (files / "never").exists()
    assert _leftovers(files) == []


# --- a local folder served by satchel: signed URLs --------------------------------------------------------


@pytest.fixture(scope="module")
def served_folder() -> Iterator[servers.Server]:
    """``satchel serve`` over a local folder, auth off: the signer for local folders."""
    try:
        started = servers.start_satchel()
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield started
    servers.stop(started)


def test_driver_over_a_served_folder(served_folder: servers.Server, files: Path) -> None:
    url = f"satchel+{served_folder.endpoint}/drivers/run={secrets.token_hex(4)}"
    with StorageDriver(url) as driver:
        box = driver.create_container("box")
        with pytest.raises(ContainerAlreadyExistsError):
            driver.create_container("box")
        assert box.list_objects() == []
        obj = box.upload_object(_write(files / "f.txt", DATA), "dir/f.txt")
        assert [c.name for c in driver.list_containers()] == ["box"]
        assert [o.name for o in box.list_objects(prefix="dir/")] == ["dir/f.txt"]
        assert driver.get_object("box", "dir/f.txt").size == len(DATA)
        assert b"".join(obj.range_as_stream(10, 20)) == DATA[10:20]
        assert obj.download(str(files / "back")) is True
        assert (files / "back").read_bytes() == DATA
        response = urllib3.PoolManager(retries=False).request("GET", obj.get_cdn_url())
        assert (response.status, response.data) == (200, DATA)
        with pytest.raises(ContainerIsNotEmptyError):
            box.delete()
        assert obj.delete() is True
        assert box.delete() is True
        assert driver.list_containers() == []


# --- flat memory ---------------------------------------------------------------------------------------------


def test_streams_keep_memory_flat(tmp_path: Path, files: Path) -> None:
    size = 48 << 20
    block = os.urandom(1 << 20)
    with StorageDriver(str(tmp_path / "store"), fsync=False) as driver:
        box = driver.create_container("box")
        tracemalloc.start()
        try:
            box.upload_object_via_stream((block for _ in range(size >> 20)), "big")
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            obj = box.get_object("big")
            total = sum(len(chunk) for chunk in obj.as_stream())
            obj.download(str(files / "big"))
            box.upload_object(str(files / "big"), "big-again")
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert total == size
    assert upload_peak < 16 << 20, upload_peak
    assert download_peak < 16 << 20, download_peak


# --- errors --------------------------------------------------------------------------------------------------


def test_error_classes_follow_libcloud_and_satchel() -> None:
    driver = StorageDriver("memory://")
    missing = ObjectDoesNotExistError("gone", driver, "a.txt")
    assert (missing.value, missing.driver, missing.object_name) == ("gone", driver, "a.txt")
    assert isinstance(missing, ObjectError | LibcloudError | SatchelError | FileNotFoundError)
    assert "ObjectDoesNotExistError" in str(missing)
    assert "a.txt" in str(missing)
    no_box = ContainerDoesNotExistError("nope", driver, "box")
    assert (no_box.container_name, no_box.key) == ("box", "box")
    assert isinstance(no_box, ContainerError | NotFound)
    for error in (
        ContainerAlreadyExistsError("v", None, "c"),
        ContainerIsNotEmptyError("v", None, "c"),
        InvalidContainerNameError("v", None, "c"),
        ObjectHashMismatchError("v", None, "o"),
        LibcloudError("v"),
    ):
        assert isinstance(error, LibcloudError)
        copy = pickle.loads(pickle.dumps(error))
        assert (type(copy), copy.value) == (type(error), "v")
    assert issubclass(ContainerAlreadyExistsError, AlreadyExists)
    assert issubclass(InvalidContainerNameError, InvalidPath)
    assert not issubclass(ContainerIsNotEmptyError, NotFound)
    assert pickle.loads(pickle.dumps(missing)).object_name == "a.txt"


class _SmallChunks(ForwardingBackend):
    """Serves bodies whose reads return at most 1000 bytes, as a network stream may."""

    def get(self, key: Key, options: GetOptions) -> GetResult:
        result = self.inner.get(key, options)
        if options.head:
            return result
        data = result.body.read()
        result.body.close()
        pieces = iter([data[i : i + 1000] for i in range(0, len(data), 1000)])
        return GetResult(result.meta, result.range, IteratorBody(pieces, size=len(data)))


def test_chunk_size_is_exact_over_short_reads(
    layered: Callable[[Callable[[Backend], Backend]], StorageDriver],
) -> None:
    driver = layered(_SmallChunks)
    obj = driver.create_container("box").upload_object_via_stream(iter([DATA]), "a.bin")
    chunks = list(obj.as_stream(chunk_size=4096))
    assert [len(c) for c in chunks[:-1]] == [4096] * (len(DATA) // 4096)
    assert b"".join(chunks) == DATA
    ranged = list(obj.range_as_stream(10, 20_010, chunk_size=3000))
    assert [len(c) for c in ranged] == [3000] * 6 + [2000]
