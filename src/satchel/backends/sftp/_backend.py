"""SFTPBackend: objects as plain files in a folder on an SSH server, metadata in sidecar records."""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator, Sequence

import paramiko

from satchel.backend import GetResult, MultipartUpload, Payload, refuse_layer_options, refuse_reserved_key
from satchel.errors import AlreadyExists, ConfigError, NotFound, NotSupported, PermissionDenied
from satchel.path import Key, validate_prefix
from satchel.types import (
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutMode,
    PutOptions,
    PutResult,
)
from satchel.unique import unique_token

from ._cleanup import remove_stale
from ._config import SFTPConfig
from ._connection import Session, SessionPool
from ._errors import BACKEND_NAME, sftp_error, translate_errors
from ._lister import list_objects, list_one_level
from ._meta import Record, Version, key_lock, key_locks, read_record, record_path, remove_record, write_record
from ._multipart import SFTPUpload
from ._paths import Layout, PathState, ensure_parents, lstat_or_none, path_state, prune_parents
from ._reader import get_object, open_object
from ._writer import StagedFile, check_target, commit, current_version

__all__ = ["SFTPBackend"]

_CAPABILITIES = Capabilities(
    conditional_update=False,
    conditional_delete=False,
    signing=False,
    file_and_prefix=False,
    max_delete_batch=1000,
    min_part_size=0,
)


class SFTPBackend:
    """A Backend storing each object as the plain file ``root/<key>`` on an SFTP server; see the package docstring."""

    name = BACKEND_NAME

    def __init__(self, config: SFTPConfig) -> None:
        """Connect, make the root folder and the reserved area if needed, and remove crashed writers' leftovers.

        Raises:
            Unauthenticated: the host key is unknown or does not match, or the credentials are refused.
            TransientError: the server cannot be reached.
            ConfigError: the root is not a folder.
        """
        if config.max_connections < 1:
            raise ConfigError("max_connections must be at least 1", backend=BACKEND_NAME)
        self._config = config
        self._fsync = config.fsync
        self._pool = SessionPool(config)
        try:
            with translate_errors(None, "open", self._pool.server), self._pool.session() as session:
                self._layout = Layout(self._make_root(session.sftp, config.root))
                for area in (self._layout.internal(), *self._layout.areas):
                    with contextlib.suppress(OSError):
                        session.sftp.mkdir(area)
                remove_stale(session.sftp, self._layout)
        except BaseException:
            self._pool.close()
            raise

    @staticmethod
    def _make_root(sftp: paramiko.SFTPClient, root: str) -> str:
        parts = root.split("/")
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder and folder not in (".", ".."):
                with contextlib.suppress(OSError):
                    sftp.mkdir(folder)
        real = sftp.normalize(root)
        if not stat.S_ISDIR(sftp.stat(real).st_mode or 0):
            raise ConfigError(f"the SFTP root {root!r} is not a folder", backend=BACKEND_NAME)
        return real.rstrip("/") or "/"

    @classmethod
    def from_config(cls, config: SFTPConfig) -> SFTPBackend:
        """Make a backend from URL options."""
        return cls(config)

    @property
    def config(self) -> SFTPConfig:
        """The options this backend was made with."""
        return self._config

    @property
    def root(self) -> str:
        """The real path of the root folder on the server."""
        return self._layout.root

    @property
    def capabilities(self) -> Capabilities:
        """No compare-and-swap over SFTP: no conditional update or delete; no signing; no file beside a prefix."""
        return _CAPABILITIES

    def __repr__(self) -> str:
        return f"SFTPBackend({self._pool.server!r}, root={self._layout.root!r})"

    def _key(self, key: str, operation: str) -> Key:
        parsed = Key.parse(key)
        refuse_reserved_key(parsed, operation=operation, backend=self.name)
        return parsed

    def _refuse(self, key: Key, options: PutOptions, operation: str) -> None:
        refuse_layer_options(options, key=key, operation=operation, backend=self.name)

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Stream ``payload`` into a temp file and rename it onto ``key``; see :meth:`satchel.backend.Backend.put`.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            InvalidPath: the key is reserved, or conflicts with a file or folder on the server.
            PermissionDenied: a symlink is on the key's path, or the server refuses.
            NotSupported: ``mode=UPDATE``, or ``options`` carry compression or expiration.
        """
        key = self._key(key, "put")
        self._refuse(key, options, "put")
        etag = unique_token()
        with translate_errors(key, "put", self._pool.server), self._pool.session() as session:
            if options.mode is PutMode.CREATE and lstat_or_none(session.sftp, self._layout.path(key)) is not None:
                raise sftp_error(AlreadyExists, "the object already exists", key=key, operation="put")
            with StagedFile(session, self._layout) as staged:
                staged.write(payload)
                staged.finish(fsync=self._fsync)
                commit(
                    session,
                    self._layout,
                    staged,
                    key,
                    mode=options.mode,
                    etag=etag,
                    attributes=options.attributes,
                    operation="put",
                )
        return PutResult(etag)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start a multipart upload of ``key``; nothing is visible until it completes."""
        key = self._key(key, "put_multipart")
        self._refuse(key, options, "put_multipart")
        return SFTPUpload(self._pool, self._layout, key, options, fsync=self._fsync)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object; the body holds a pooled session until closed. See :meth:`satchel.backend.Backend.get`.

        Raises:
            NotFound: no regular file at ``key``, including keys reached through a symlink.
            PreconditionFailed, NotModified, RangeNotSatisfiable: as the protocol says.
            TransientError: the connection failed, or writers kept replacing the object.
        """
        return get_object(self._pool, self._layout, self._key(key, "get"), options)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` (missing ones are fine), their records, and the folders they leave empty.

        Raises:
            NotSupported: ``options.if_match`` is given (SFTP has no conditional delete).
            PermissionDenied: a key is, or goes through, a symlink.
        """
        if options is not None and options.if_match is not None:
            raise sftp_error(NotSupported, "SFTP has no conditional delete", key=None, operation="delete")
        parsed = [self._key(key, "delete") for key in keys]
        with translate_errors(None, "delete", self._pool.server), self._pool.session() as session:
            for key in parsed:
                self._delete_one(session, key)

    def _delete_one(self, session: Session, key: Key) -> None:
        sftp = session.sftp
        path = self._layout.path(key)
        state = path_state(sftp, path)
        if state is PathState.NO_PARENT:
            return
        if state is PathState.SYMLINK:
            raise sftp_error(
                PermissionDenied,
                "a symlink is on the key's path; symlinks are never removed",
                key=key,
                operation="delete",
            )
        with key_lock(sftp, self._layout, key, "delete"):
            st = lstat_or_none(sftp, path)
            if st is None or not stat.S_ISREG(st.st_mode or 0):
                return  # a folder is a prefix, not an object
            with contextlib.suppress(FileNotFoundError):
                sftp.remove(path)
            remove_record(sftp, record_path(self._layout, key))
        prune_parents(sftp, self._layout, key)

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects whose keys start with ``prefix`` (a plain string prefix) in key order, lazily.

        Raises:
            InvalidPath: the prefix is malformed.
        """
        validate_prefix(prefix)
        return list_objects(self._pool, self._layout, prefix, offset)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and the common prefixes (ending in ``/``) one level below ``prefix``.

        Raises:
            InvalidPath: the prefix is malformed.
        """
        validate_prefix(prefix)
        return list_one_level(self._pool, self._layout, prefix)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` on the server (``copy-data``, or streamed through the client) with a new etag.

        Copying a key onto itself with ``attributes`` rewrites only its record (with a new etag).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        src, dst = self._key(src, "copy"), self._key(dst, "copy")
        with translate_errors(dst, "copy", self._pool.server), self._pool.session() as session:
            if src == dst:
                self._update_in_place(session, src, options, "copy")
                return
            handle, version = open_object(session, self._layout, src, "copy")
            with handle, StagedFile(session, self._layout) as staged:
                staged.copy_from(handle, 0, version.size)
                staged.finish(fsync=self._fsync)
                attributes = version.attributes if options.attributes is None else options.attributes
                mode = PutMode.OVERWRITE if options.overwrite else PutMode.CREATE
                commit(
                    session,
                    self._layout,
                    staged,
                    dst,
                    mode=mode,
                    etag=unique_token(),
                    attributes=attributes,
                    operation="copy",
                )

    def _update_in_place(self, session: Session, key: Key, options: CopyOptions, operation: str) -> None:
        sftp = session.sftp
        path = self._layout.path(key)
        if path_state(sftp, path) is not PathState.OK:
            raise sftp_error(NotFound, "no such object", key=key, operation=operation)
        with key_lock(sftp, self._layout, key, operation):
            meta_path = record_path(self._layout, key)
            in_place = current_version(read_record(sftp, meta_path), lstat_or_none(sftp, path))
            if in_place is None:
                raise sftp_error(NotFound, "no such object", key=key, operation=operation)
            if not options.overwrite:
                raise sftp_error(AlreadyExists, "the destination exists", key=key, operation=operation)
            if options.attributes is None:
                return
            # The bytes stay: the new version has the same fingerprint, and readers check ``cur`` first.
            new = Version(unique_token(), in_place.size, in_place.mtime, options.attributes)
            write_record(sftp, self._layout, meta_path, key, Record(new, in_place))

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst`` with one rename on the server; the object keeps its etag.

        With ``attributes``, the move is a copy (new etag) followed by a delete.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        src, dst = self._key(src, "rename"), self._key(dst, "rename")
        if options.attributes is not None and src != dst:
            self.copy(src, dst, options)
            self.delete([src])
            return
        with translate_errors(dst, "rename", self._pool.server), self._pool.session() as session:
            if src == dst:
                self._update_in_place(session, src, options, "rename")
                return
            sftp = session.sftp
            if path_state(sftp, self._layout.path(src)) is not PathState.OK:
                raise sftp_error(NotFound, "no such object", key=src, operation="rename")
            ensure_parents(sftp, self._layout, dst, "rename")
            with key_locks(sftp, self._layout, [src, dst], "rename"):
                self._move(session, src, dst, options)
            prune_parents(sftp, self._layout, src)

    def _move(self, session: Session, src: Key, dst: Key, options: CopyOptions) -> None:
        # Called holding both keys' locks.
        sftp = session.sftp
        src_path, dst_path = self._layout.path(src), self._layout.path(dst)
        src_meta, dst_meta = record_path(self._layout, src), record_path(self._layout, dst)
        src_st = lstat_or_none(sftp, src_path)
        moving = current_version(read_record(sftp, src_meta), src_st)
        if moving is None:
            raise sftp_error(NotFound, "no such object", key=src, operation="rename")
        dst_st = lstat_or_none(sftp, dst_path)
        check_target(dst_st, dst, "rename")
        if dst_st is not None and not options.overwrite:
            raise sftp_error(AlreadyExists, "the destination exists", key=dst, operation="rename")
        replaced = current_version(read_record(sftp, dst_meta), dst_st)
        if replaced is not None and replaced.fits(moving.size, moving.mtime):
            # Give the moving file a fingerprint the destination's readers can tell from the file it replaces;
            # the source's record learns it first, so the source's readers can tell too.
            bumped = Version(moving.etag, moving.size, moving.mtime + 1, moving.attributes)
            write_record(sftp, self._layout, src_meta, src, Record(bumped, moving))
            sftp.utime(src_path, (bumped.mtime, bumped.mtime))
            moving = bumped
        write_record(sftp, self._layout, dst_meta, dst, Record(moving, replaced))
        if options.overwrite:
            sftp.posix_rename(src_path, dst_path)
        else:
            try:
                sftp.rename(src_path, dst_path)  # link() underneath: fails if the destination appeared
            except OSError as exc:
                if exc.errno is None and lstat_or_none(sftp, dst_path) is not None:
                    raise sftp_error(AlreadyExists, "the destination exists", key=dst, operation="rename") from None
                raise
        remove_record(sftp, src_meta)

    def close(self) -> None:
        """Close every pooled session and connection."""
        self._pool.close()
