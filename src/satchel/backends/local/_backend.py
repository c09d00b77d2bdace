"""LocalBackend: objects as plain files in a folder, metadata in an extended attribute of each file."""

from __future__ import annotations

import errno
import functools
import os
import stat
import weakref
from collections.abc import Iterator, Sequence

from satchel.backend import GetResult, MultipartUpload, Payload, refuse_layer_options, refuse_reserved_key
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    SatchelError,
)
from satchel.path import Key, validate_prefix
from satchel.types import (
    Attributes,
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

from ._beneath import BeneathOpener
from ._cleanup import remove_stale
from ._config import LocalConfig
from ._dirs import (
    DirChain,
    Walk,
    internal_dir,
    locked,
    lstat_entry,
    make_reserved_area,
    open_dirs,
    open_file,
    open_internal,
    require_replaceable,
)
from ._errors import BACKEND_NAME, from_os_error, local_error, translate_os_errors
from ._lister import list_objects, list_one_level
from ._meta import new_etag, read_meta, write_meta
from ._multipart import MULTIPART, STAGING, LocalUpload
from ._reader import get_object, open_object
from ._writer import StagedFile, check_etag, commit, in_parent

__all__ = ["LocalBackend"]

_CAPABILITIES = Capabilities(signing=False, file_and_prefix=False, max_delete_batch=1_000_000, min_part_size=0)


class LocalBackend:
    """A Backend storing each object as the plain file ``root/<key>``; see the package docstring."""

    name = BACKEND_NAME

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True, create: bool = True) -> None:
        """Open (and with ``create``, make) the folder ``root``, and remove what crashed writers left in it.

        Args:
            root: the folder holding the objects.
            fsync: flush data and directories to the disk before a write returns.
            create: create ``root`` (and its parents) if it does not exist.

        Raises:
            ConfigError: ``root`` is missing (with ``create=False``) or not a directory, or its filesystem does
                not support user extended attributes.
            PermissionDenied: the folder cannot be written.
        """
        if not hasattr(os, "setxattr"):
            raise ConfigError("the local backend needs Linux extended attributes (os.setxattr)", backend=BACKEND_NAME)
        path = os.fspath(root)
        with translate_os_errors(None, "open"):
            if create:
                try:
                    os.makedirs(path, exist_ok=True)
                except FileExistsError:
                    raise ConfigError(f"{path!r} is not a directory", backend=BACKEND_NAME) from None
            if not os.path.isdir(path):
                raise ConfigError(f"{path!r} is not an existing directory (create=False)", backend=BACKEND_NAME)
            self._root = os.path.realpath(path)
            self._opener = BeneathOpener(self._root)
            # Helpers walk from this kept descriptor (duplicated per use), never from the path again.
            self._root_ref = self._opener.root_fd
            self._fsync = fsync
            self._create = create
            self._prepare_reserved_area()
            self._staging_fd = open_internal(self._root_ref, STAGING)
            # Released with the backend, not by close(): see BeneathOpener for why.
            weakref.finalize(self, os.close, self._staging_fd)

    @classmethod
    def from_config(cls, config: LocalConfig) -> LocalBackend:
        """Make a backend from URL options."""
        return cls(config.root, fsync=config.fsync, create=config.create)

    @property
    def root(self) -> str:
        """The real path of the folder."""
        return self._root

    @property
    def config(self) -> LocalConfig:
        """The options this backend was made with (its root resolved)."""
        return LocalConfig(self._root, self._fsync, self._create)

    @property
    def capabilities(self) -> Capabilities:
        """Everything but signing; a key cannot be both an object and a prefix (``file_and_prefix=False``)."""
        return _CAPABILITIES

    def __repr__(self) -> str:
        return f"LocalBackend(root={self._root!r}, fsync={self._fsync})"

    def _prepare_reserved_area(self) -> None:
        make_reserved_area(self._root_ref, STAGING, MULTIPART)
        with (
            internal_dir(self._root_ref, STAGING) as staging_fd,
            internal_dir(self._root_ref, MULTIPART) as multipart_fd,
        ):
            remove_stale(staging_fd, multipart_fd)
            self._probe_xattrs(staging_fd)

    def _probe_xattrs(self, staging_fd: int) -> None:
        with StagedFile(staging_fd) as probe:
            try:
                probe.seal(Attributes(), fsync=False)
            except OSError as exc:
                if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                raise ConfigError(
                    f"the filesystem of {self._root!r} does not support user extended attributes, which the local "
                    "backend needs to keep metadata atomically with the data (ext4, XFS, Btrfs and tmpfs on "
                    "Linux 6.6+ do; some need the user_xattr mount option)",
                    backend=BACKEND_NAME,
                ) from exc

    def _key(self, key: str, operation: str) -> Key:
        parsed = Key.parse(key)
        refuse_reserved_key(parsed, operation=operation, backend=self.name)
        return parsed

    def _refuse_layer_options(self, key: Key, options: PutOptions, operation: str) -> None:
        refuse_layer_options(options, key=key, operation=operation, backend=self.name)

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write ``payload`` to a temp file and rename it onto ``key``; see :meth:`satchel.backend.Backend.put`.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the object is missing or its etag differs.
            InvalidPath: the key is reserved, or is (or has as a prefix) an existing key it cannot coexist with.
            PermissionDenied: a symlink is on the key's path, or the filesystem refuses.
            NotSupported: ``options`` carry compression or expiration (instructions for layers).
            StorageFull: the disk or quota is full; the previous object is intact.
        """
        key = self._key(key, "put")
        self._refuse_layer_options(key, options, "put")
        with (
            translate_os_errors(key, "put"),
            StagedFile(self._staging_fd) as staged,
        ):
            staged.write(payload)
            etag = staged.seal(options.attributes, fsync=self._fsync)
            commit(
                self._root_ref,
                staged,
                key,
                options.mode,
                options.if_match,
                fsync=self._fsync,
                operation="put",
                opener=self._opener,
            )
        return PutResult(etag)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start a multipart upload of ``key``; nothing is visible until it completes."""
        key = self._key(key, "put_multipart")
        self._refuse_layer_options(key, options, "put_multipart")
        return LocalUpload(self._root_ref, key, options, fsync=self._fsync)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object; the body owns the file descriptor. See :meth:`satchel.backend.Backend.get`.

        Raises:
            NotFound: no regular file at ``key``, including keys reached through a symlink.
            PreconditionFailed, NotModified, RangeNotSatisfiable: as the protocol says.
        """
        key = self._key(key, "get")
        # A plain try instead of translate_os_errors: free when nothing is raised, and this is the hot path.
        try:
            return get_object(self._root_ref, self._opener, key, options)
        except OSError as exc:
            if isinstance(exc, SatchelError):
                raise
            raise from_os_error(exc, key, "get") from exc

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` (missing ones are fine) and the directories they leave empty.

        Raises:
            PreconditionFailed: ``options.if_match`` is given and the object is missing or its etag differs.
            PermissionDenied: a key is, or goes through, a symlink.
            ConfigError: ``if_match`` is given with more than one key.
        """
        if_match = options.if_match if options is not None else None
        if if_match is not None and len(keys) != 1:
            raise local_error(ConfigError, "a conditional delete takes exactly one key", key=None, operation="delete")
        for key in [self._key(key, "delete") for key in keys]:
            with translate_os_errors(key, "delete"):
                self._delete_one(key, if_match)

    def _delete_one(self, key: Key, if_match: str | None) -> None:
        try:
            chain = open_dirs(self._root_ref, key.parts[:-1], Walk.REMOVE, fsync=False, key=key, operation="delete")
        except NotFound:
            if if_match is not None:
                raise local_error(
                    PreconditionFailed, "no object to match if_match", key=key, operation="delete"
                ) from None
            return
        with chain:
            with locked(chain.fd):
                removed = self._unlink(chain.fd, key, if_match)
            if removed:
                if self._fsync:
                    os.fsync(chain.fd)
                chain.remove_empty()

    def _unlink(self, dir_fd: int, key: Key, if_match: str | None) -> bool:
        # Called holding the directory's lock; returns False when there was no object to remove.
        st = lstat_entry(dir_fd, key.name)
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise local_error(
                PermissionDenied,
                "the key is a symlink; symlinks inside the root are never removed",
                key=key,
                operation="delete",
            )
        if if_match is not None:
            check_etag(dir_fd, key.name, if_match, key, "delete")
        if st is None or not stat.S_ISREG(st.st_mode):
            return False  # a directory is a prefix, not an object
        try:
            os.unlink(key.name, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        return True

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects whose keys start with ``prefix`` (a plain string prefix) in key order, lazily.

        Raises:
            InvalidPath: the prefix is malformed.
        """
        validate_prefix(prefix)
        return self._list(prefix, offset)

    def _list(self, prefix: str, offset: str | None) -> Iterator[ObjectMeta]:
        with translate_os_errors(prefix, "list"):
            yield from list_objects(self._root_ref, prefix, offset)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and the common prefixes (ending in ``/``) one level below ``prefix``.

        Raises:
            InvalidPath: the prefix is malformed.
        """
        validate_prefix(prefix)
        with translate_os_errors(prefix, "list"):
            return list_one_level(self._root_ref, prefix)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` with a new etag (in-kernel where possible), then commit it like ``put``.

        Copying a key onto itself with ``attributes`` rewrites only its metadata (with a new etag); without
        attributes it changes nothing.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        src, dst = self._key(src, "copy"), self._key(dst, "copy")
        if src == dst:
            self._update_in_place(src, options, "copy")
            return
        with translate_os_errors(dst, "copy"):
            fd, st = open_object(self._root_ref, self._opener, src, "copy")
            try:
                self._copy_file(fd, st, dst, options)
            finally:
                os.close(fd)

    def _copy_file(self, fd: int, st: os.stat_result, dst: Key, options: CopyOptions) -> None:
        attributes = read_meta(fd, st)[1] if options.attributes is None else options.attributes
        mode = PutMode.OVERWRITE if options.overwrite else PutMode.CREATE
        with StagedFile(self._staging_fd) as staged:
            # The open descriptor pins the source's bytes and metadata even if it is replaced meanwhile.
            staged.copy_from(fd, 0, st.st_size)
            staged.seal(attributes, fsync=self._fsync)
            commit(self._root_ref, staged, dst, mode, None, fsync=self._fsync, operation="copy", opener=self._opener)

    def _update_in_place(self, key: Key, options: CopyOptions, operation: str) -> None:
        with (
            translate_os_errors(key, operation),
            open_dirs(self._root_ref, key.parts[:-1], Walk.READ, fsync=False, key=key, operation=operation) as chain,
            locked(chain.fd),
        ):
            opened = open_file(chain.fd, key.name)
            if opened is None:
                raise local_error(NotFound, "no such object", key=key, operation=operation)
            fd = opened[0]
            try:
                self._rewrite_meta(fd, key, options, operation)
            finally:
                os.close(fd)

    def _rewrite_meta(self, fd: int, key: Key, options: CopyOptions, operation: str) -> None:
        if not options.overwrite:
            raise local_error(AlreadyExists, "the destination exists", key=key, operation=operation)
        if options.attributes is None:
            return
        # One setxattr replaces the whole value atomically: readers see the old metadata or the new.
        write_meta(fd, new_etag(), options.attributes)
        if self._fsync:
            os.fsync(fd)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst`` with one ``rename`` (or ``link`` + ``unlink`` when not overwriting).

        The object keeps its etag. With ``attributes``, the move is a copy (new etag) followed by a delete.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        src, dst = self._key(src, "rename"), self._key(dst, "rename")
        if src == dst:
            self._update_in_place(src, options, "rename")
            return
        if options.attributes is not None:
            self.copy(src, dst, options)
            self.delete([src])
            return
        with (
            translate_os_errors(dst, "rename"),
            open_dirs(self._root_ref, src.parts[:-1], Walk.READ, fsync=False, key=src, operation="rename") as source,
        ):
            move = functools.partial(self._move, source, src, dst, options)
            in_parent(self._root_ref, dst, move, fsync=self._fsync, operation="rename", opener=self._opener)
            source.remove_empty()

    def _move(self, source: DirChain, src: Key, dst: Key, options: CopyOptions, target: DirChain) -> None:
        with locked(source.fd, target.fd):
            st = lstat_entry(source.fd, src.name)
            if st is None or not stat.S_ISREG(st.st_mode):
                raise local_error(NotFound, "no such object", key=src, operation="rename")
            require_replaceable(target.fd, dst.name, dst, "rename")
            if options.overwrite:
                os.rename(src.name, dst.name, src_dir_fd=source.fd, dst_dir_fd=target.fd)
            else:
                # As for put with mode=CREATE: link() creates the name only if it is free, atomically.
                try:
                    os.link(src.name, dst.name, src_dir_fd=source.fd, dst_dir_fd=target.fd, follow_symlinks=False)
                except FileExistsError:
                    raise local_error(AlreadyExists, "the destination exists", key=dst, operation="rename") from None
                os.unlink(src.name, dir_fd=source.fd)
        if self._fsync:
            os.fsync(target.fd)
            os.fsync(source.fd)

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own descriptors."""
