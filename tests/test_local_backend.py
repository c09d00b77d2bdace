"""Behaviour of LocalBackend that the conformance suite cannot see: the files, the xattr, symlinks, processes."""

from __future__ import annotations

import array
import io
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_helpers import create_worker, increment_worker, internal_names, mounted, read_counter
from satchel.backend import Backend
from satchel.backends.local import LocalBackend, LocalConfig
from satchel.backends.local._cleanup import STALE_AFTER, is_stale
from satchel.backends.local._writer import temp_name
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    SatchelError,
)
from satchel.path import Key
from satchel.types import (
    TTL,
    Attributes,
    ByteRange,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    Part,
    PutMode,
    PutOptions,
)

PLAIN = PutOptions()
GET = GetOptions()
COPY = CopyOptions()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def backend(root: Path) -> LocalBackend:
    return LocalBackend(root)


def put(backend: LocalBackend, key: str, data: bytes, options: PutOptions = PLAIN) -> str:
    etag = backend.put(Key(key), data, options).etag
    assert etag is not None
    return etag


def read(backend: LocalBackend, key: str, options: GetOptions = GET) -> bytes:
    with backend.get(Key(key), options).body as body:
        return body.read()


def keys(backend: LocalBackend, prefix: str = "", offset: str | None = None) -> list[str]:
    return [meta.key for meta in backend.list(prefix, offset)]


def xattr(path: Path) -> dict[str, object]:
    value: dict[str, object] = json.loads(os.getxattr(path, "user.satchel"))
    return value


# --- construction, configuration ------------------------------------------------------------------------------


def test_is_a_backend_with_a_useful_repr(root: Path) -> None:
    backend = LocalBackend(root, fsync=False)
    assert isinstance(backend, Backend)
    assert backend.name == "local"
    assert repr(backend) == f"LocalBackend(root={str(root)!r}, fsync=False)"
    assert backend.capabilities.file_and_prefix is False
    assert backend.capabilities.signing is False
    assert backend.capabilities.min_part_size == 0
    assert backend.capabilities.max_delete_batch >= 100_000


def test_from_config_and_config(root: Path) -> None:
    backend = LocalBackend.from_config(LocalConfig(str(root), fsync=False))
    assert backend.config == LocalConfig(str(root), fsync=False, create=True)
    assert backend.root == str(root)


def test_create_false_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not an existing directory"):
        LocalBackend(tmp_path / "missing", create=False)
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a directory"):
        LocalBackend(tmp_path / "file")
    assert not (tmp_path / "missing").exists()


def test_a_symlinked_root_is_resolved_once(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    backend = LocalBackend(tmp_path / "alias")
    put(backend, "k", b"v")
    assert backend.root == str(real)
    assert (real / "k").read_bytes() == b"v"


@pytest.mark.parametrize("kind", ["symlink", "file"])
def test_the_reserved_directory_must_be_a_real_directory(tmp_path: Path, root: Path, kind: str) -> None:
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind == "symlink":
        (root / ".satchel").symlink_to(elsewhere)
    else:
        (root / ".satchel").write_bytes(b"")
    with pytest.raises(ConfigError, match="must be a directory of satchel"):
        LocalBackend(root)
    assert os.listdir(elsewhere) == []


def test_filesystem_without_user_xattrs_is_refused(tmp_path: Path) -> None:
    with mounted("ramfs", tmp_path / "ramfs") as where, pytest.raises(ConfigError, match="extended attributes"):
        LocalBackend(where)


def test_close_changes_nothing(backend: LocalBackend) -> None:
    put(backend, "k", b"v")
    backend.close()
    assert read(backend, "k") == b"v"


# --- plain files and the xattr ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fsync", [True, False])
@pytest.mark.parametrize("size", [0, 1, 1024])
def test_objects_are_plain_files(root: Path, fsync: bool, size: int) -> None:
    backend = LocalBackend(root, fsync=fsync)
    data = os.urandom(size)
    put(backend, "docs/2024/report.bin", data)
    assert (root / "docs" / "2024" / "report.bin").read_bytes() == data
    result = backend.get(Key("docs/2024/report.bin"), GET)
    with result.body as body:
        assert body.read() == data
    assert result.range == (0, size)
    assert result.meta.size == size
    assert sorted(os.listdir(root)) == [".satchel", "docs"]
    assert os.listdir(root / "docs" / "2024") == ["report.bin"]  # no sidecar


def test_metadata_lives_in_one_xattr(root: Path, backend: LocalBackend) -> None:
    attributes = Attributes(content_type="text/plain", cache_control="no-cache", metadata={"owner": "ana"})
    etag = put(backend, "a.txt", b"hello", PutOptions(attributes=attributes))
    path = root / "a.txt"
    assert os.listxattr(path) == ["user.satchel"]
    record = xattr(path)
    assert record["e"] == etag
    assert record["a"] == attributes.to_json()
    assert record["s"] == 5
    assert record["m"] == path.stat().st_mtime_ns
    meta = backend.get(Key("a.txt"), GetOptions(head=True)).meta
    assert (meta.etag, meta.attributes) == (etag, attributes)


def test_empty_attributes_are_omitted(root: Path, backend: LocalBackend) -> None:
    put(backend, "k", b"v")
    assert "a" not in xattr(root / "k")


def test_a_record_without_attributes_fits_in_the_inode(root: Path, backend: LocalBackend) -> None:
    # ext4 keeps an xattr value of up to about 64 bytes inside a 256-byte inode; a longer one takes a block.
    put(backend, "k", b"v" * 1024)
    assert len(os.getxattr(root / "k", "user.satchel")) <= 64


def test_records_of_the_long_form_are_read(root: Path, backend: LocalBackend) -> None:
    attributes = Attributes(content_type="text/plain")
    put(backend, "k", b"v", PutOptions(attributes=attributes))
    st = (root / "k").stat()
    for attrs in (',"attrs":{"content_type":"text/plain"}', ""):
        record = f'{{"etag":"abc123","size":{st.st_size},"mtime":{st.st_mtime_ns}{attrs}}}'
        os.setxattr(root / "k", "user.satchel", record.encode())
        meta = backend.get(Key("k"), GetOptions(head=True)).meta
        assert (meta.etag, meta.attributes) == ("abc123", attributes if attrs else Attributes())
    reordered = {"mtime": st.st_mtime_ns, "attrs": {"content_type": "text/plain"}, "size": st.st_size, "etag": "d4"}
    os.setxattr(root / "k", "user.satchel", json.dumps(reordered).encode())
    assert backend.get(Key("k"), GetOptions(head=True)).meta.etag == "d4"


def test_every_write_mints_a_new_etag(backend: LocalBackend) -> None:
    etags = {put(backend, "k", b"same bytes") for _ in range(20)}
    assert len(etags) == 20


def test_attributes_too_large_for_the_filesystem(root: Path, backend: LocalBackend) -> None:
    put(backend, "k", b"old")
    huge = Attributes(metadata={"blob": "x" * 70_000})
    with pytest.raises(ConfigError, match="extended attribute"):
        backend.put(Key("k"), b"new", PutOptions(attributes=huge))
    assert read(backend, "k") == b"old"
    assert internal_names(root) == []


def test_layer_options_are_refused_before_any_io(root: Path, backend: LocalBackend) -> None:
    for options in (PutOptions(compression="zstd"), PutOptions(expiration=TTL(60))):
        with pytest.raises(NotSupported):
            backend.put(Key("k"), b"v", options)
        with pytest.raises(NotSupported):
            backend.put_multipart(Key("k"), options)
    assert not (root / "k").exists()
    assert internal_names(root) == []


# --- foreign files ----------------------------------------------------------------------------------------------


def test_foreign_files_get_a_stat_etag(root: Path, backend: LocalBackend) -> None:
    (root / "dir").mkdir()
    path = root / "dir" / "foreign.txt"
    path.write_bytes(b"from another program")
    st = path.stat()
    expected = f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"
    meta = backend.get(Key("dir/foreign.txt"), GetOptions(head=True)).meta
    assert (meta.etag, meta.size, meta.attributes) == (expected, st.st_size, Attributes())
    assert [m.etag for m in backend.list("dir/")] == [expected]
    put(backend, "dir/foreign.txt", b"replaced", PutOptions(mode=PutMode.UPDATE, if_match=expected))
    assert path.read_bytes() == b"replaced"


def test_a_file_edited_in_place_loses_its_stored_etag(root: Path, backend: LocalBackend) -> None:
    etag = put(backend, "log", b"line 1\n", PutOptions(attributes=Attributes(content_type="text/plain")))
    with open(root / "log", "ab") as f:  # the xattr survives, but it no longer describes these bytes
        f.write(b"line 2\n")
    meta = backend.get(Key("log"), GetOptions(head=True)).meta
    assert meta.etag != etag
    assert meta.content_type == "text/plain"
    with pytest.raises(PreconditionFailed):
        backend.put(Key("log"), b"x", PutOptions(mode=PutMode.UPDATE, if_match=etag))


def test_a_record_in_another_key_order_is_read(root: Path, backend: LocalBackend) -> None:
    attributes = Attributes(content_type="text/plain", metadata={"note": ',"a":{}'})
    put(backend, "k", b"v", PutOptions(attributes=attributes))
    record = xattr(root / "k")
    assert list(record) == ["e", "s", "m", "a"]
    reordered = {"a": record["a"], **{k: v for k, v in record.items() if k != "a"}}
    os.setxattr(root / "k", "user.satchel", json.dumps(reordered).encode())
    meta = backend.get(Key("k"), GetOptions(head=True)).meta
    assert (meta.etag, meta.attributes) == (record["e"], attributes)
    swapped = {"e": record["e"], "a": record["a"], "s": record["s"], "m": record["m"]}
    os.setxattr(root / "k", "user.satchel", json.dumps(swapped).encode())
    assert backend.get(Key("k"), GetOptions(head=True)).meta.attributes == attributes


def test_a_damaged_xattr_is_ignored(root: Path, backend: LocalBackend) -> None:
    put(backend, "k", b"v")
    os.setxattr(root / "k", "user.satchel", b"{not json")
    meta = backend.get(Key("k"), GetOptions(head=True)).meta
    assert meta.etag is not None
    assert "-" in meta.etag
    assert meta.attributes == Attributes()


def test_unreadable_names_and_special_files_are_not_listed(root: Path, backend: LocalBackend) -> None:
    put(backend, "ok", b"v")
    os.mkfifo(root / "fifo")
    (root / "bad\nname").write_bytes(b"")
    with open(os.path.join(os.fsencode(root), b"latin1-\xe9"), "wb"):
        pass
    assert keys(backend) == ["ok"]
    with pytest.raises(NotFound):
        backend.get(Key("fifo"), GET)  # opened without blocking, refused as not a regular file


# --- keys: unicode, reserved names, files vs prefixes -------------------------------------------------------------

UNICODE_KEYS = ["données/été.txt", "e\u0301t\u0301e\u0301", "\u00e9t\u00e9", "日本語/ファイル", "emoji/😀", "Ωmega"]


def test_unicode_keys_round_trip_exactly_as_file_names(root: Path, backend: LocalBackend) -> None:
    for i, key in enumerate(UNICODE_KEYS):
        put(backend, key, str(i).encode())
    for i, key in enumerate(UNICODE_KEYS):
        assert read(backend, key) == str(i).encode()
        assert os.path.exists(os.path.join(os.fsencode(root), key.encode("utf-8")))
    assert keys(backend) == sorted(UNICODE_KEYS)  # NFC and NFD spellings stay two keys


def test_the_reserved_directory(root: Path, backend: LocalBackend) -> None:
    for key in (".satchel", ".satchel/staging/x", ".satchel/k"):
        with pytest.raises(InvalidPath, match="reserved"):
            backend.put(Key(key), b"v", PLAIN)
        with pytest.raises(InvalidPath, match="reserved"):
            backend.get(Key(key), GET)
        with pytest.raises(InvalidPath, match="reserved"):
            backend.delete([Key(key)])
    put(backend, ".satchelx", b"allowed")
    put(backend, ".hidden/k", b"allowed")
    (root / ".satchel" / "staging" / "123-abc.tmp").write_bytes(b"in progress")
    assert keys(backend) == [".hidden/k", ".satchelx"]
    assert keys(backend, ".") == [".hidden/k", ".satchelx"]
    assert keys(backend, ".satchel") == [".satchelx"]
    assert keys(backend, ".satchel/") == []
    assert keys(backend, ".satchel/staging/") == []
    level = backend.list_with_delimiter("")
    assert level.common_prefixes == [".hidden/"]
    assert [m.key for m in level.objects] == [".satchelx"]


def test_a_key_cannot_be_both_an_object_and_a_prefix(root: Path, backend: LocalBackend) -> None:
    put(backend, "a", b"file")
    with pytest.raises(InvalidPath, match="cannot also be a prefix"):
        backend.put(Key("a/b"), b"v", PLAIN)
    put(backend, "x/y", b"v")
    with pytest.raises(InvalidPath, match="prefix of existing keys"):
        backend.put(Key("x"), b"v", PLAIN)
    with pytest.raises(InvalidPath):
        backend.copy(Key("a"), Key("x"), COPY)
    assert read(backend, "a") == b"file"
    assert read(backend, "x/y") == b"v"
    assert internal_names(root) == []


def test_a_segment_too_long_for_the_filesystem(root: Path, backend: LocalBackend) -> None:
    put(backend, "dir/ok", b"v")
    for key in ("dir/" + "x" * 300, "y" * 300 + "/k"):
        with pytest.raises(InvalidPath, match="too long"):
            backend.put(Key(key), b"v", PLAIN)
    with pytest.raises(InvalidPath, match="too long"):
        backend.get(Key("dir/" + "x" * 300), GET)
    assert keys(backend) == ["dir/ok"]
    assert sorted(os.listdir(root)) == [".satchel", "dir"]
    assert internal_names(root) == []


def test_paths_through_files_and_directories_are_not_found(backend: LocalBackend) -> None:
    put(backend, "a/b", b"v")
    for key in ("a", "a/b/c", "missing/k"):
        with pytest.raises(NotFound):
            backend.get(Key(key), GET)
    backend.delete([Key("a"), Key("a/b/c"), Key("missing/k")])  # none of them is an object
    assert keys(backend) == ["a/b"]


def test_delete_removes_directories_left_empty(root: Path, backend: LocalBackend) -> None:
    put(backend, "a/b/c/d", b"1")
    put(backend, "a/e", b"2")
    backend.delete([Key("a/b/c/d")])
    assert sorted(os.listdir(root / "a")) == ["e"]
    assert backend.list_with_delimiter("a/").common_prefixes == []
    backend.delete([Key("a/e")])
    assert sorted(os.listdir(root)) == [".satchel"]
    assert root.is_dir()


def test_failed_writes_leave_no_empty_directories(root: Path, backend: LocalBackend) -> None:
    with pytest.raises(PreconditionFailed):
        backend.put(Key("new/dir/k"), b"v", PutOptions(mode=PutMode.UPDATE, if_match="nope"))
    assert sorted(os.listdir(root)) == [".satchel"]


def test_empty_foreign_directories_are_not_common_prefixes(root: Path, backend: LocalBackend) -> None:
    (root / "empty" / "deeper").mkdir(parents=True)
    (root / "links").mkdir()
    (root / "links" / "l").symlink_to(root / "nowhere")
    put(backend, "full/deep/k", b"v")
    assert backend.list_with_delimiter("").common_prefixes == ["full/"]
    assert keys(backend) == ["full/deep/k"]


# --- listing order --------------------------------------------------------------------------------------------

ORDER_KEYS = ["a-b", "a.b", "a/b-c", "a/b/c", "a/b0", "a0", "ab", "b", "é/x", "😀"]


def test_listing_is_in_code_point_order_with_offsets(backend: LocalBackend) -> None:
    # "/" sorts between "-" and "0": the keys of directory a/b/ come between its siblings a/b-c and a/b0.
    for key in ORDER_KEYS:
        put(backend, key, b"v")
    assert keys(backend) == sorted(ORDER_KEYS)
    for offset in ["", "a", "a/", "a/b", "a/b/", "a/b/c", "a/c", "a0", "b", "z", "😀", *ORDER_KEYS]:
        assert keys(backend, offset=offset) == [k for k in sorted(ORDER_KEYS) if k > offset], offset
    assert keys(backend, "a/b") == ["a/b-c", "a/b/c", "a/b0"]
    assert keys(backend, "a/b/") == ["a/b/c"]
    assert keys(backend, "a/b", offset="a/b-c") == ["a/b/c", "a/b0"]
    level = backend.list_with_delimiter("a/")
    assert [m.key for m in level.objects] == ["a/b-c", "a/b0"]
    assert level.common_prefixes == ["a/b/"]
    level = backend.list_with_delimiter("a")
    assert [m.key for m in level.objects] == ["a-b", "a.b", "a0", "ab"]
    assert level.common_prefixes == ["a/"]


def test_listing_carries_etags_and_attributes(backend: LocalBackend) -> None:
    attributes = Attributes(content_type="image/png", metadata={"k": "v"})
    etag = put(backend, "p/img", b"png", PutOptions(attributes=attributes))
    [meta] = backend.list("p/")
    assert (meta.key, meta.size, meta.etag, meta.attributes) == ("p/img", 3, etag, attributes)
    assert meta == backend.get(Key("p/img"), GetOptions(head=True)).meta


def test_listing_is_lazy(backend: LocalBackend) -> None:
    for i in range(5):
        put(backend, f"k{i}", b"v")
    listing = backend.list("")
    assert next(listing).key == "k0"
    backend.delete([Key("k3")])
    assert [m.key for m in listing] == ["k1", "k2", "k4"]


_SEGMENT = st.sampled_from(["a", "b", "a-", "a.", "a0", "é", "😀", "A", "~"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_SEGMENT, min_size=1, max_size=3).map("/".join), min_size=1, max_size=12, unique=True))
def test_listing_order_matches_sorted_keys(candidates: list[str]) -> None:
    with tempfile.TemporaryDirectory() as where:
        backend = LocalBackend(where, fsync=False)
        stored: list[str] = []
        for key in candidates:
            try:
                put(backend, key, b"v")
            except InvalidPath:
                continue  # a file where a directory is needed, or the reverse
            stored.append(key)
        assert keys(backend) == sorted(stored)
        for offset in stored:
            assert keys(backend, offset=offset) == [k for k in sorted(stored) if k > offset]
            assert keys(backend, offset[:-1]) == sorted(k for k in stored if k.startswith(offset[:-1]))


# --- symlinks: nothing reaches outside the root ------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path, root: Path, backend: LocalBackend) -> Iterator[Path]:
    """A directory outside the root with a secret file, linked from inside the root as linkdir/ and linkfile."""
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret").write_bytes(b"secret")
    (root / "linkdir").symlink_to(target)
    (root / "linkfile").symlink_to(target / "secret")
    (root / "nested").mkdir()
    (root / "nested" / "deeper").symlink_to(target)
    before = _snapshot(target)
    yield target
    assert _snapshot(target) == before, "something outside the root changed"
    assert (root / "linkdir").is_symlink()
    assert (root / "linkfile").is_symlink()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.fixture(params=["openat2", "directory-walk"])
def read_path(request: pytest.FixtureRequest, backend: LocalBackend) -> str:
    """Reads, and writes into an existing directory, go through openat2 where the kernel has it, and walk
    directory descriptors elsewhere: test both."""
    if request.param == "directory-walk":
        backend._opener.available = False
    else:
        assert backend._opener.available, "openat2 should be usable on this Linux (5.6+)"
    return str(request.param)


@pytest.mark.usefixtures("read_path")
def test_reads_on_either_path(root: Path, backend: LocalBackend) -> None:
    put(backend, "a/b/c", b"deep")
    put(backend, "top", b"top")
    assert read(backend, "a/b/c") == b"deep"
    assert read(backend, "top") == b"top"
    assert read(backend, "a/b/c", GetOptions(range=ByteRange.bounded(1, 3))) == b"ee"
    for missing in ("a/b/x", "a/x/c", "top/below", "a/b", "a"):
        with pytest.raises(NotFound):
            backend.get(Key(missing), GET)
    os.mkfifo(root / "a" / "fifo")
    with pytest.raises(NotFound):
        backend.get(Key("a/fifo"), GET)


@pytest.mark.usefixtures("read_path")
def test_writes_on_either_path(root: Path, backend: LocalBackend) -> None:
    put(backend, "a/b/c", b"first")
    put(backend, "a/b/c", b"second")  # the parent exists: one openat2 on the fast path
    put(backend, "a/b/d", b"sibling")
    put(backend, "new/dir/k", b"made")  # missing parents: created by the walk
    assert read(backend, "a/b/c") == b"second"
    assert read(backend, "new/dir/k") == b"made"
    with pytest.raises(InvalidPath, match="cannot also be a prefix"):
        backend.put(Key("a/b/c/below"), b"v", PLAIN)
    with pytest.raises(AlreadyExists):
        backend.put(Key("a/b/d"), b"v", PutOptions(mode=PutMode.CREATE))
    with pytest.raises(PreconditionFailed):
        backend.put(Key("a/b/d"), b"v", PutOptions(mode=PutMode.UPDATE, if_match="nope"))
    assert read(backend, "a/b/d") == b"sibling"
    (root / "a" / "b" / "moved").mkdir()
    (root / "a" / "b" / "moved").rmdir()  # a parent removed under a writer's feet is made again
    put(backend, "a/b/moved/k", b"v")
    assert keys(backend, "a/") == ["a/b/c", "a/b/d", "a/b/moved/k"]
    assert internal_names(root) == []


@pytest.mark.usefixtures("outside", "read_path")
@pytest.mark.parametrize("key", ["linkdir/secret", "linkfile", "nested/deeper/secret"])
def test_symlinks_are_not_followed_for_reads(backend: LocalBackend, key: str) -> None:
    with pytest.raises(NotFound):
        backend.get(Key(key), GET)
    with pytest.raises(NotFound):
        backend.get(Key(key), GetOptions(head=True))
    with pytest.raises(NotFound):
        backend.copy(Key(key), Key("copied"), COPY)
    with pytest.raises(NotFound):
        backend.rename(Key(key), Key("moved"), COPY)


@pytest.mark.usefixtures("outside", "read_path")
@pytest.mark.parametrize("key", ["linkdir/secret", "linkdir/new", "linkfile", "nested/deeper/new"])
def test_symlinks_are_not_followed_for_writes(root: Path, backend: LocalBackend, key: str) -> None:
    put(backend, "inside", b"inside")
    with pytest.raises(PermissionDenied, match="symlink") as caught:
        backend.put(Key(key), b"evil", PLAIN)
    assert key in str(caught.value)
    assert "put" in str(caught.value)
    with pytest.raises(PermissionDenied):
        backend.put(Key(key), b"evil", PutOptions(mode=PutMode.CREATE))
    with pytest.raises(PermissionDenied):
        backend.copy(Key("inside"), Key(key), COPY)
    with pytest.raises(PermissionDenied):
        backend.rename(Key("inside"), Key(key), COPY)
    upload = backend.put_multipart(Key(key), PLAIN)
    part = upload.put_part(1, b"evil")
    with pytest.raises(PermissionDenied):
        upload.complete([part])
    upload.abort()
    assert read(backend, "inside") == b"inside"
    assert internal_names(root) == []


@pytest.mark.usefixtures("outside")
@pytest.mark.parametrize("key", ["linkdir/secret", "linkfile", "nested/deeper/secret"])
def test_symlinks_are_not_followed_for_deletes(backend: LocalBackend, key: str) -> None:
    with pytest.raises(PermissionDenied):
        backend.delete([Key(key)])
    with pytest.raises(PermissionDenied):
        backend.delete([Key(key)], DeleteOptions(if_match="*"))


@pytest.mark.usefixtures("outside")
def test_symlinks_are_not_listed(backend: LocalBackend) -> None:
    put(backend, "nested/real", b"v")
    assert keys(backend) == ["nested/real"]
    assert keys(backend, "linkdir/") == []
    assert keys(backend, "nested/deeper/") == []
    level = backend.list_with_delimiter("")
    assert (level.objects, level.common_prefixes) == ([], ["nested/"])
    assert backend.list_with_delimiter("linkdir/").common_prefixes == []


# --- crash leftovers ---------------------------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(root: Path) -> None:
    LocalBackend(root)
    staging = root / ".satchel" / "staging"
    multipart = root / ".satchel" / "multipart"
    dead, live = _dead_pid(), os.getpid()
    for pid in (dead, live):
        (staging / f"{pid}-00aa.tmp").write_bytes(b"partial")
        (multipart / f"{pid}-00bb").mkdir()
        (multipart / f"{pid}-00bb" / "1").write_bytes(b"part")
    LocalBackend(root)
    assert sorted(os.listdir(staging)) == [f"{live}-00aa.tmp"]
    assert sorted(os.listdir(multipart)) == [f"{live}-00bb"]


def test_an_old_leftover_of_a_reused_pid_is_removed(root: Path) -> None:
    LocalBackend(root)
    staging = root / ".satchel" / "staging"
    old = staging / f"{os.getpid()}-00cc.tmp"
    old.write_bytes(b"from a process that had our pid before we started")
    long_ago = time.time() - STALE_AFTER - 3600
    os.utime(old, (long_ago, long_ago))
    LocalBackend(root)
    assert not old.exists()


def test_staleness_rules() -> None:
    now = time.time()
    assert is_stale(f"{_dead_pid()}-ab.tmp", now, now)
    assert not is_stale(f"{os.getpid()}-ab.tmp", now, now)
    assert not is_stale("not-a-pid.tmp", now, now)
    assert is_stale("not-a-pid.tmp", now - STALE_AFTER - 1, now)
    assert is_stale("0-ab.tmp", now - STALE_AFTER - 1, now)


def test_a_failing_stream_leaves_nothing_behind(root: Path, backend: LocalBackend) -> None:
    put(backend, "k", b"old")

    class Failing(io.RawIOBase):
        def __init__(self, error: BaseException) -> None:
            self.error = error
            self.calls = 0

        def read(self, size: int = -1, /) -> bytes:
            self.calls += 1
            if self.calls > 3:
                raise self.error
            return b"x" * 1000

    with pytest.raises(RuntimeError):
        backend.put(Key("k"), Failing(RuntimeError("stream broke")), PLAIN)
    with pytest.raises(KeyboardInterrupt):
        backend.put(Key("k"), Failing(KeyboardInterrupt()), PLAIN)
    assert read(backend, "k") == b"old"
    assert internal_names(root) == []


# --- payload kinds ----------------------------------------------------------------------------------------------


def test_a_regular_file_is_copied_from_its_current_position(tmp_path: Path, backend: LocalBackend) -> None:
    source = tmp_path / "source.bin"
    data = os.urandom(3 << 20)
    source.write_bytes(data)
    with open(source, "rb") as f:
        f.read(100)  # the buffered reader is ahead of the logical position
        f.seek(1000)
        put(backend, "k", b"", PLAIN)
        backend.put(Key("k"), f, PLAIN)
        assert f.tell() == len(data)
    assert read(backend, "k") == data[1000:]


def test_a_pseudo_file_is_read_whole(backend: LocalBackend) -> None:
    with open("/proc/self/status", "rb") as status:  # a regular file whose stat size is 0
        backend.put(Key("status"), status, PLAIN)
    assert read(backend, "status").startswith(b"Name:")


def test_memoryviews_of_any_shape(backend: LocalBackend) -> None:
    numbers = array.array("i", range(1000))
    backend.put(Key("ints"), memoryview(numbers), PLAIN)
    assert read(backend, "ints") == numbers.tobytes()
    backend.put(Key("bytearray"), bytearray(b"abc"), PLAIN)
    assert read(backend, "bytearray") == b"abc"


# --- conditional writes across processes and threads ------------------------------------------------------------


@pytest.mark.slow
def test_conditional_updates_across_processes_lose_nothing(root: Path, backend: LocalBackend) -> None:
    put(backend, "counter", b"0")
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        pool.starmap(increment_worker, [(str(root), "counter", 25)] * 4)
    assert read_counter(backend, "counter")[0] == 100
    assert internal_names(root) == []


def test_conditional_updates_across_threads_lose_nothing(root: Path, backend: LocalBackend) -> None:
    put(backend, "counter", b"0")
    threads = [threading.Thread(target=increment_worker, args=(str(root), "counter", 25)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read_counter(backend, "counter")[0] == 100


@pytest.mark.slow
def test_exactly_one_creator_wins(root: Path, backend: LocalBackend) -> None:
    context = multiprocessing.get_context("spawn")
    workers = 6
    with context.Manager() as manager:
        barrier = manager.Barrier(workers)
        with context.Pool(workers) as pool:
            wins = pool.starmap(create_worker, [(str(root), "only/once", barrier, f"w{i}") for i in range(workers)])
    assert sum(wins) == 1
    assert read(backend, "only/once") == f"w{wins.index(True)}".encode()
    assert internal_names(root) == []


def test_conditional_delete(backend: LocalBackend) -> None:
    etag = put(backend, "k", b"v")
    with pytest.raises(PreconditionFailed):
        backend.delete([Key("k")], DeleteOptions(if_match="other"))
    with pytest.raises(PreconditionFailed):
        backend.delete([Key("missing")], DeleteOptions(if_match=etag))
    with pytest.raises(ConfigError):
        backend.delete([Key("k"), Key("j")], DeleteOptions(if_match=etag))
    backend.delete([Key("k")], DeleteOptions(if_match=etag))
    assert keys(backend) == []


# --- copy and rename --------------------------------------------------------------------------------------------


def test_copy_onto_itself_rewrites_metadata_in_place(root: Path, backend: LocalBackend) -> None:
    etag = put(backend, "k", b"bytes", PutOptions(attributes=Attributes(content_type="text/plain")))
    inode, mtime = (root / "k").stat().st_ino, (root / "k").stat().st_mtime_ns
    new = Attributes(content_type="application/json", metadata={"v": "2"})
    backend.copy(Key("k"), Key("k"), CopyOptions(attributes=new))
    meta = backend.get(Key("k"), GetOptions(head=True)).meta
    assert (meta.attributes, read(backend, "k")) == (new, b"bytes")
    assert meta.etag != etag
    assert ((root / "k").stat().st_ino, (root / "k").stat().st_mtime_ns) == (inode, mtime)
    backend.copy(Key("k"), Key("k"), COPY)
    assert backend.get(Key("k"), GetOptions(head=True)).meta.etag == meta.etag
    with pytest.raises(AlreadyExists):
        backend.copy(Key("k"), Key("k"), CopyOptions(overwrite=False, attributes=new))


def test_copy_makes_an_independent_file_with_a_new_etag(root: Path, backend: LocalBackend) -> None:
    attributes = Attributes(content_type="text/plain")
    etag = put(backend, "src", b"data" * 1000, PutOptions(attributes=attributes))
    backend.copy(Key("src"), Key("deep/dst"), COPY)
    meta = backend.get(Key("deep/dst"), GetOptions(head=True)).meta
    assert meta.etag != etag
    assert meta.attributes == attributes
    assert (root / "src").stat().st_ino != (root / "deep" / "dst").stat().st_ino
    with pytest.raises(AlreadyExists):
        backend.copy(Key("src"), Key("deep/dst"), CopyOptions(overwrite=False))
    assert internal_names(root) == []


def test_rename_keeps_the_etag_and_prunes_directories(root: Path, backend: LocalBackend) -> None:
    etag = put(backend, "a/b/src", b"v")
    put(backend, "taken", b"t")
    with pytest.raises(AlreadyExists):
        backend.rename(Key("a/b/src"), Key("taken"), CopyOptions(overwrite=False))
    backend.rename(Key("a/b/src"), Key("x/dst"), COPY)
    assert backend.get(Key("x/dst"), GetOptions(head=True)).meta.etag == etag
    assert sorted(os.listdir(root)) == [".satchel", "taken", "x"]
    backend.rename(Key("x/dst"), Key("y"), CopyOptions(overwrite=False))
    assert keys(backend) == ["taken", "y"]
    with pytest.raises(NotFound):
        backend.rename(Key("x/dst"), Key("z"), COPY)


def test_rename_with_attributes_copies(backend: LocalBackend) -> None:
    etag = put(backend, "src", b"v")
    new = Attributes(content_type="text/csv")
    backend.rename(Key("src"), Key("dst"), CopyOptions(attributes=new))
    meta = backend.get(Key("dst"), GetOptions(head=True)).meta
    assert meta.attributes == new
    assert meta.etag != etag
    assert keys(backend) == ["dst"]


# --- multipart --------------------------------------------------------------------------------------------------


def test_multipart_parts_in_any_order(root: Path, backend: LocalBackend) -> None:
    upload = backend.put_multipart(Key("big/file"), PutOptions(attributes=Attributes(content_type="a/b")))
    chunks = [os.urandom(100_000 + i) for i in range(5)]
    parts = [upload.put_part(n, chunks[n - 1]) for n in (3, 1, 5, 2, 4)]
    assert not (root / "big").exists()
    assert keys(backend) == []
    [upload_dir] = os.listdir(root / ".satchel" / "multipart")
    assert upload_dir.startswith(f"{os.getpid()}-")
    assert sorted(os.listdir(root / ".satchel" / "multipart" / upload_dir)) == ["1", "2", "3", "4", "5"]
    etag = upload.complete(parts).etag
    assert read(backend, "big/file") == b"".join(chunks)
    meta = backend.get(Key("big/file"), GetOptions(head=True)).meta
    assert (meta.etag, meta.content_type) == (etag, "a/b")
    assert internal_names(root) == []
    with pytest.raises(NotFound):
        upload.put_part(6, b"late")


def test_multipart_part_replaced_and_checked(root: Path, backend: LocalBackend) -> None:
    upload = backend.put_multipart(Key("k"), PLAIN)
    stale = upload.put_part(1, b"first try")
    fresh = upload.put_part(1, b"second")
    with pytest.raises(PreconditionFailed, match="etag"):
        upload.complete([stale])
    with pytest.raises(PreconditionFailed, match="not uploaded"):
        upload.complete([fresh, Part(7, "e", 1)])
    with pytest.raises(ConfigError):
        upload.put_part(0, b"x")
    with pytest.raises(ConfigError):
        upload.complete([fresh, fresh])
    assert keys(backend) == []
    upload.complete([fresh])
    assert read(backend, "k") == b"second"
    assert internal_names(root) == []


def test_multipart_abort_leaves_nothing(root: Path, backend: LocalBackend) -> None:
    upload = backend.put_multipart(Key("a/k"), PLAIN)
    upload.put_part(1, b"x" * 1000)
    upload.put_part(2, b"y")
    upload.abort()
    upload.abort()
    assert sorted(os.listdir(root)) == [".satchel"]
    assert internal_names(root) == []


def test_multipart_without_parts_is_an_empty_object(backend: LocalBackend) -> None:
    backend.put_multipart(Key("empty"), PLAIN).complete([])
    assert read(backend, "empty") == b""


def test_multipart_honours_the_put_mode(backend: LocalBackend) -> None:
    etag = put(backend, "k", b"old")
    create = backend.put_multipart(Key("k"), PutOptions(mode=PutMode.CREATE))
    with pytest.raises(AlreadyExists):
        create.complete([create.put_part(1, b"new")])
    create.abort()
    update = backend.put_multipart(Key("k"), PutOptions(mode=PutMode.UPDATE, if_match=etag))
    update.complete([update.put_part(1, b"new")])
    assert read(backend, "k") == b"new"


# --- reads ------------------------------------------------------------------------------------------------------


def test_a_body_reads_the_version_it_opened(backend: LocalBackend) -> None:
    put(backend, "k", b"old version")
    result = backend.get(Key("k"), GetOptions(range=ByteRange.from_offset(4)))
    put(backend, "k", b"new")
    backend.delete([Key("k")])
    with result.body as body:
        assert body.read() == b"version"
    assert result.range == (4, 11)


def test_head_closes_the_file(backend: LocalBackend) -> None:
    put(backend, "k", b"v")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        backend.get(Key("k"), GetOptions(head=True))
    assert len(os.listdir("/proc/self/fd")) == before


def test_errors_name_the_key_and_operation(root: Path, backend: LocalBackend) -> None:
    with pytest.raises(NotFound) as caught:
        backend.get(Key("nope/k"), GET)
    assert caught.value.key == "nope/k"
    assert caught.value.operation == "get"
    assert caught.value.backend == "local"
    assert "'nope/k'" in str(caught.value)
    assert "get" in str(caught.value)
    assert isinstance(caught.value, SatchelError)
    assert isinstance(caught.value, FileNotFoundError)


def test_files_are_created_with_the_umask(root: Path, backend: LocalBackend) -> None:
    put(backend, "k", b"v")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((root / "k").stat().st_mode) == 0o666 & ~mask


def test_temp_names_carry_the_pid_of_the_process_that_writes_even_after_a_fork() -> None:
    assert temp_name().startswith(f"{os.getpid()}-")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and exits at once
        os.write(write, f"{os.getpid()} {temp_name()}".encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        pid, name = pipe.read().decode().split()
    os.waitpid(child, 0)
    assert pid == str(child)
    assert name.startswith(f"{child}-")
    assert temp_name().startswith(f"{os.getpid()}-")


def test_a_parent_removed_after_openat2_opened_it_is_made_again(
    root: Path, backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert backend._opener.available, "openat2 should be usable on this Linux (5.6+)"
    (root / "gone").mkdir()
    open_dir = backend._opener.open_dir

    def open_then_remove(relative: str) -> int:
        fd = open_dir(relative)
        (root / relative).rmdir()  # a concurrent delete of the empty directory, after the write opened it
        return fd

    monkeypatch.setattr(backend._opener, "open_dir", open_then_remove)
    put(backend, "gone/k", b"v")
    assert read(backend, "gone/k") == b"v"
    assert internal_names(root) == []
