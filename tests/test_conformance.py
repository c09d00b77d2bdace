"""The conformance suite over every store case of conftest, and the read-only layer's refusals."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import satchel
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.errors import PermissionDenied
from satchel.layers.readonly import ReadOnlyLayer
from satchel.testing import ConformanceTests
from satchel.types import TTL


class TestConformance(ConformanceTests):
    """Every conformance test on every store case."""

    @pytest.fixture
    def many_keys(self, fast_store: bool) -> int:
        return 1100 if fast_store else 0

    @pytest.fixture
    def advance(self, store_advance: Callable[[float], None]) -> Callable[[float], None]:
        return store_advance


@pytest.fixture(params=["memory", "local"])
def writable_and_readonly(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[satchel.Store, satchel.Store]:
    """A writable store and a read-only store over the same backend."""
    backend = MemoryBackend() if request.param == "memory" else LocalBackend(tmp_path / "root", fsync=False)
    return satchel.Store(backend), satchel.Store(ReadOnlyLayer(backend))


def test_readonly_refuses_every_write(
    writable_and_readonly: tuple[satchel.Store, satchel.Store], tmp_path: Path
) -> None:
    writable, readonly = writable_and_readonly
    writable.put("existing", b"data", content_type="text/plain")
    source = tmp_path / "upload.bin"
    source.write_bytes(b"upload")
    writes: list[Callable[[], object]] = [
        lambda: readonly.put("new", b"x"),
        lambda: readonly.put("existing", b"x"),
        lambda: readonly.put("new", io.BytesIO(b"x"), mode="create"),
        lambda: readonly.put("existing", b"x", if_match="etag"),
        lambda: readonly.put_multipart("new"),
        lambda: readonly.delete("existing"),
        lambda: readonly.delete("missing"),
        lambda: readonly.delete_many(["existing", "missing"]),
        lambda: readonly.copy("existing", "copy"),
        lambda: readonly.copy("existing", "copy", overwrite=False),
        lambda: readonly.move("existing", "moved"),
        lambda: readonly.upload_file(source, "uploaded"),
        lambda: readonly.open("new", "wb").close(),
    ]
    for write in writes:
        with pytest.raises(PermissionDenied) as info:
            write()
        assert isinstance(info.value, PermissionError)
    assert [meta.key for meta in writable.list()] == ["existing"]
    assert readonly.get_bytes("existing") == b"data"
    assert readonly.head("existing").content_type == "text/plain"
    assert [meta.key for meta in readonly.list()] == ["existing"]
    assert readonly.exists("existing")
    assert readonly.get_range("existing", 1, 3) == b"at"


def test_readonly_stack_refuses_sweep(tmp_path: Path) -> None:
    writable = satchel.open(tmp_path, fsync=False)
    writable.put("expiring", b"x", expires=TTL(0.2))
    readonly = satchel.open(tmp_path, fsync=False, readonly=True)
    time.sleep(0.3)
    assert not readonly.exists("expiring")
    with pytest.raises(PermissionDenied):
        readonly.sweep()
    assert writable.sweep() == 1
