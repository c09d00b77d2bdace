"""Multipart uploads: parts are files in a private folder of the reserved area until ``complete``."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from satchel.errors import ConfigError, NotFound, PreconditionFailed
from satchel.path import Key
from satchel.types import Attributes, Part, PutOptions, PutResult

from ._cleanup import remove_upload_dir
from ._dirs import Root, internal_dir, open_file, open_internal
from ._errors import local_error, translate_os_errors
from ._meta import read_meta
from ._writer import StagedFile, commit

__all__ = ["MULTIPART", "STAGING", "LocalUpload"]

STAGING = "staging"
MULTIPART = "multipart"
MAX_PARTS = 10_000
_NO_ATTRIBUTES = Attributes()


class LocalUpload:
    """A multipart upload to a local folder; see :class:`satchel.backend.MultipartUpload`.

    Parts live in ``.satchel/multipart/{pid}-{id}/{number}``, each written to a temp file and renamed, so a
    part is either complete or absent. ``complete`` concatenates them into a staging file and commits it
    exactly as ``put`` does (same mode and ``if_match`` semantics). If ``complete`` fails, the parts stay until
    :meth:`abort` (or until a later process finds this one dead), so the caller may retry.
    """

    def __init__(self, root: Root, key: Key, options: PutOptions, *, fsync: bool) -> None:
        self._root = root
        self._key = key
        self._options = options
        self._fsync = fsync
        self._dir = f"{os.getpid()}-{secrets.token_hex(8)}"
        with translate_os_errors(key, "put_multipart"), internal_dir(root, MULTIPART) as multipart_fd:
            os.mkdir(self._dir, dir_fd=multipart_fd)

    def __repr__(self) -> str:
        return f"LocalUpload({self._key!r}, {self._dir!r})"

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Store part ``number`` (1 to 10,000), replacing an earlier upload of the same number.

        Raises:
            ConfigError: the part number is out of range.
            NotFound: the upload was completed or aborted.
        """
        if not 1 <= number <= MAX_PARTS:
            raise local_error(
                ConfigError, f"part numbers go from 1 to {MAX_PARTS}, not {number}", key=self._key, operation="put_part"
            )
        with (
            translate_os_errors(self._key, "put_part"),
            self._upload_dir("put_part") as upload_fd,
            StagedFile(upload_fd) as staged,
        ):
            staged.write(data)
            # No fsync: parts matter only to this live process; if it crashes, the upload is discarded.
            etag = staged.seal(_NO_ATTRIBUTES, fsync=False)
            os.rename(staged.name, str(number), src_dir_fd=upload_fd, dst_dir_fd=upload_fd)
            staged.renamed = True
            return Part(number, etag, staged.size)

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Assemble ``parts`` in part-number order and commit the object like ``put``; no parts: an empty object.

        Raises:
            PreconditionFailed: a listed part was not uploaded, or not with that etag and size; or the put's own
                ``if_match`` fails.
            AlreadyExists: the upload's mode is CREATE and the key exists.
            ConfigError: a part number is listed twice.
            NotFound: the upload was completed or aborted.
            StorageFull: the assembled object does not fit; nothing of it remains.
        """
        ordered = sorted(parts, key=lambda part: part.number)
        for before, after in itertools.pairwise(ordered):
            if before.number == after.number:
                raise local_error(
                    ConfigError, f"part {after.number} is listed twice", key=self._key, operation="complete"
                )
        with (
            translate_os_errors(self._key, "complete"),
            self._upload_dir("complete") as upload_fd,
            internal_dir(self._root, STAGING) as staging_fd,
        ):
            etag = self._assemble(upload_fd, staging_fd, ordered)
        self.abort()
        return PutResult(etag)

    def _assemble(self, upload_fd: int, staging_fd: int, parts: Sequence[Part]) -> str:
        with StagedFile(staging_fd) as staged:
            for part in parts:
                self._append_part(staged, upload_fd, part)
            etag = staged.seal(self._options.attributes, fsync=self._fsync)
            commit(
                self._root,
                staged,
                self._key,
                self._options.mode,
                self._options.if_match,
                fsync=self._fsync,
                operation="complete",
            )
        return etag

    def _append_part(self, staged: StagedFile, upload_fd: int, part: Part) -> None:
        opened = open_file(upload_fd, str(part.number))
        if opened is None:
            raise local_error(
                PreconditionFailed, f"part {part.number} was not uploaded", key=self._key, operation="complete"
            )
        fd, st = opened
        try:
            if read_meta(fd, st)[0] != part.etag or st.st_size != part.size:
                raise local_error(
                    PreconditionFailed,
                    f"part {part.number} was not uploaded with that etag and size",
                    key=self._key,
                    operation="complete",
                )
            staged.copy_from(fd, 0, st.st_size)
        finally:
            os.close(fd)

    def abort(self) -> None:
        """Discard every part; aborting twice, or after ``complete``, is harmless."""
        with translate_os_errors(self._key, "abort"), internal_dir(self._root, MULTIPART) as multipart_fd:
            remove_upload_dir(multipart_fd, self._dir)

    @contextmanager
    def _upload_dir(self, operation: str) -> Iterator[int]:
        try:
            fd = open_internal(self._root, MULTIPART, self._dir)
        except FileNotFoundError:
            raise local_error(
                NotFound, "the upload was completed or aborted", key=self._key, operation=operation
            ) from None
        try:
            yield fd
        finally:
            os.close(fd)
