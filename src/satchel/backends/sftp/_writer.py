"""Writing objects: a temp file in the reserved area, streamed in chunks, then committed under the key's lock."""

from __future__ import annotations

import contextlib
import stat
import time
from types import TracebackType

import paramiko

from satchel.backend import BYTES_LIKE, Payload
from satchel.body import CHUNK_SIZE
from satchel.errors import AlreadyExists, InvalidPath, PermissionDenied
from satchel.types import Attributes, PutMode

from ._connection import Session
from ._errors import sftp_error
from ._meta import Record, Version, describe, key_lock, read_record, record_path, temp_name, write_record
from ._paths import STAGING, Layout, ensure_parents, lstat_or_none

__all__ = ["StagedFile", "check_target", "commit", "current_version"]

_ATTEMPTS = 8


class StagedFile:
    """A new file in ``.satchel/staging`` that becomes an object by rename, or is removed on exit."""

    def __init__(self, session: Session, layout: Layout) -> None:
        self.session = session
        self.path = layout.internal(STAGING, temp_name())
        self.file = session.sftp.open(self.path, "wxb")
        # Writes are sent without waiting for each answer; errors surface at the latest on close.
        self.file.set_pipelined(True)
        self.size = 0
        self.renamed = False
        self._open = True

    def write(self, payload: Payload) -> None:
        """Append ``payload``: bytes-like objects in slices, streams chunk by chunk (flat memory)."""
        if isinstance(payload, BYTES_LIKE):
            view = memoryview(payload).cast("B") if memoryview(payload).c_contiguous else memoryview(bytes(payload))
            for start in range(0, len(view), CHUNK_SIZE):
                self._write(view[start : start + CHUNK_SIZE])
            return
        while chunk := payload.read(CHUNK_SIZE):
            self._write(memoryview(chunk))

    def _write(self, chunk: memoryview) -> None:
        self.file.write(bytes(chunk))
        self.size += len(chunk)

    def copy_from(self, source: paramiko.SFTPFile, offset: int, length: int) -> None:
        """Append ``length`` bytes of the open server file ``source`` from ``offset``, on the server if it can."""
        if length <= 0:
            return
        self.file.flush()
        if self.session.copy_data(source, offset, length, self.file, self.size):
            self.size += length
            self.file.seek(self.size)
            return
        source.seek(offset)
        left = length
        while left > 0:
            chunk = source.read(min(CHUNK_SIZE, left))
            if not chunk:
                break
            self._write(memoryview(chunk))
            left -= len(chunk)

    def finish(self, *, fsync: bool) -> None:
        """Flush (on the server's disk, with ``fsync``, where it can) and close the file."""
        self.file.flush()
        if fsync:
            self.session.fsync(self.file)
        self._open = False
        self.file.close()

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.file.close()
        if not self.renamed:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.session.sftp.remove(self.path)


def check_target(st: paramiko.SFTPAttributes | None, key: str, operation: str) -> None:
    """Refuse to replace a symlink or a directory at ``key``.

    Raises:
        PermissionDenied: the key is a symlink.
        InvalidPath: the key is a directory (a prefix of other keys).
    """
    if st is None:
        return
    mode = st.st_mode or 0
    if stat.S_ISLNK(mode):
        raise sftp_error(
            PermissionDenied, "the key is a symlink; symlinks are never replaced", key=key, operation=operation
        )
    if stat.S_ISDIR(mode):
        raise sftp_error(InvalidPath, "the key is a prefix of other keys on this server", key=key, operation=operation)


def current_version(record: Record | None, st: paramiko.SFTPAttributes | None) -> Version | None:
    """Return the version of the data file now in place (None if there is none)."""
    if st is None or not stat.S_ISREG(st.st_mode or 0):
        return None
    return describe(record, st.st_size or 0, st.st_mtime or 0)


def commit(
    session: Session,
    layout: Layout,
    staged: StagedFile,
    key: str,
    *,
    mode: PutMode,
    etag: str,
    attributes: Attributes,
    operation: str,
) -> None:
    """Make the finished ``staged`` file the object ``key`` with ``etag`` and ``attributes``.

    Holding the key's lock: the data file's mtime is set so its fingerprint differs from the file it replaces,
    the record is rewritten (new version current, the one in place previous), and the file is renamed onto
    the key: ``posix-rename`` replaces atomically; for ``mode=CREATE`` plain ``rename``, which OpenSSH's server
    does with ``link()`` and so fails atomically if the key exists.

    Raises:
        AlreadyExists: ``mode`` is CREATE and the key exists.
        InvalidPath, PermissionDenied: as :func:`check_target` and :func:`ensure_parents` say.
    """
    sftp = session.sftp
    target = layout.path(key)
    meta_path = record_path(layout, key)
    for attempt in range(_ATTEMPTS):
        ensure_parents(sftp, layout, key, operation)
        with key_lock(sftp, layout, key, operation):
            st = lstat_or_none(sftp, target)
            check_target(st, key, operation)
            if mode is PutMode.CREATE and st is not None:
                raise sftp_error(AlreadyExists, "the object already exists", key=key, operation=operation)
            record = read_record(sftp, meta_path)
            in_place = current_version(record, st)
            mtime = int(time.time())
            if in_place is not None and in_place.fits(staged.size, mtime):
                mtime += 1  # readers tell the two files apart by size and mtime
            sftp.utime(staged.path, (mtime, mtime))
            write_record(sftp, layout, meta_path, key, Record(Version(etag, staged.size, mtime, attributes), in_place))
            try:
                if mode is PutMode.CREATE:
                    sftp.rename(staged.path, target)
                else:
                    sftp.posix_rename(staged.path, target)
            except FileNotFoundError:
                # A delete pruned the now-empty parent folder after we made it: make it again.
                if attempt + 1 == _ATTEMPTS:
                    raise
                continue
            except OSError as exc:
                if mode is PutMode.CREATE and exc.errno is None and lstat_or_none(sftp, target) is not None:
                    raise sftp_error(AlreadyExists, "the object already exists", key=key, operation=operation) from None
                raise
            staged.renamed = True
            return
