"""Reading objects: open the data file between two reads of its record, so bytes and metadata belong together.

The reader reads the record, opens the data file and ``fstat``\\s the open handle, then reads the record
again. If the record did not change in between (same current etag; etags are never reused), the handle holds
either that record's ``cur`` version or its ``prev`` one (writers rewrite the record before renaming the
data, under the key's lock), and the two have different fingerprints, so ``Record.version_of`` names the
right one. If the record changed, a writer was busy: the reader tries again. The open handle keeps reading
the same file even if it is replaced meanwhile.
"""

from __future__ import annotations

import contextlib
import stat
import time

import paramiko

from satchel.backend import GetResult
from satchel.body import Body, BytesBody
from satchel.errors import NotFound, RangeNotSatisfiable, TransientError
from satchel.path import Key
from satchel.preconditions import check_get_preconditions
from satchel.types import GetOptions

from ._connection import Session, SessionPool
from ._errors import BACKEND_NAME, sftp_error, translate_errors
from ._meta import Record, Version, describe, object_meta, read_record, record_path
from ._paths import Layout, PathState, path_state

__all__ = ["SFTPBody", "get_object", "open_object"]

_ATTEMPTS = 50
_WINDOW = 2 << 20  # bytes requested ahead at once: reads are pipelined, memory stays within twice this
_SMALL = 32 << 10  # one SFTP read request


def _same(before: Record | None, after: Record | None) -> bool:
    if before is None or after is None:
        return before is after
    return before.cur.etag == after.cur.etag


def open_object(session: Session, layout: Layout, key: str, operation: str) -> tuple[paramiko.SFTPFile, Version]:
    """Open the object ``key`` and return the open handle and the version it holds.

    Raises:
        NotFound: no regular file at ``key``, or a symlink on its path.
        TransientError: writers kept replacing the object while we tried to read it.
    """
    sftp = session.sftp
    path = layout.path(key)
    if path_state(sftp, path) is not PathState.OK:
        raise sftp_error(NotFound, "no such object", key=key, operation=operation)
    meta_path = record_path(layout, key)
    for _ in range(_ATTEMPTS):
        before = read_record(sftp, meta_path)
        try:
            handle = sftp.open(path, "rb")
        except FileNotFoundError:
            raise sftp_error(NotFound, "no such object", key=key, operation=operation) from None
        try:
            st = handle.stat()
            if not stat.S_ISREG(st.st_mode or 0):
                raise sftp_error(NotFound, "no such object", key=key, operation=operation)
            after = read_record(sftp, meta_path)
            if _same(before, after):
                return handle, describe(after, st.st_size or 0, st.st_mtime or 0)
        except BaseException:
            handle.close()
            raise
        handle.close()
        time.sleep(0.002)
    raise sftp_error(TransientError, "the object kept changing while it was opened", key=key, operation=operation)


class SFTPBody(Body):
    """``length`` bytes of an open server file from ``start``, read ahead in pipelined windows.

    The body holds a leased session until it is closed.
    """

    def __init__(
        self, pool: SessionPool, session: Session, handle: paramiko.SFTPFile, start: int, length: int, key: str
    ) -> None:
        self._pool = pool
        self._session = session
        self._handle = handle
        self._pos = start
        self._left = length
        self._buffer = memoryview(b"")
        self._key = key
        self.size = length

    def _read(self, n: int) -> bytes:
        if not self._buffer:
            if self._left <= 0:
                return b""
            with translate_errors(self._key, "get", self._pool.server):
                self._buffer = memoryview(self._fetch(min(_WINDOW, self._left)))
            if not self._buffer:
                self._left = 0
                return b""
        chunk = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return bytes(chunk)

    def _fetch(self, want: int) -> bytes:
        self._handle.seek(self._pos)
        if want <= _SMALL:
            data: bytes = self._handle.read(want)
        else:
            # readv sends every request of the window before waiting for the first answer; asking for it in
            # request-sized pieces lets each come straight out of paramiko's prefetch buffer.
            pieces = [(at, min(_SMALL, self._pos + want - at)) for at in range(self._pos, self._pos + want, _SMALL)]
            data = b"".join(self._handle.readv(pieces))
        self._pos += len(data)
        self._left -= len(data)
        return data

    def _close(self) -> None:
        try:
            self._handle.close()
        except (OSError, EOFError, paramiko.SSHException):
            self._session.broken = True
        finally:
            self._pool.release(self._session)


def get_object(pool: SessionPool, layout: Layout, key: Key, options: GetOptions) -> GetResult:
    """Open the object ``key`` (or only describe it, with ``head=True``) as ``Backend.get`` does.

    Raises:
        NotFound: no such object.
        PreconditionFailed: ``if_match`` / ``if_unmodified_since`` does not hold.
        NotModified: ``if_none_match`` / ``if_modified_since`` says the caller's copy is current.
        RangeNotSatisfiable: the range starts at or past the end.
    """
    session = pool.acquire()
    handle: paramiko.SFTPFile | None = None
    try:
        with translate_errors(key, "get", pool.server):
            handle, version = open_object(session, layout, key, "get")
            meta = object_meta(key, version)
            if options.if_match or options.if_none_match or options.if_modified_since or options.if_unmodified_since:
                check_get_preconditions(meta, options, backend=BACKEND_NAME)
            start, end = (0, meta.size) if options.head else _resolve(options, meta.size, key)
            if options.head:
                handle.close()
                pool.release(session)
                return GetResult(meta, (start, end), BytesBody(b""))
    except BaseException:
        session.broken = True
        if handle is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                handle.close()
        pool.release(session)
        raise
    return GetResult(meta, (start, end), SFTPBody(pool, session, handle, start, end - start, key))


def _resolve(options: GetOptions, size: int, key: str) -> tuple[int, int]:
    if options.range is None:
        return 0, size
    try:
        return options.range.resolve(size)
    except RangeNotSatisfiable as exc:
        raise sftp_error(RangeNotSatisfiable, exc.message, key=key, operation="get") from None
