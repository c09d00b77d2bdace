"""Writing objects: a temp file in the reserved area, filled, sealed with its metadata, then renamed into place."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import stat
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from satchel.backend import BYTES_LIKE, Payload
from satchel.body import CHUNK_SIZE
from satchel.errors import AlreadyExists, PreconditionFailed, SatchelError, TransientError
from satchel.path import Key
from satchel.preconditions import etag_matches
from satchel.types import Attributes, PutMode
from satchel.unique import unique_token

from ._beneath import BeneathOpener
from ._dirs import DirChain, Root, Walk, is_linked, open_dirs, open_file, require_replaceable
from ._errors import local_error
from ._meta import new_etag, read_meta, write_meta

__all__ = ["StagedFile", "commit", "copy_range", "current_etag", "in_parent", "temp_name"]

_T = TypeVar("_T")
_ATTEMPTS = 8
_COPY_CHUNK = 1 << 30
# copy_file_range cannot serve this pair of files (other filesystem, old kernel, special file): copy by hand.
_NO_COPY_FILE_RANGE = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF)
_FILE_STREAMS = (io.BufferedReader, io.BufferedRandom, io.FileIO)


def temp_name() -> str:
    """Return a fresh temp file name; the pid prefix lets a later process tell whether its writer is alive."""
    return f"{_pid}-{unique_token()}.tmp"


def _remember_pid() -> None:
    global _pid  # noqa: PLW0603 - per-process state, renewed after fork
    _pid = os.getpid()


# os.getpid() is a system call each time; a forked child learns its own pid here.
_pid = os.getpid()
os.register_at_fork(after_in_child=_remember_pid)


class StagedFile:
    """A new file in a reserved directory that becomes an object by rename or link, or is removed on exit.

    Leaving the ``with`` block for any reason (an error, a bad stream, ``KeyboardInterrupt``) closes and
    removes the temp file unless it was renamed into place.
    """

    def __init__(self, dir_fd: int) -> None:
        self.dir_fd = dir_fd
        self.name = temp_name()
        self.fd = os.open(
            self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666, dir_fd=dir_fd
        )
        self.size = 0
        self.renamed = False

    def write(self, payload: Payload) -> None:
        """Append ``payload``: bytes-like objects without copying, streams in chunks, regular files in-kernel."""
        if isinstance(payload, BYTES_LIKE):
            view = memoryview(payload)
            self._write_view(view.cast("B") if view.c_contiguous else memoryview(view.tobytes()))
            return
        if isinstance(payload, _FILE_STREAMS) and (source := _regular_file_fd(payload)) is not None:
            # Copy from the stream's logical position (its buffer may be ahead of the descriptor's offset), then
            # leave the stream at its end as reading it would.
            start = payload.tell()
            copied = copy_range(source, self.fd, start, None)
            payload.seek(start + copied)
            self.size += copied
            return
        while chunk := payload.read(CHUNK_SIZE):
            self._write_view(memoryview(chunk))

    def _write_view(self, view: memoryview) -> None:
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
            self.size += written

    def copy_from(self, source_fd: int, offset: int, count: int) -> None:
        """Append ``count`` bytes of the file ``source_fd`` starting at ``offset``."""
        self.size += copy_range(source_fd, self.fd, offset, count)

    def seal(self, attributes: Attributes, *, fsync: bool) -> str:
        """Store a new etag and ``attributes`` on the file, flush it if ``fsync``, and return the etag."""
        etag = new_etag()
        write_meta(self.fd, etag, attributes)
        if fsync:
            os.fsync(self.fd)
        return etag

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self.fd)
        if not self.renamed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)


def _regular_file_fd(stream: io.BufferedReader | io.BufferedRandom | io.FileIO) -> int | None:
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return None
    return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None


def copy_range(source_fd: int, target_fd: int, offset: int, count: int | None) -> int:
    """Append ``count`` bytes (all up to the end when None) of ``source_fd`` from ``offset`` to ``target_fd``.

    Uses ``copy_file_range`` (in-kernel; a reflink on Btrfs and XFS) and falls back to ``pread``/``write``.
    Returns the number of bytes copied.
    """
    copied = 0
    in_kernel = True
    while count is None or copied < count:
        want = _COPY_CHUNK if count is None else min(_COPY_CHUNK, count - copied)
        if in_kernel:
            try:
                done = os.copy_file_range(source_fd, target_fd, want, offset + copied)
            except OSError as exc:
                if exc.errno not in _NO_COPY_FILE_RANGE:
                    raise
                in_kernel = False
                continue
        else:
            chunk = os.pread(source_fd, min(want, CHUNK_SIZE), offset + copied)
            done = len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(target_fd, view) :]
        if done == 0:
            if in_kernel and copied == 0:
                # Some kernels answer 0 for files of pseudo filesystems (/proc, /sys) that are not empty:
                # let a plain read decide whether this really is the end.
                in_kernel = False
                continue
            break
        copied += done
    return copied


def current_etag(dir_fd: int, name: str) -> str | None:
    """Return the etag of the object ``name`` in ``dir_fd``, or None if there is none."""
    opened = open_file(dir_fd, name)
    if opened is None:
        return None
    fd, st = opened
    try:
        return read_meta(fd, st)[0]
    finally:
        os.close(fd)


def check_etag(dir_fd: int, name: str, if_match: str, key: str, operation: str) -> None:
    """Check that the object ``name`` exists and matches ``if_match``; call it holding the directory's lock.

    Raises:
        PreconditionFailed: the object is missing or its etag differs.
    """
    etag = current_etag(dir_fd, name)
    if etag is None:
        raise local_error(PreconditionFailed, "no object to match if_match", key=key, operation=operation)
    if not etag_matches(if_match, etag):
        raise local_error(PreconditionFailed, "the object changed since the given etag", key=key, operation=operation)


def in_parent(
    root: Root,
    key: Key,
    action: Callable[[DirChain], _T],
    *,
    fsync: bool,
    operation: str,
    opener: BeneathOpener | None = None,
) -> _T:
    """Run ``action`` with the directories of ``key``'s parent open (created if needed) and return its result.

    A concurrent delete may remove the parent directory (once empty) after we opened it; then creating an entry
    in it fails with ENOENT, and the action is run again on a freshly made directory. If the action fails, the
    directories it no longer needs are removed so failed writes leave no empty prefixes behind. With an
    ``opener``, an existing parent is opened in one ``openat2`` call.
    """
    parent = key.rpartition("/")[0]
    if parent and opener is not None and opener.available:
        # The parent usually exists: one openat2 call instead of a descriptor per directory. The chain holds no
        # names, so a failed action removes no directories; it made none.
        try:
            fd = opener.open_dir(parent)
        except OSError:
            pass  # missing, a file or a symlink on the way: the walk below creates it or refuses precisely
        else:
            with DirChain([fd], ()) as chain:
                try:
                    return action(chain)
                except FileNotFoundError as exc:
                    if isinstance(exc, SatchelError) or is_linked(fd):
                        raise
                    # A concurrent delete removed the directory after we opened it: the walk makes it anew.
    for _ in range(_ATTEMPTS):
        with _parent_chain(root, key, fsync=fsync, operation=operation) as chain:
            try:
                return action(chain)
            except FileNotFoundError as exc:
                if isinstance(exc, SatchelError) or is_linked(chain.fd):
                    chain.remove_empty()
                    raise
            except BaseException:
                chain.remove_empty()
                raise
    raise local_error(TransientError, "the parent directory kept disappearing", key=key, operation=operation)


def _parent_chain(root: Root, key: Key, *, fsync: bool, operation: str) -> DirChain:
    return open_dirs(root, key.parts[:-1], Walk.WRITE, fsync=fsync, key=key, operation=operation)


def commit(
    root: Root,
    staged: StagedFile,
    key: Key,
    mode: PutMode,
    if_match: str | None,
    *,
    fsync: bool,
    operation: str,
    opener: BeneathOpener | None = None,
) -> None:
    """Make the sealed ``staged`` file the object ``key``, atomically, honouring ``mode`` and ``if_match``.

    Raises:
        AlreadyExists: ``mode`` is CREATE and the key exists.
        PreconditionFailed: ``mode`` is UPDATE and the object is missing or its etag is not ``if_match``.
        InvalidPath: the key or one of its prefixes conflicts with existing keys on this filesystem.
        PermissionDenied: a symlink is in the way.
    """
    name = key.name

    def place(chain: DirChain) -> None:
        # Every writer of a directory's entries holds its lock, so a conditional write's check and its rename
        # happen with no other satchel write in between, in this process or any other.
        fcntl.flock(chain.fd, fcntl.LOCK_EX)
        try:
            require_replaceable(chain.fd, name, key, operation)
            if mode is PutMode.CREATE:
                # link() fails if the name exists, checked and created in one step by the kernel: unlike a
                # check followed by a write, two creators cannot both succeed.
                try:
                    os.link(staged.name, name, src_dir_fd=staged.dir_fd, dst_dir_fd=chain.fd, follow_symlinks=False)
                except FileExistsError:
                    raise local_error(
                        AlreadyExists, "the object already exists", key=key, operation=operation
                    ) from None
            else:
                if if_match is not None:
                    check_etag(chain.fd, name, if_match, key, operation)
                os.rename(staged.name, name, src_dir_fd=staged.dir_fd, dst_dir_fd=chain.fd)
                staged.renamed = True
        finally:
            # The descriptor is this write's own and in_parent closes it as soon as this returns, which releases
            # the lock: an explicit unlock is needed only before the fsync, which must not hold it.
            if fsync:
                fcntl.flock(chain.fd, fcntl.LOCK_UN)
        if fsync:
            # A rename is a change to the directory, not to the file: only fsyncing the directory makes it durable.
            os.fsync(chain.fd)

    in_parent(root, key, place, fsync=fsync, operation=operation, opener=opener)
