"""Multipart uploads: parts are files in a private folder of the reserved area until ``complete``."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import paramiko

from satchel.errors import ConfigError, NotFound, PreconditionFailed
from satchel.path import Key
from satchel.types import Part, PutOptions, PutResult
from satchel.unique import unique_token

from ._connection import SessionPool
from ._errors import sftp_error, translate_errors
from ._meta import temp_name
from ._paths import MULTIPART, Layout
from ._writer import StagedFile, commit

__all__ = ["SFTPUpload", "remove_upload_dir"]

MAX_PARTS = 10_000


class SFTPUpload:
    """A multipart upload over SFTP; see :class:`satchel.backend.MultipartUpload`.

    Parts live in ``.satchel/multipart/{host}-{pid}-{id}/{number}.{etag}``, each written to a staging file and
    renamed there, so a part is complete or absent, and parts may be sent from several threads at once.
    ``complete`` concatenates them on the server (the ``copy-data`` extension; streamed through the client
    where the server lacks it) into a staging file and commits it exactly as ``put`` does.
    """

    def __init__(self, pool: SessionPool, layout: Layout, key: Key, options: PutOptions, *, fsync: bool) -> None:
        self._pool = pool
        self._layout = layout
        self._key = key
        self._options = options
        self._fsync = fsync
        self._dir = layout.internal(MULTIPART, temp_name().removesuffix(".tmp"))
        with translate_errors(key, "put_multipart", pool.server), pool.session() as session:
            session.sftp.mkdir(self._dir)

    def __repr__(self) -> str:
        return f"SFTPUpload({self._key!r})"

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Store part ``number`` (1 to 10,000), replacing an earlier upload of the same number.

        Raises:
            ConfigError: the part number is out of range.
            NotFound: the upload was completed or aborted.
        """
        if not 1 <= number <= MAX_PARTS:
            raise sftp_error(
                ConfigError, f"part numbers go from 1 to {MAX_PARTS}, not {number}", key=self._key, operation="put_part"
            )
        etag = unique_token()
        with translate_errors(self._key, "put_part", self._pool.server), self._pool.session() as session:
            sftp = session.sftp
            self._require_dir(sftp, "put_part")
            with StagedFile(session, self._layout) as staged:
                staged.write(data)
                staged.finish(fsync=False)  # parts matter only until complete; a crash discards the upload
                sftp.posix_rename(staged.path, f"{self._dir}/{number}.{etag}")
                staged.renamed = True
            for name in sftp.listdir(self._dir):
                if name.startswith(f"{number}.") and name != f"{number}.{etag}":
                    with contextlib.suppress(FileNotFoundError):
                        sftp.remove(f"{self._dir}/{name}")
            return Part(number, etag, staged.size)

    def _require_dir(self, sftp: paramiko.SFTPClient, operation: str) -> None:
        try:
            sftp.stat(self._dir)
        except FileNotFoundError:
            raise sftp_error(
                NotFound, "the upload was completed or aborted", key=self._key, operation=operation
            ) from None

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Assemble ``parts`` in part-number order and commit the object like ``put``; no parts: an empty object.

        Raises:
            PreconditionFailed: a listed part was not uploaded, or not with that etag and size.
            AlreadyExists: the upload's mode is CREATE and the key exists.
            ConfigError: a part number is listed twice.
        """
        ordered = sorted(parts, key=lambda part: part.number)
        if len({part.number for part in ordered}) != len(ordered):
            raise sftp_error(ConfigError, "a part number is listed twice", key=self._key, operation="complete")
        etag = unique_token()
        with translate_errors(self._key, "complete", self._pool.server), self._pool.session() as session:
            sftp = session.sftp
            self._require_dir(sftp, "complete")
            with StagedFile(session, self._layout) as staged:
                for part in ordered:
                    path = f"{self._dir}/{part.number}.{part.etag}"
                    try:
                        handle = sftp.open(path, "rb")
                    except FileNotFoundError:
                        raise sftp_error(
                            PreconditionFailed,
                            f"part {part.number} was not uploaded with that etag",
                            key=self._key,
                            operation="complete",
                        ) from None
                    with handle:
                        if handle.stat().st_size != part.size:
                            raise sftp_error(
                                PreconditionFailed,
                                f"part {part.number} was not uploaded with that size",
                                key=self._key,
                                operation="complete",
                            )
                        staged.copy_from(handle, 0, part.size)
                staged.finish(fsync=self._fsync)
                commit(
                    session,
                    self._layout,
                    staged,
                    self._key,
                    mode=self._options.mode,
                    etag=etag,
                    attributes=self._options.attributes,
                    operation="complete",
                )
            remove_upload_dir(sftp, self._dir)
        return PutResult(etag)

    def abort(self) -> None:
        """Discard every part; aborting twice, or after ``complete``, is harmless."""
        with translate_errors(self._key, "abort", self._pool.server), self._pool.session() as session:
            remove_upload_dir(session.sftp, self._dir)


def remove_upload_dir(sftp: paramiko.SFTPClient, path: str) -> None:
    """Remove an upload folder and its parts; a folder already gone is fine."""
    try:
        names = sftp.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(f"{path}/{name}")
    with contextlib.suppress(FileNotFoundError):
        sftp.rmdir(path)
