"""The Qarnot-style front door (satchel.bucket.Bucket), tested from qarnot.storage.Storage's reference document,
over memory, a local folder and S3 on moto."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import satchel
from satchel.bucket import Bucket, NoSuchFile
from satchel.store import Store
from satchel.transfer import Progress
from satchel.types import PutResult

Call = tuple[int, int | None, str]


@pytest.fixture
def bucket(door_url: str) -> Iterator[Bucket]:
    with Bucket(door_url) as b:
        yield b


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local working folder, also the current directory (get_file's default output is relative to it)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _check_progress(calls: list[Call], size: int, filename: str) -> None:
    assert calls, "progress was never called"
    reads = [read for read, _total, _name in calls]
    assert reads == sorted(reads)
    assert reads[-1] == size
    assert {total for _read, total, _name in calls} == {size}
    assert {name for _read, _total, name in calls} == {filename}


# --- the constructor and equality -------------------------------------------------------------------------


def test_name_is_a_namespace_inside_the_store(door_url: str, work: Path) -> None:
    with Bucket(door_url, "inputs") as inputs, Bucket(door_url, "results") as results, Bucket(door_url) as whole:
        inputs.add_file(io.BytesIO(b"in"), "a.txt")
        results.add_file(io.BytesIO(b"out"), "/a.txt")  # Qarnot drops leading slashes
        assert [f.key for f in inputs.list_files()] == ["a.txt"]
        assert [f.key for f in results.list_files()] == ["a.txt"]
        assert [f.key for f in whole.list_files()] == ["inputs/a.txt", "results/a.txt"]
        assert Path(results.get_file("a.txt", "r.txt")).read_bytes() == b"out"


def test_equality(door_url: str) -> None:
    with Bucket(door_url, "x") as a, Bucket(door_url, "x/") as same, Bucket(door_url, "y") as other:
        assert a == same
        assert hash(a) == hash(same)
        assert a != other
        assert a != Bucket(door_url)
        assert a != "x"
        store = satchel.open(door_url)
        assert Bucket(store, "x") == Bucket(store, "x")
        assert Bucket(store, "x") != Bucket(satchel.open(door_url), "x")


def test_a_bad_name_or_option_raises(door_url: str) -> None:
    with pytest.raises(satchel.InvalidPath):
        Bucket(door_url, "a/../b")
    with pytest.raises(satchel.ConfigError):
        Bucket(door_url, no_such_option=1)
    with pytest.raises(TypeError):
        Bucket(satchel.open(door_url), readonly=True)


# --- list_files, iter, in ---------------------------------------------------------------------------------


def test_list_files(bucket: Bucket, work: Path) -> None:
    assert bucket.list_files() == []
    bucket.add_file(io.BytesIO(b"12345"), "d/e.bin")
    bucket.add_file(io.BytesIO(b""), "a.txt")
    files = bucket.list_files()
    assert [(f.key, f.size) for f in files] == [("a.txt", 0), ("d/e.bin", 5)]
    assert [f.key for f in bucket] == ["a.txt", "d/e.bin"]
    assert "a.txt" in bucket
    assert files[1] in bucket
    assert "d" not in bucket
    assert "zz" not in bucket
    assert "a/../b" not in bucket
    assert 3 not in bucket


# --- get_file and get_all_files ---------------------------------------------------------------------------


def test_get_file_to_a_path_and_into_a_directory(bucket: Bucket, work: Path) -> None:
    bucket.add_file(io.BytesIO(b"hello"), "dir/sub/f.txt")
    out = bucket.get_file("dir/sub/f.txt", str(work / "x" / "y" / "out.txt"))
    assert out == str(work / "x" / "y" / "out.txt")
    assert Path(out).read_bytes() == b"hello"
    (work / "folder").mkdir()
    into = bucket.get_file("dir/sub/f.txt", work / "folder")
    assert into == str(work / "folder" / "f.txt")
    assert Path(into).read_bytes() == b"hello"


def test_get_file_defaults_to_the_remote_name(bucket: Bucket, work: Path) -> None:
    bucket.add_file(io.BytesIO(b"data"), "deep/er/name.bin")
    assert bucket.get_file("deep/er/name.bin") == "deep/er/name.bin"
    assert (work / "deep" / "er" / "name.bin").read_bytes() == b"data"


def test_get_file_of_a_missing_file_raises_value_error_and_leaves_the_target(bucket: Bucket, work: Path) -> None:
    target = _file(work / "keep.txt", b"old")
    with pytest.raises(ValueError, match="no such file") as raised:
        bucket.get_file("missing.txt", target)
    assert isinstance(raised.value, NoSuchFile)
    assert isinstance(raised.value, FileNotFoundError)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt"]


def test_get_file_progress_callback(bucket: Bucket, work: Path) -> None:
    data = os.urandom(300_000)
    bucket.add_file(io.BytesIO(data), "big.bin")
    calls: list[Call] = []
    out = bucket.get_file("big.bin", "big.bin", progress=lambda r, t, n: calls.append((r, t, n)))
    assert Path(out).read_bytes() == data
    _check_progress(calls, len(data), "big.bin")


def test_get_file_progress_bar(bucket: Bucket, work: Path) -> None:
    bucket.add_file(io.BytesIO(b"x" * 70_000), "bar.bin")
    out = bucket.get_file("bar.bin", progress=True)
    assert Path(out).stat().st_size == 70_000
    bucket.get_all_files(work / "all", progress=True)
    assert (work / "all" / "bar.bin").stat().st_size == 70_000
    bucket.get_file("bar.bin", "quiet.bin", progress=False)
    with pytest.raises(TypeError):
        bucket.get_file("bar.bin", "bad.bin", progress=3)  # type: ignore[arg-type]


def test_rich_is_imported_only_for_a_bar() -> None:
    code = "import sys, satchel.bucket; assert 'rich' not in sys.modules, 'rich imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_get_all_files_keeps_the_hierarchy_and_overrides(bucket: Bucket, work: Path) -> None:
    contents = {"a.txt": b"a", "d/b.txt": b"bb" * 1000, "d/e/c.txt": b"ccc", "empty": b""}
    for remote, data in contents.items():
        bucket.add_file(io.BytesIO(data), remote)
    out = work / "out"
    _file(out / "a.txt", b"stale")
    _file(out / "unrelated.txt", b"stays")
    calls: list[Call] = []
    bucket.get_all_files(str(out), progress=lambda r, t, n: calls.append((r, t, n)))
    for remote, data in contents.items():
        assert (out / remote).read_bytes() == data
        _check_progress([c for c in calls if c[2] == remote], len(data), remote)
    assert (out / "unrelated.txt").read_bytes() == b"stays"
    assert {c[2] for c in calls} == set(contents)


# --- add_file and background uploads ----------------------------------------------------------------------


def test_add_file_from_a_path_uploads_after_flush(bucket: Bucket, work: Path) -> None:
    data = os.urandom(200_000)
    bucket.add_file(str(_file(work / "src.bin", data)), "dst/src.bin")
    bucket.flush()
    assert bucket.store.get_bytes("dst/src.bin") == data


def test_add_file_remote_defaults_to_the_local_path(bucket: Bucket, work: Path) -> None:
    _file(work / "sub" / "f.txt", b"f")
    bucket.add_file("sub/f.txt")
    bucket.add_file("./sub/../sub/f.txt", None)
    with open(work / "sub" / "f.txt", "rb") as opened:
        bucket.add_file(opened)  # the file's name
    bucket.flush()
    expected = ["sub/f.txt", str(work / "sub" / "f.txt").lstrip("/")]
    assert sorted(f.key for f in bucket.list_files()) == sorted(expected)
    with pytest.raises(TypeError):
        bucket.add_file(io.BytesIO(b"no name"))


def test_add_file_from_an_open_file_reads_from_its_position(bucket: Bucket, work: Path) -> None:
    source = _file(work / "f.bin", b"skip-keep")
    with open(source, "rb") as opened:
        opened.seek(5)
        bucket.add_file(opened, "kept.bin")
    assert bucket.store.get_bytes("kept.bin") == b"keep"


def test_add_file_rejects_an_invalid_remote_at_once(bucket: Bucket, work: Path) -> None:
    with pytest.raises(satchel.InvalidPath):
        bucket.add_file(str(_file(work / "f", b"")), "a/../b")
    with pytest.raises(satchel.InvalidPath):
        bucket.add_file(str(work / "f"), "")


def test_uploads_run_in_the_background(door_url: str, work: Path) -> None:
    # A named pipe blocks its reader until a writer comes: add_file must return before the upload can finish.
    pipe = work / "pipe"
    os.mkfifo(pipe)
    rescued = threading.Event()

    def rescue() -> None:  # if add_file blocked on the pipe, end the test instead of hanging
        rescued.set()
        with open(pipe, "wb"):
            pass

    timer = threading.Timer(10, rescue)
    timer.start()
    with Bucket(door_url) as bucket:
        bucket.add_file(str(pipe), "piped.bin")
        timer.cancel()
        assert not rescued.is_set(), "add_file waited for the upload"
        assert not bucket.store.exists("piped.bin")
        with open(pipe, "wb") as writer:
            writer.write(b"through the pipe")
        bucket.flush()
        assert bucket.store.get_bytes("piped.bin") == b"through the pipe"


def test_reads_wait_for_pending_uploads_of_their_key(door_url: str, work: Path) -> None:
    pipe = work / "pipe"
    os.mkfifo(pipe)

    def write_later() -> None:
        with open(pipe, "wb") as writer:
            writer.write(b"late")

    with Bucket(door_url) as bucket:
        bucket["late.bin"] = str(pipe)
        writer = threading.Thread(target=write_later)
        writer.start()
        assert Path(bucket.get_file("late.bin", "late.bin")).read_bytes() == b"late"
        writer.join()


def test_uploads_run_on_worker_threads(door_url: str, work: Path) -> None:
    threads: list[str] = []

    class RecordingStore(Store):
        def upload_file(
            self, path: str | os.PathLike[str], key: str, *, progress: Progress | None = None, **kw: object
        ) -> PutResult:
            threads.append(threading.current_thread().name)
            return super().upload_file(path, key, progress=progress)

    store = RecordingStore(satchel.open(door_url).backend)
    with Bucket(store, max_workers=2) as bucket:
        for i in range(4):
            bucket.add_file(str(_file(work / f"{i}.txt", b"%d" % i)), f"{i}.txt")
        bucket.flush()
        assert [f.key for f in bucket.list_files()] == ["0.txt", "1.txt", "2.txt", "3.txt"]
    assert len(threads) == 4
    assert threading.current_thread().name not in threads


def test_later_adds_of_one_remote_win(bucket: Bucket, work: Path) -> None:
    for round_ in range(5):
        for i in range(20):
            bucket.add_file(str(_file(work / f"{round_}-{i}", b"v%d-%d" % (round_, i))), f"k{i}")
    bucket.flush()
    for i in range(20):
        assert bucket.store.get_bytes(f"k{i}") == b"v4-%d" % i


def test_a_slow_earlier_add_does_not_overwrite_a_later_one(bucket: Bucket, work: Path) -> None:
    pipe = work / "pipe"
    os.mkfifo(pipe)
    bucket.add_file(str(pipe), "k")  # its worker blocks on the pipe
    bucket.add_file(str(_file(work / "second", b"second")), "k")
    with open(pipe, "wb") as writer:
        writer.write(b"first")
    bucket.flush()
    assert bucket.store.get_bytes("k") == b"second"


def test_a_missing_local_file_fails_at_flush_not_at_add_file(bucket: Bucket, work: Path) -> None:
    doomed = _file(work / "doomed.txt", b"gone soon")
    bucket.add_file(str(doomed), "doomed.txt")
    bucket.add_file(str(work / "never-there.txt"), "never.txt")
    doomed.unlink()  # may happen before or after the worker read it
    bucket.add_file(str(_file(work / "fine.txt", b"ok")), "fine.txt")
    with pytest.raises(FileNotFoundError) as raised:
        bucket.flush()
    assert "never-there.txt" in str(raised.value) or "doomed.txt" in str(raised.value)
    bucket.flush()  # reported once
    assert bucket.store.get_bytes("fine.txt") == b"ok"
    assert "never.txt" not in bucket


def test_several_failures_are_noted(bucket: Bucket, work: Path) -> None:
    for i in range(3):
        bucket.add_file(str(work / f"missing-{i}"), f"m{i}")
    with pytest.raises(FileNotFoundError) as raised:
        bucket.flush()
    assert any("2 more background upload(s) failed" in note for note in raised.value.__notes__)


@pytest.mark.parametrize("how", ["store", "option"])
def test_a_read_only_store_fails_at_flush(door_url: str, work: Path, how: str) -> None:
    bucket = Bucket(satchel.open(door_url, readonly=True)) if how == "store" else Bucket(door_url, readonly=True)
    source = str(_file(work / "f.txt", b"f"))
    bucket.add_file(source, "f.txt")
    bucket["g.txt"] = source
    with pytest.raises(satchel.PermissionDenied):
        bucket.flush()
    bucket.update()  # no flush: nothing pending, nothing raised
    bucket.add_file(source, "h.txt")
    with pytest.raises(PermissionError):
        bucket.update(flush=True)
    bucket.close()


def test_close_flushes_and_the_with_block_raises(door_url: str, work: Path) -> None:
    with pytest.raises(FileNotFoundError), Bucket(door_url) as bucket:
        bucket.add_file(str(work / "missing"), "m")
    ok = str(_file(work / "ok", b"ok"))
    with Bucket(door_url, "n") as bucket:
        bucket.add_file(ok, "ok")
    assert satchel.open(door_url).get_bytes("n/ok") == b"ok"

    def failing_block() -> None:
        with Bucket(door_url) as bucket:
            bucket.add_file(str(work / "missing"), "m")
            raise KeyError("mine")

    with pytest.raises(KeyError):  # the block's own error wins over flush's
        failing_block()


# --- add_directory ----------------------------------------------------------------------------------------


def test_add_directory_keeps_the_hierarchy_and_skips_symlinks(bucket: Bucket, tmp_path: Path, work: Path) -> None:
    outside = tmp_path / "outside"
    _file(outside / "secret.txt", b"secret")
    tree = work / "tree"
    _file(tree / "top.txt", b"top")
    _file(tree / "a" / "b" / "deep.txt", b"deep")
    (tree / "empty").mkdir()
    (tree / "link-to-file").symlink_to(outside / "secret.txt")
    (tree / "a" / "link-to-dir").symlink_to(outside, target_is_directory=True)
    bucket.add_directory(str(tree), "up")
    bucket.flush()
    assert [f.key for f in bucket.list_files()] == ["up/a/b/deep.txt", "up/top.txt"]
    assert bucket.store.get_bytes("up/a/b/deep.txt") == b"deep"


def test_add_directory_remote_defaults_to_local_and_may_be_the_root(bucket: Bucket, work: Path) -> None:
    _file(work / "tree" / "x" / "f.txt", b"f")
    bucket.add_directory("tree")
    bucket.add_directory(Path("tree") / "x", "")
    bucket.add_directory("tree/x/", "/slashed/")
    bucket.flush()
    assert [f.key for f in bucket.list_files()] == ["f.txt", "slashed/f.txt", "tree/x/f.txt"]


def test_add_directory_of_a_non_directory_raises_ioerror(bucket: Bucket, work: Path) -> None:
    with pytest.raises(OSError, match="not a valid directory"):
        bucket.add_directory(str(work / "nothing"), "r")
    with pytest.raises(OSError, match="not a valid directory"):
        bucket.add_directory(str(_file(work / "file", b"")), "r")


# --- copy_file and delete_file ----------------------------------------------------------------------------


def test_copy_file(bucket: Bucket, work: Path) -> None:
    bucket.add_file(io.BytesIO(b"orig"), "src.txt")
    bucket.copy_file("src.txt", "copies/dst.txt")
    assert bucket.store.get_bytes("copies/dst.txt") == b"orig"
    assert bucket.store.get_bytes("src.txt") == b"orig"
    with pytest.raises(ValueError, match="no such file"):
        bucket.copy_file("missing.txt", "x.txt")
    bucket.add_file(str(_file(work / "new", b"new")), "src.txt")
    bucket.copy_file("src.txt", "after.txt")  # waits for the pending upload of its source
    assert bucket.store.get_bytes("after.txt") == b"new"


def test_delete_file(bucket: Bucket) -> None:
    bucket.add_file(io.BytesIO(b"x"), "x.txt")
    bucket.delete_file("x.txt")
    assert "x.txt" not in bucket
    bucket.delete_file("x.txt")  # a missing file is not an error


# --- the dict protocol ------------------------------------------------------------------------------------


def test_dict_protocol(bucket: Bucket, work: Path) -> None:
    bucket["f.txt"] = str(_file(work / "local.txt", b"local"))
    assert "f.txt" in bucket  # waits for its pending upload
    _file(work / "dir" / "g" / "h.txt", b"h")
    bucket["tree"] = str(work / "dir")
    with open(work / "local.txt", "rb") as opened:
        bucket["opened.txt"] = opened
    bucket.flush()
    assert [f.key for f in bucket] == ["f.txt", "opened.txt", "tree/g/h.txt"]
    out = bucket["tree/g/h.txt"]
    assert out == "tree/g/h.txt"
    assert (work / "tree" / "g" / "h.txt").read_bytes() == b"h"
    with pytest.raises(KeyError):
        bucket["missing"]
    del bucket["f.txt"]
    assert "f.txt" not in bucket
    with pytest.raises(KeyError):
        del bucket["f.txt"]


def test_add_directory_raises_on_an_unreadable_folder(
    bucket: Bucket, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _file(work / "tree" / "ok.txt", b"ok")
    locked = work / "tree" / "locked"
    _file(locked / "hidden.txt", b"h")
    real_scandir = os.scandir

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)  # as root, chmod 0 would not lock the folder
    with pytest.raises(PermissionError):
        bucket.add_directory(str(work / "tree"), "t")
    bucket.flush()
