"""Object metadata in sidecar records, kept consistent with the data file by fingerprints and a per-key lock.

SFTP can rename one name atomically, never two, and the data must stay a plain file at ``root/<key>``. So the
metadata lives in a record ``.satchel/meta/<sha256 of key>.json`` that names *which* data file it describes:
each version carries the data file's fingerprint, its size and its mtime (set explicitly by the writer, who
makes it differ from the fingerprint of the file it replaces). A record holds the current version and the
previous one. A writer holding the key's lock writes the record (new + the version now in place) first,
then renames the data into place, so at every instant the data file is described by the record's ``cur``
(committed) or its ``prev`` (the rename has not happened yet, or the writer crashed before it). See the
package docstring for the reader's side and the argument.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paramiko

from satchel.errors import TransientError
from satchel.types import Attributes, ObjectMeta
from satchel.unique import unique_token

from ._errors import sftp_error
from ._paths import LOCKS, META, STAGING, Layout

__all__ = ["Record", "Version", "key_lock", "read_record", "record_path", "temp_name", "write_record"]

_EMPTY = Attributes()
_LEASE = 15.0  # seconds a lock may stay unchanged before a waiter takes it as a crashed writer's
_LOCK_TIMEOUT = 60.0
_HOST = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def temp_name() -> str:
    """Return a fresh temp file name: this host and pid first, so a later open can tell a dead writer's."""
    return f"{_HOST}-{os.getpid()}-{unique_token()}.tmp"


def this_host() -> str:
    """The host part of temp names made by this machine."""
    return _HOST


@dataclass(frozen=True)
class Version:
    """One version of an object: its etag and attributes, and the fingerprint of its data file."""

    etag: str
    size: int
    mtime: int
    attributes: Attributes = _EMPTY

    def fits(self, size: int, mtime: int) -> bool:
        """Return True if a data file of ``size`` bytes modified at ``mtime`` is this version's."""
        return self.size == size and self.mtime == mtime

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"etag": self.etag, "size": self.size, "mtime": self.mtime}
        if not self.attributes.is_empty():
            out["attrs"] = self.attributes.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        attrs = data.get("attrs")
        return cls(
            str(data["etag"]),
            int(data["size"]),
            int(data["mtime"]),
            _EMPTY if attrs is None else Attributes.from_json(attrs),
        )


def foreign_version(size: int, mtime: int) -> Version:
    """Describe a data file no record describes (put there by another program): etag from size and mtime."""
    return Version(f"{mtime:x}-{size:x}", size, mtime)


@dataclass(frozen=True)
class Record:
    """The sidecar record of a key: the committed version and the one it replaced."""

    cur: Version
    prev: Version | None

    def version_of(self, size: int, mtime: int) -> Version:
        """Return the version a data file with this fingerprint is (the current one first)."""
        if self.cur.fits(size, mtime):
            return self.cur
        if self.prev is not None and self.prev.fits(size, mtime):
            return self.prev
        return foreign_version(size, mtime)


def describe(record: Record | None, size: int, mtime: int) -> Version:
    """Return the version of a data file of ``size`` bytes modified at ``mtime``, given the key's record."""
    return foreign_version(size, mtime) if record is None else record.version_of(size, mtime)


def object_meta(key: str, version: Version) -> ObjectMeta:
    """Build the ObjectMeta of ``key`` at ``version``."""
    modified = datetime.fromtimestamp(version.mtime, UTC)
    return ObjectMeta(key, version.size, version.etag, modified, None, version.attributes)


def record_path(layout: Layout, key: str) -> str:
    """The server path of ``key``'s record (hashed: keys may be longer than a file name may)."""
    return layout.internal(META, hashlib.sha256(key.encode()).hexdigest() + ".json")


def read_record(sftp: paramiko.SFTPClient, path: str) -> Record | None:
    """Return the record at ``path``, or None if there is none (or it is damaged)."""
    try:
        with sftp.open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        prev = data.get("prev")
        return Record(Version.from_json(data["cur"]), None if prev is None else Version.from_json(prev))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def write_record(sftp: paramiko.SFTPClient, layout: Layout, path: str, key: str, record: Record) -> None:
    """Replace the record at ``path`` atomically (a temp file renamed over it)."""
    data: dict[str, Any] = {"key": key, "cur": record.cur.to_json(), "prev": None}
    if record.prev is not None:
        data["prev"] = record.prev.to_json()
    temp = layout.internal(STAGING, temp_name())
    with sftp.open(temp, "wxb") as handle:
        handle.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    try:
        sftp.posix_rename(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            sftp.remove(temp)
        raise


def remove_record(sftp: paramiko.SFTPClient, path: str) -> None:
    """Remove a record; a missing one is fine."""
    with contextlib.suppress(FileNotFoundError):
        sftp.remove(path)


@contextmanager
def key_lock(sftp: paramiko.SFTPClient, layout: Layout, key: str, operation: str) -> Iterator[None]:
    """Hold the lock of ``key`` (an exclusively created file in ``.satchel/locks``) for the block.

    Writers hold it only around their final step (record and rename), never while uploading. A lock whose
    content stays the same for longer than the lease is taken to be a crashed writer's and removed.

    Raises:
        TransientError: the lock could not be taken within a minute.
    """
    path = layout.internal(LOCKS, hashlib.sha256(key.encode()).hexdigest())
    token = temp_name().encode()
    start = time.monotonic()
    seen: tuple[bytes, float] | None = None
    delay = 0.001
    while True:
        try:
            with sftp.open(path, "wxb") as handle:
                handle.write(token)
            break
        except OSError as exc:
            if exc.errno is not None:
                raise
        # Held by someone else (the server says only "Failure" for an existing file).
        now = time.monotonic()
        holder = _read_quietly(sftp, path)
        if holder is not None:
            if seen is None or seen[0] != holder:
                seen = (holder, now)
            elif now - seen[1] > _LEASE:
                with contextlib.suppress(OSError):
                    sftp.remove(path)
                seen = None
                continue
        if now - start > _LOCK_TIMEOUT:
            raise sftp_error(TransientError, "the key stayed locked by another writer", key=key, operation=operation)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sftp.remove(path)


@contextmanager
def key_locks(sftp: paramiko.SFTPClient, layout: Layout, keys: list[str], operation: str) -> Iterator[None]:
    """Hold the locks of several keys, taken in one global order so two callers never deadlock."""
    with contextlib.ExitStack() as stack:
        for key in sorted(set(keys), key=lambda k: hashlib.sha256(k.encode()).hexdigest()):
            stack.enter_context(key_lock(sftp, layout, key, operation))
        yield


def _read_quietly(sftp: paramiko.SFTPClient, path: str) -> bytes | None:
    try:
        with sftp.open(path, "rb") as handle:
            data: bytes = handle.read()
            return data
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise
