"""Containment: every path under the root is reached through directory descriptors, never through symlinks.

Each operation opens the root, then each directory of the key with ``O_NOFOLLOW | O_DIRECTORY`` relative to
the previous descriptor (``openat``), and finally works on the last name relative to the parent descriptor. A
symlink anywhere on the way is refused, and because nothing is resolved by path twice, swapping a directory for
a symlink between a check and a use cannot redirect the operation outside the root.
"""

from __future__ import annotations

import enum
import errno
import fcntl
import os
import stat
from collections.abc import Sequence
from types import TracebackType

from satchel.errors import ConfigError, InvalidPath, NotFound, PermissionDenied, TransientError

from ._errors import BACKEND_NAME, local_error

__all__ = [
    "NOT_AN_OBJECT",
    "RESERVED",
    "DirChain",
    "Root",
    "Walk",
    "internal_dir",
    "is_linked",
    "locked",
    "lstat_entry",
    "make_reserved_area",
    "open_dirs",
    "open_file",
    "open_internal",
    "regular_file",
    "require_replaceable",
]

RESERVED = ".satchel"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted under the root must not block the opener; regular files ignore the flag.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_ATTEMPTS = 8
# A name that is missing, a symlink (ELOOP under O_NOFOLLOW), a socket (ENXIO) or not below a directory.
NOT_AN_OBJECT = (errno.ENOENT, errno.ELOOP, errno.ENXIO, errno.ENOTDIR)
_DIR_IN_USE = (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.EBUSY)


class Walk(enum.Enum):
    """What an operation does when a directory on a key's path is missing, a file, or a symlink."""

    READ = "read"  # all three: NotFound
    REMOVE = "remove"  # missing or a file: NotFound; a symlink: PermissionDenied
    WRITE = "write"  # missing: created; a file: InvalidPath; a symlink: PermissionDenied


class DirChain:
    """Open descriptors of the directories from the root down to a key's parent; closes them all.

    ``names[i]`` is the name of ``fds[i + 1]`` inside ``fds[i]``.
    """

    def __init__(self, fds: list[int], names: Sequence[str]) -> None:
        self.fds = fds
        self.names = names

    @property
    def fd(self) -> int:
        """The descriptor of the deepest directory (the key's parent)."""
        return self.fds[-1]

    def remove_empty(self) -> None:
        """Remove the chain's directories that are now empty, deepest first, never the root."""
        for depth in range(len(self.names) - 1, -1, -1):
            try:
                os.rmdir(self.names[depth], dir_fd=self.fds[depth])
            except OSError as exc:
                if exc.errno in _DIR_IN_USE:
                    return
                raise

    def close(self) -> None:
        """Close every descriptor of the chain."""
        while self.fds:
            os.close(self.fds.pop())

    def __enter__(self) -> DirChain:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


Root = str | int
"""The root folder: its real path, or a descriptor the backend keeps open for its whole life."""


def open_root(root: Root) -> int:
    """Return a new descriptor of the root that the caller closes.

    A kept descriptor is duplicated: cheaper than resolving the path again, and immune to the path being
    replaced after the backend was opened.
    """
    if isinstance(root, int):
        return os.dup(root)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_dirs(root: Root, segments: Sequence[str], walk: Walk, *, fsync: bool, key: str, operation: str) -> DirChain:
    """Open the directories ``segments`` below ``root``, following ``walk`` for what is not a directory.

    Args:
        root: the real path of the root.
        segments: the directory names, outermost first (a key's parts without its last one).
        walk: what to do with missing directories, files and symlinks on the way.
        fsync: with ``Walk.WRITE``, flush each directory that gets a new subdirectory.
        key: the key concerned, for error messages.
        operation: the operation, for error messages.

    Raises:
        NotFound: (READ, REMOVE) a directory is missing or is a file; (READ) it is a symlink.
        InvalidPath: (WRITE) a directory on the way is an object.
        PermissionDenied: (REMOVE, WRITE) a directory on the way is a symlink.
    """
    chain = DirChain([open_root(root)], segments)
    try:
        for depth, name in enumerate(segments):
            chain.fds.append(_open_child(chain.fd, name, walk, fsync, "/".join(segments[: depth + 1]), key, operation))
    except BaseException:
        chain.close()
        raise
    return chain


def _open_child(parent: int, name: str, walk: Walk, fsync: bool, path: str, key: str, operation: str) -> int:
    for _ in range(_ATTEMPTS):
        try:
            return os.open(name, DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            if walk is not Walk.WRITE:
                raise local_error(NotFound, "no such object", key=key, operation=operation) from None
            _make_dir(parent, name, fsync)
        except NotADirectoryError:
            _refuse_non_directory(parent, name, walk, path, key, operation)
    # Another process keeps removing the directory between our mkdir and open (deletes prune empty ones).
    raise local_error(TransientError, f"directory {path!r} kept disappearing", key=key, operation=operation)


def _make_dir(parent: int, name: str, fsync: bool) -> None:
    try:
        os.mkdir(name, dir_fd=parent)
    except FileExistsError:
        return
    if fsync:
        # The new directory's entry lives in its parent: without this a crash could lose the whole subtree.
        os.fsync(parent)


def _refuse_non_directory(parent: int, name: str, walk: Walk, path: str, key: str, operation: str) -> None:
    st = lstat_entry(parent, name)
    if st is None or stat.S_ISDIR(st.st_mode):
        return  # replaced meanwhile: the caller tries again
    if stat.S_ISLNK(st.st_mode) and walk is not Walk.READ:
        raise local_error(
            PermissionDenied,
            f"{path!r} is a symlink; symlinks inside the root are never followed",
            key=key,
            operation=operation,
        )
    if walk is Walk.WRITE:
        raise local_error(
            InvalidPath,
            f"{path!r} is an object, so it cannot also be a prefix of other keys on this filesystem",
            key=key,
            operation=operation,
        )
    raise local_error(NotFound, "no such object", key=key, operation=operation)


def make_reserved_area(root: Root, *subdirs: str) -> None:
    """Create ``root/.satchel`` and its ``subdirs`` if missing, never through a symlink.

    Raises:
        ConfigError: ``.satchel`` or one of the subdirectories exists but is not a directory.
    """
    root_fd = open_root(root)
    try:
        _make_dir(root_fd, RESERVED, fsync=False)
    finally:
        os.close(root_fd)
    try:
        with internal_dir(root) as reserved_fd:
            for name in subdirs:
                _make_dir(reserved_fd, name, fsync=False)
                os.close(os.open(name, DIR_FLAGS, dir_fd=reserved_fd))  # a directory, not a file or symlink
    except NotADirectoryError:
        raise ConfigError(
            f"{root}/{RESERVED} must be a directory of satchel's own (a file or symlink is in the way)",
            backend=BACKEND_NAME,
        ) from None


def open_internal(root: Root, *names: str) -> int:
    """Open ``.satchel`` or a directory below it without following symlinks; the caller closes it."""
    fd = open_root(root)
    try:
        for name in (RESERVED, *names):
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class internal_dir:
    """Open a directory of the reserved area for the block, as :func:`open_internal` does."""

    __slots__ = ("fd",)

    def __init__(self, root: Root, *names: str) -> None:
        self.fd = open_internal(root, *names)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self.fd)


def lstat_entry(dir_fd: int, name: str) -> os.stat_result | None:
    """Return the ``lstat`` of ``name`` in ``dir_fd``, or None if it does not exist."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_file(dir_fd: int, name: str) -> tuple[int, os.stat_result] | None:
    """Open the regular file ``name`` in ``dir_fd`` for reading; None if it is missing or not a regular file."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in NOT_AN_OBJECT:
            return None
        raise
    return regular_file(fd)


def regular_file(fd: int) -> tuple[int, os.stat_result] | None:
    """Return ``fd`` and its ``fstat`` if it is a regular file; otherwise close it and return None."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def require_replaceable(dir_fd: int, name: str, key: str, operation: str) -> os.stat_result | None:
    """Return the ``lstat`` of the object at ``name`` (None if absent) after checking a write may replace it.

    Raises:
        PermissionDenied: ``name`` is a symlink.
        InvalidPath: ``name`` is a directory, i.e. the key is a prefix of other keys.
    """
    st = lstat_entry(dir_fd, name)
    if st is None or stat.S_ISREG(st.st_mode):
        return st
    if stat.S_ISLNK(st.st_mode):
        raise local_error(
            PermissionDenied,
            "the key is a symlink; symlinks inside the root are never replaced",
            key=key,
            operation=operation,
        )
    if stat.S_ISDIR(st.st_mode):
        raise local_error(
            InvalidPath, "the key is a prefix of existing keys on this filesystem", key=key, operation=operation
        )
    raise local_error(PermissionDenied, "the key names a special file", key=key, operation=operation)


def is_linked(dir_fd: int) -> bool:
    """Return True while the directory ``dir_fd`` is still part of the tree (not removed by ``rmdir``)."""
    return os.fstat(dir_fd).st_nlink > 0


class locked:
    """Hold exclusive ``flock``s on directories for the block, across threads and processes.

    Locks are taken in (device, inode) order so two holders of the same pair cannot deadlock, and a directory
    opened twice is locked once (a second flock through another descriptor would wait on ourselves). Each
    descriptor must be this operation's own: flock locks belong to the open file description, so two threads
    sharing one descriptor would not exclude each other.
    """

    __slots__ = ("fds",)

    def __init__(self, *dir_fds: int) -> None:
        self.fds = list(dir_fds) if len(dir_fds) == 1 else _by_inode(dir_fds)

    def __enter__(self) -> None:
        taken = 0
        try:
            for fd in self.fds:
                fcntl.flock(fd, fcntl.LOCK_EX)
                taken += 1
        except BaseException:
            self._release(taken)
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release(len(self.fds))

    def _release(self, count: int) -> None:
        for fd in reversed(self.fds[:count]):
            fcntl.flock(fd, fcntl.LOCK_UN)


def _by_inode(dir_fds: Sequence[int]) -> list[int]:
    by_inode: dict[tuple[int, int], int] = {}
    for fd in dir_fds:
        st = os.fstat(fd)
        by_inode.setdefault((st.st_dev, st.st_ino), fd)
    return [by_inode[inode] for inode in sorted(by_inode)]
