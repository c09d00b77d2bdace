"""Object metadata kept in the ``user.satchel`` extended attribute of each data file.

The attribute holds compact JSON: ``{"e": etag, "s": size, "m": mtime, "a": {...}}``, ``a`` (the attributes)
last and omitted when empty. ``s`` and ``m`` (nanoseconds) fingerprint the bytes the etag was minted for: a
program that later edits the file in place keeps the attribute but changes the fingerprint, and the file is
then treated like any foreign file (etag derived from ``stat``) instead of reporting a stale etag.

The one-letter names keep a record without attributes under 64 bytes, which ext4 stores inside the inode
(256-byte inodes); a longer value takes an extra 4 KiB block per file and a block read on every open.
Records written before, with the names ``etag``, ``size``, ``mtime`` and ``attrs``, are read as well.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from satchel.errors import ConfigError
from satchel.types import NO_ATTRIBUTES, Attributes, ObjectMeta
from satchel.unique import unique_token

__all__ = ["XATTR_NAME", "decode_meta", "new_etag", "object_meta", "read_meta", "stat_etag", "write_meta"]

XATTR_NAME = "user.satchel"
_EMPTY = NO_ATTRIBUTES
_NO_ATTRIBUTE = (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP)
_decode = json.JSONDecoder().decode
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def new_etag() -> str:
    """Return a fresh unique etag; never derived from ``stat``, whose inode numbers and times get reused."""
    return unique_token()


def stat_etag(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def write_meta(fd: int, etag: str, attributes: Attributes) -> None:
    """Store ``etag`` (hex digits, from :func:`new_etag`) and ``attributes`` on the open file ``fd``.

    The record also fingerprints the file's current size and mtime.

    Call it after the last byte is written: the fingerprint is taken from ``fstat`` now.

    Raises:
        ConfigError: the attributes are larger than the filesystem can keep in an extended attribute.
        OSError: any other failure (``ENOSPC`` on a full disk).
    """
    st = os.fstat(fd)
    # Formatted by hand: the etag is hex digits and the rest are integers, and json.dumps costs more than
    # everything else a small put does in Python.
    head = f'{{"e":"{etag}","s":{st.st_size},"m":{st.st_mtime_ns}'
    text = f"{head}}}" if attributes.is_empty() else f'{head},"a":{_encode(attributes.to_json())}}}'
    value = text.encode()
    try:
        os.setxattr(fd, XATTR_NAME, value)
    except OSError as exc:
        if _too_large(fd, exc):
            raise ConfigError(
                f"the attributes take {len(value)} bytes, more than this filesystem keeps in an extended "
                "attribute (about 4 KiB on ext4)"
            ) from exc
        raise


def _too_large(fd: int, exc: OSError) -> bool:
    # ext4 answers ENOSPC when the value does not fit in the inode's xattr block even on an empty disk;
    # only a disk with free blocks makes that a size problem rather than a full disk.
    if exc.errno == errno.E2BIG:
        return True
    return exc.errno == errno.ENOSPC and os.fstatvfs(fd).f_bfree > 0


def read_meta(fd: int, st: os.stat_result) -> tuple[str, Attributes]:
    """Return the etag and attributes of the open file ``fd`` whose ``fstat`` is ``st``.

    A file without a valid attribute, or edited in place since it was written, gets an etag derived from
    ``stat`` (and keeps whatever attributes it had).
    """
    try:
        raw = os.getxattr(fd, XATTR_NAME)
    except OSError as exc:
        if exc.errno in _NO_ATTRIBUTE:
            return stat_etag(st), _EMPTY
        raise
    return decode_meta(raw, st)


def decode_meta(raw: bytes, st: os.stat_result) -> tuple[str, Attributes]:
    """Return the etag and attributes held by an attribute value ``raw`` of a file whose stat is ``st``."""
    # Reads and listings decode one record per object: match the layout write_meta produces with one regex
    # and parse the attributes, which repeat across a folder, once per distinct value.
    match = _RECORD.match(raw)
    try:
        if match is None:
            record, attributes = _parse_any(raw)
            etag, size, mtime = (_field(record, name) for name in ("e", "s", "m"))
        else:
            etag, size, mtime = match[1].decode(), int(match[2]), int(match[3])
            attributes = _EMPTY if match[4] is None else _attributes(match[4])
    except (ValueError, TypeError, KeyError, AttributeError):
        # Written by something else, or damaged: the bytes are still the object, the attribute is not.
        return stat_etag(st), _EMPTY
    if not isinstance(etag, str) or size != st.st_size or mtime != st.st_mtime_ns:
        return stat_etag(st), attributes
    return etag, attributes


_RECORD = re.compile(
    rb'\{"(?:e|etag)":"([0-9a-f]{1,64})","(?:s|size)":(\d+),"(?:m|mtime)":(\d+)(?:,"(?:a|attrs)":(\{.*\}))?\}\Z', re.S
)
# The names of the record's fields as written before they were shortened.
_LONG_NAMES = {"e": "etag", "s": "size", "m": "mtime", "a": "attrs"}


def _field(record: dict[str, Any], name: str) -> Any:
    return record[name] if name in record else record.get(_LONG_NAMES[name])


def _parse_any(raw: bytes) -> tuple[dict[str, Any], Attributes]:
    record = _decode(raw.decode())
    if not isinstance(record, dict):
        raise TypeError("the record is not an object")
    attrs = _field(record, "a")
    return record, _EMPTY if attrs is None else Attributes.from_json(attrs)


@functools.lru_cache(maxsize=256)
def _attributes(raw: bytes) -> Attributes:
    return Attributes.from_json(_decode(raw.decode()))


def object_meta(key: str, st: os.stat_result, etag: str, attributes: Attributes) -> ObjectMeta:
    """Build the ObjectMeta of ``key`` from its ``stat`` and stored metadata."""
    return ObjectMeta(key, st.st_size, etag, datetime.fromtimestamp(st.st_mtime, UTC), None, attributes)
