"""The files below a local folder or a store prefix, by relative path, as cp -r, sync, rm -r and du see them."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

import satchel
from satchel.backend import innermost
from satchel.cli.filters import Filters
from satchel.types import ObjectMeta

__all__ = [
    "TEMP_SUFFIX",
    "Entry",
    "entry_from_meta",
    "kept",
    "local_entry",
    "local_tree",
    "md5_etag",
    "remote_tree",
]

TEMP_SUFFIX = ".satchel-part"
_TEMP = re.compile(r"^\..+\.[0-9a-f]{12}" + re.escape(TEMP_SUFFIX) + "$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Entry:
    """One file or object: its path relative to the tree's root, size, modification time and etag.

    ``compressed`` is True when the listing says the object is stored zstd-compressed, so ``size`` is the
    stored size and cannot be compared with a local file's.
    """

    rel: str
    size: int
    mtime: float
    etag: str | None = None
    compressed: bool = False


def entry_from_meta(rel: str, meta: ObjectMeta) -> Entry:
    """Return the entry of an object listed or headed as ``meta``."""
    return Entry(rel, meta.size, meta.last_modified.timestamp(), meta.etag, meta.attributes.compression is not None)


def local_entry(rel: str, path: str) -> Entry | None:
    """Return the entry of the regular file at ``path`` (symlinks followed), or None for anything else."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return Entry(rel, st.st_size, st.st_mtime)


def local_tree(root: str, filters: Filters) -> dict[str, Entry]:
    """Return the regular files below the folder ``root`` that pass ``filters``, by ``/``-separated relative path.

    Symlinks to files are followed, symlinks to folders are not (no loops); the temporary files of downloads in
    progress are left out. A missing folder has no files.

    Raises:
        NotADirectoryError: ``root`` is a file.
        PermissionError: a folder cannot be read.
    """
    if not os.path.exists(root):
        return {}
    if not os.path.isdir(root):
        raise NotADirectoryError(20, "Not a directory", root)
    found: dict[str, Entry] = {}
    for folder, names in _walk(root):
        for name in names:
            if _TEMP.match(name):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if filters and not filters.allows(rel):
                continue
            entry = local_entry(rel, path)
            if entry is not None:
                found[rel] = entry
    return dict(sorted(found.items()))


def _walk(root: str) -> Iterator[tuple[str, list[str]]]:
    def fail(error: OSError) -> None:
        raise error

    for folder, _dirs, files in os.walk(root, onerror=fail):
        yield folder, files


def remote_tree(store: satchel.Store, prefix: str) -> dict[str, Entry]:
    """Return every object whose key starts with ``prefix``, by key relative to ``prefix`` (filter with :func:`kept`).

    Raises:
        SatchelError: the listing failed (NotFound for a missing bucket, Unauthenticated, ...).
    """
    found: dict[str, Entry] = {}
    for meta in store.list(prefix):
        rel = meta.key[len(prefix) :]
        if rel and not rel.endswith("/"):
            found[rel] = entry_from_meta(rel, meta)
    return found


def kept(entries: dict[str, Entry], filters: Filters) -> dict[str, Entry]:
    """Return the entries whose relative paths pass ``filters``."""
    if not filters:
        return entries
    return {rel: entry for rel, entry in entries.items() if filters.allows(rel)}


def md5_etag(store: satchel.Store, entry: Entry) -> str | None:
    """Return the entry's etag when it is the MD5 of its bytes (S3 objects uploaded in one part), else None."""
    if entry.etag is None or entry.compressed or innermost(store.backend).name != "s3":
        return None
    etag = entry.etag.strip('"').lower()
    return etag if _MD5.match(etag) else None
