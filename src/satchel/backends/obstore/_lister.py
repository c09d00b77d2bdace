"""Listings with satchel's string prefixes over obstore's directory prefixes.

obstore (like ``object_store``) treats a list prefix as a directory: ``a/b`` lists ``a/b/c`` but not ``a/bc``
nor ``a/b`` itself. Satchel's prefixes are plain strings, as S3, GCS and Azure mean them. A prefix that ends
with ``/`` (or is empty) is a directory and goes to obstore as is; any other prefix lists its parent
directory, starting just before the prefix (an exclusive offset slightly smaller than it), and stops at the
first key past it. Keys come back in lexicographic order, as the services list them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC

import obstore

from satchel.types import Attributes, ObjectMeta

__all__ = ["meta_from_obstore", "scan"]

PAGE_SIZE = 1000
_NO_ATTRIBUTES = Attributes()


def meta_from_obstore(raw: obstore.ObjectMeta, attributes: Attributes | None = None) -> ObjectMeta:
    """Return satchel's metadata of a listed or headed object (listings carry no attributes)."""
    version = raw["version"]
    modified = raw["last_modified"]
    if modified.tzinfo is None:
        modified = modified.replace(tzinfo=UTC)
    return ObjectMeta(
        key=raw["path"],
        size=raw["size"],
        etag=raw["e_tag"],
        last_modified=modified,
        version=None if version in (None, "null") else version,
        attributes=_NO_ATTRIBUTES if attributes is None else attributes,
    )


def _start_before(prefix: str) -> str | None:
    # The largest simple string below ``prefix``: its last character minus one. Anything between it and the
    # prefix is skipped by the startswith filter, so it need not be exact, only not past the first match.
    last = prefix[-1]
    lower = chr(ord(last) - 1)
    if lower < " " or lower == "/" or "\ud800" <= lower <= "\udfff":
        return None
    return prefix[:-1] + lower


def scan(store: obstore.store.ObjectStore, prefix: str, offset: str | None) -> Iterator[ObjectMeta]:
    """Yield the objects of ``store`` whose key starts with ``prefix``, after ``offset`` if given, in key order."""
    if not prefix or prefix.endswith("/"):
        directory = prefix.rstrip("/") or None
        for batch in obstore.list(store, directory, offset=offset, chunk_size=PAGE_SIZE):
            yield from _convert(batch)
        return
    directory = prefix.rpartition("/")[0] or None
    start = _start_before(prefix)
    if offset is not None and (start is None or offset > start):
        start = offset
    for batch in obstore.list(store, directory, offset=start, chunk_size=PAGE_SIZE):
        for raw in batch:
            key = raw["path"]
            if key.startswith(prefix):
                yield meta_from_obstore(raw)
            elif key > prefix:
                return


def _convert(batch: Sequence[obstore.ObjectMeta]) -> Iterator[ObjectMeta]:
    for raw in batch:
        yield meta_from_obstore(raw)
