"""Listing: a lazy walk of the tree in key order, reading one directory at a time.

Sorting each directory's entries by ``name + "/"`` for subdirectories and ``name`` for files yields keys in
global code point order (the order S3 lists in), so the walk never holds more than one directory's names.
Only regular files whose names are valid key segments are objects; symlinks, special files and the reserved
``.satchel`` directory are never listed.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator

from satchel.errors import NotFound
from satchel.types import Attributes, ListResult, ObjectMeta

from ._dirs import DIR_FLAGS, RESERVED, Root, Walk, lstat_entry, open_dirs, open_file
from ._meta import object_meta, stat_etag
from ._reader import describe

__all__ = ["list_objects", "list_one_level"]

# Names Key.parse would reject: control characters, and undecodable bytes (surrogate escapes).
_NOT_A_SEGMENT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MAX_KEY_BYTES = 1024
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def list_objects(root: Root, prefix: str, offset: str | None) -> Iterator[ObjectMeta]:
    """Yield the objects whose keys start with ``prefix`` and sort after ``offset``, in key order."""
    base, partial = _split(prefix)
    try:
        chain = open_dirs(root, _segments(base), Walk.READ, fsync=False, key=prefix, operation="list")
    except NotFound:
        return
    with chain:
        yield from _walk(chain.fd, base, partial, offset)


def list_one_level(root: Root, prefix: str) -> ListResult:
    """Return the objects and common prefixes one ``/`` level below ``prefix``, each sorted."""
    base, partial = _split(prefix)
    objects: list[ObjectMeta] = []
    prefixes: list[str] = []
    try:
        chain = open_dirs(root, _segments(base), Walk.READ, fsync=False, key=prefix, operation="list")
    except NotFound:
        return ListResult(objects, prefixes)
    with chain:
        for name, is_dir in _entries(chain.fd, partial, at_root=not base):
            if is_dir:
                # A directory is a common prefix only if an object lives below it, as on an object store.
                if _contains_object(chain.fd, name):
                    prefixes.append(f"{base}{name}/")
            elif (meta := _describe_entry(chain.fd, name, base + name)) is not None:
                objects.append(meta)
    return ListResult(objects, prefixes)


def _split(prefix: str) -> tuple[str, str]:
    # "a/b" -> ("a/", "b"): the directory to open and the start of the names to keep inside it.
    head, slash, partial = prefix.rpartition("/")
    return head + slash, partial


def _segments(base: str) -> list[str]:
    segments = base.rstrip("/").split("/") if base else []
    if segments and segments[0] == RESERVED:
        raise NotFound("the reserved area is not listed")
    return segments


def _walk(dir_fd: int, base: str, partial: str, offset: str | None) -> Iterator[ObjectMeta]:
    for name, is_dir in _entries(dir_fd, partial, at_root=not base):
        if is_dir:
            below = f"{base}{name}/"
            if offset is not None and below < offset and not offset.startswith(below):
                continue  # every key below sorts before the offset
            try:
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in _GONE:
                    continue
                raise
            try:
                yield from _walk(child, below, "", offset)
            finally:
                os.close(child)
        else:
            key = base + name
            if offset is not None and key <= offset:
                continue
            meta = _describe_entry(dir_fd, name, key)
            if meta is not None:
                yield meta


def _entries(dir_fd: int, partial: str, *, at_root: bool) -> list[tuple[str, bool]]:
    keyed: list[tuple[str, str, bool]] = []
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            name = entry.name
            if not name.startswith(partial) or _NOT_A_SEGMENT.search(name) or (at_root and name == RESERVED):
                continue
            if entry.is_dir(follow_symlinks=False):
                keyed.append((name + "/", name, True))
            elif entry.is_file(follow_symlinks=False):
                keyed.append((name, name, False))
    keyed.sort()
    return [(name, is_dir) for _, name, is_dir in keyed]


def _describe_entry(dir_fd: int, name: str, key: str) -> ObjectMeta | None:
    if len(key) * 4 > _MAX_KEY_BYTES and len(key.encode()) > _MAX_KEY_BYTES:
        return None
    try:
        opened = open_file(dir_fd, name)
    except PermissionError:
        # Someone else's file we may not open: list it with what stat tells, as it cannot be read anyway.
        st = lstat_entry(dir_fd, name)
        return None if st is None else object_meta(key, st, stat_etag(st), Attributes())
    if opened is None:
        return None
    fd, st = opened
    try:
        return describe(key, fd, st)
    finally:
        os.close(fd)


def _contains_object(dir_fd: int, name: str) -> bool:
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _GONE:
            return False
        raise
    try:
        return any(
            _contains_object(child, sub) if is_dir else True for sub, is_dir in _entries(child, "", at_root=False)
        )
    finally:
        os.close(child)
