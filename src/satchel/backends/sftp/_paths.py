"""Paths on the server: the reserved area, and the checks that keep every key inside the root.

SFTP has no ``O_NOFOLLOW`` and no ``openat``: the server follows symlinks in any path it is given. So before
touching a key, the backend asks the server for the real path of ``root/<key>`` (``realpath``, which resolves
every symlink on the way, the last component included) and goes on only if the answer is the path itself:
no symlink anywhere, so nothing leads outside the root. A symlink planted between that check and the next
request (by someone writing to the server's folder directly) is not caught; satchel's own writes never make
symlinks.
"""

from __future__ import annotations

import contextlib
import stat
from dataclasses import dataclass
from enum import Enum

import paramiko

from satchel.errors import InvalidPath, PermissionDenied

from ._errors import sftp_error

__all__ = ["MULTIPART", "RESERVED", "Layout", "PathState", "ensure_parents", "lstat_or_none", "path_state"]

RESERVED = ".satchel"
STAGING = "staging"
META = "meta"
LOCKS = "locks"
MULTIPART = "multipart"


@dataclass(frozen=True)
class Layout:
    """Where things live under the real path of the root."""

    root: str

    def path(self, key: str) -> str:
        """The server path of ``key``."""
        return f"{self.root}/{key}"

    def internal(self, *parts: str) -> str:
        """A server path inside the reserved area."""
        return "/".join((self.root, RESERVED, *parts))

    @property
    def areas(self) -> tuple[str, ...]:
        """The reserved folders made at open."""
        return tuple(self.internal(area) for area in (STAGING, META, LOCKS, MULTIPART))


class PathState(Enum):
    """What ``realpath`` says about a path."""

    OK = "ok"  # no symlink on it; the last component may or may not exist
    NO_PARENT = "no-parent"  # a directory on the way is missing (or is a file)
    SYMLINK = "symlink"  # a symlink on the way, or the last component is one


def path_state(sftp: paramiko.SFTPClient, path: str) -> PathState:
    """Ask the server whether ``path`` is reached without following any symlink."""
    try:
        real = sftp.normalize(path)
    except FileNotFoundError:
        return PathState.NO_PARENT
    return PathState.OK if real == path else PathState.SYMLINK


def lstat_or_none(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    """Return the ``lstat`` of ``path``, or None if nothing is there."""
    try:
        return sftp.lstat(path)
    except FileNotFoundError:
        return None


def ensure_parents(sftp: paramiko.SFTPClient, layout: Layout, key: str, operation: str) -> None:
    """Make the folders above ``key`` and check that no symlink is on its path.

    Raises:
        InvalidPath: a part of the key above its last segment is a file.
        PermissionDenied: a symlink is on the key's path.
    """
    state = path_state(sftp, layout.path(key))
    if state is PathState.NO_PARENT:
        parts = key.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = layout.path("/".join(parts[:depth]))
            with contextlib.suppress(OSError):
                sftp.mkdir(folder)
            st = lstat_or_none(sftp, folder)
            if st is not None and stat.S_ISLNK(st.st_mode or 0):
                break
            if st is not None and not stat.S_ISDIR(st.st_mode or 0):
                raise sftp_error(
                    InvalidPath, "a part of the key is a file, not a directory", key=key, operation=operation
                )
        state = path_state(sftp, layout.path(key))
    if state is PathState.SYMLINK:
        raise sftp_error(
            PermissionDenied,
            "a symlink is on the key's path, and symlinks are never followed",
            key=key,
            operation=operation,
        )
    if state is PathState.NO_PARENT:
        raise sftp_error(InvalidPath, "a part of the key is a file, not a directory", key=key, operation=operation)


def prune_parents(sftp: paramiko.SFTPClient, layout: Layout, key: str) -> None:
    """Remove the folders above ``key`` that are now empty, deepest first, up to the root."""
    parts = key.split("/")[:-1]
    for depth in range(len(parts), 0, -1):
        try:
            sftp.rmdir(layout.path("/".join(parts[:depth])))
        except OSError:
            return  # not empty (or already gone): the folders above are not empty either
