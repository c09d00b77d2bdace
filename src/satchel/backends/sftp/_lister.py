"""Listing: a lazy walk of the tree in key order, one server directory at a time.

Sorting each directory's entries by ``name + "/"`` for subdirectories and ``name`` for files yields keys in
code point order, as on the local backend. Only regular files whose names are valid key segments are objects;
symlinks (the server reports entries as ``lstat`` sees them), special files and ``.satchel`` are never listed.
Each entry's metadata comes from its record matched against the size and mtime the listing saw.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator

import paramiko

from satchel.types import ListResult, ObjectMeta

from ._connection import SessionPool
from ._errors import translate_errors
from ._meta import describe, object_meta, read_record, record_path
from ._paths import RESERVED, Layout, PathState, path_state

__all__ = ["list_objects", "list_one_level"]

_NOT_A_SEGMENT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MAX_KEY_BYTES = 1024
_Entry = tuple[str, bool, paramiko.SFTPAttributes]


def _split(prefix: str) -> tuple[str, str]:
    head, slash, partial = prefix.rpartition("/")
    return head + slash, partial


def _entries(sftp: paramiko.SFTPClient, layout: Layout, base: str, partial: str) -> list[_Entry] | None:
    folder = layout.path(base.rstrip("/")) if base else layout.root
    if base and (base.split("/", maxsplit=1)[0] == RESERVED or path_state(sftp, folder) is not PathState.OK):
        return None
    try:
        listing = sftp.listdir_attr(folder)
    except FileNotFoundError:
        return None
    keyed: list[tuple[str, str, bool, paramiko.SFTPAttributes]] = []
    for attrs in listing:
        name = attrs.filename
        if not name.startswith(partial) or _NOT_A_SEGMENT.search(name) or (not base and name == RESERVED):
            continue
        mode = attrs.st_mode or 0
        if stat.S_ISDIR(mode):
            keyed.append((name + "/", name, True, attrs))
        elif stat.S_ISREG(mode):
            keyed.append((name, name, False, attrs))
    keyed.sort(key=lambda item: item[0])
    return [(name, is_dir, attrs) for _, name, is_dir, attrs in keyed]


def _describe(sftp: paramiko.SFTPClient, layout: Layout, key: str, attrs: paramiko.SFTPAttributes) -> ObjectMeta | None:
    if len(key) * 4 > _MAX_KEY_BYTES and len(key.encode()) > _MAX_KEY_BYTES:
        return None
    record = read_record(sftp, record_path(layout, key))
    return object_meta(key, describe(record, attrs.st_size or 0, attrs.st_mtime or 0))


def list_objects(pool: SessionPool, layout: Layout, prefix: str, offset: str | None) -> Iterator[ObjectMeta]:
    """Yield the objects whose keys start with ``prefix`` and sort after ``offset``, in key order."""
    base, partial = _split(prefix)
    yield from _walk(pool, layout, base, partial, offset)


def _walk(pool: SessionPool, layout: Layout, base: str, partial: str, offset: str | None) -> Iterator[ObjectMeta]:
    # One directory's entries and metadata are read on one leased session, then yielded with no session held.
    with translate_errors(base + partial, "list", pool.server), pool.session() as session:
        entries = _entries(session.sftp, layout, base, partial)
        if entries is None:
            return
        items: list[ObjectMeta | str] = []
        for name, is_dir, attrs in entries:
            if is_dir:
                below = f"{base}{name}/"
                if offset is None or below >= offset or offset.startswith(below):
                    items.append(below)
                continue
            key = base + name
            if offset is not None and key <= offset:
                continue
            meta = _describe(session.sftp, layout, key, attrs)
            if meta is not None:
                items.append(meta)
    for item in items:
        if isinstance(item, str):
            yield from _walk(pool, layout, item, "", offset)
        else:
            yield item


def list_one_level(pool: SessionPool, layout: Layout, prefix: str) -> ListResult:
    """Return the objects and common prefixes one ``/`` level below ``prefix``, each sorted."""
    base, partial = _split(prefix)
    objects: list[ObjectMeta] = []
    prefixes: list[str] = []
    with translate_errors(prefix, "list", pool.server), pool.session() as session:
        sftp = session.sftp
        for name, is_dir, attrs in _entries(sftp, layout, base, partial) or []:
            if is_dir:
                # A directory is a common prefix only if an object lives below it, as on an object store.
                if _contains_object(sftp, layout, f"{base}{name}/"):
                    prefixes.append(f"{base}{name}/")
            elif (meta := _describe(sftp, layout, base + name, attrs)) is not None:
                objects.append(meta)
    return ListResult(objects, prefixes)


def _contains_object(sftp: paramiko.SFTPClient, layout: Layout, base: str) -> bool:
    entries = _entries(sftp, layout, base, "") or []
    return any(_contains_object(sftp, layout, f"{base}{name}/") if is_dir else True for name, is_dir, _ in entries)
