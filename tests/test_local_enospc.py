"""A real full disk (a 4 MiB tmpfs): writes fail with StorageFull and leave the previous data as it was."""

from __future__ import annotations

import errno
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_helpers import internal_names, mounted
from satchel.backend import Payload
from satchel.backends.local import LocalBackend
from satchel.errors import SatchelError, StorageFull
from satchel.path import Key
from satchel.types import CopyOptions, GetOptions, PutOptions

MIB = 1 << 20
PLAIN = PutOptions()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted("tmpfs", tmp_path / "small", "size=4m") as where:
        yield where


@pytest.fixture
def backend(disk: Path) -> LocalBackend:
    return LocalBackend(disk / "root")


@pytest.fixture
def old(backend: LocalBackend) -> bytes:
    data = os.urandom(MIB)
    backend.put(Key("k"), data, PLAIN)
    return data


def _read(backend: LocalBackend, key: str) -> bytes:
    with backend.get(Key(key), GetOptions()).body as body:
        return body.read()


def _assert_intact(backend: LocalBackend, old: bytes) -> None:
    assert _read(backend, "k") == old
    assert [meta.key for meta in backend.list("")] == ["k"]
    assert internal_names(Path(backend.root)) == []


@pytest.fixture(params=["bytes", "stream", "file"])
def big_payload(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Payload]:
    """8 MiB as bytes, as a stream, and as a regular file on the big disk (copied in-kernel)."""
    data = os.urandom(8 * MIB)
    if request.param == "bytes":
        yield data
    elif request.param == "stream":
        yield io.BytesIO(data)
    else:
        source = tmp_path / "big-source.bin"
        source.write_bytes(data)
        with open(source, "rb") as f:
            yield f


def test_a_put_that_does_not_fit(backend: LocalBackend, old: bytes, big_payload: Payload) -> None:
    with pytest.raises(StorageFull) as caught:
        backend.put(Key("k"), big_payload, PLAIN)
    error = caught.value
    assert isinstance(error, SatchelError)
    assert isinstance(error, OSError)
    assert error.errno == errno.ENOSPC
    assert (error.key, error.operation, error.backend) == ("k", "put", "local")
    assert "'k'" in str(error)
    assert "put" in str(error)
    assert isinstance(error.__cause__, OSError)
    _assert_intact(backend, old)


def test_a_multipart_complete_that_does_not_fit(backend: LocalBackend, old: bytes) -> None:
    upload = backend.put_multipart(Key("k"), PLAIN)
    parts = [upload.put_part(n, os.urandom(MIB)) for n in (2, 1)]
    with pytest.raises(StorageFull) as caught:
        upload.complete(parts)
    assert caught.value.operation == "complete"
    assert _read(backend, "k") == old
    assert os.listdir(Path(backend.root) / ".satchel" / "staging") == []
    upload.abort()
    _assert_intact(backend, old)


def test_a_copy_that_does_not_fit(backend: LocalBackend, old: bytes) -> None:
    backend.put(Key("two"), os.urandom(2 * MIB), PLAIN)
    with pytest.raises(StorageFull):
        backend.copy(Key("two"), Key("k"), CopyOptions())
    assert _read(backend, "k") == old
    assert internal_names(Path(backend.root)) == []


def test_the_disk_works_again_after_space_is_freed(backend: LocalBackend, old: bytes) -> None:
    with pytest.raises(StorageFull):
        backend.put(Key("big"), os.urandom(4 * MIB), PLAIN)
    backend.delete([Key("k")])
    backend.put(Key("big"), os.urandom(3 * MIB), PLAIN)
    assert [meta.key for meta in backend.list("")] == ["big"]
    assert old
