"""``StorageDriver``: libcloud's storage driver over one satchel :class:`~satchel.Store`."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

import satchel
from satchel.backend import GetResult
from satchel.body import ReadableStream
from satchel.errors import AlreadyExists, ConfigError, InvalidPath, NotFound, NotSupported, PreconditionFailed
from satchel.path import Key
from satchel.store import Store
from satchel.types import ByteRange, ObjectMeta, PutMode, PutResult

from ._errors import (
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidContainerNameError,
    LibcloudError,
    ObjectDoesNotExistError,
    ObjectHashMismatchError,
)
from ._files import CountingChunks, HashingReader, iter_chunks, new_md5, save_body
from ._objects import Container, Object
from ._rules import (
    CONTAINER_MARKER,
    EXTRA_ATTRIBUTES,
    RESERVED_CONTAINER,
    check_chunk_size,
    container_name_problem,
    marker_key,
    put_attributes,
    to_byte_range,
    unquote,
)

__all__ = ["StorageDriver"]


class StorageDriver:
    """libcloud's ``StorageDriver`` over a satchel store: containers are the store's top-level prefixes.

    ``StorageDriver(url, **options)`` opens the store with :func:`satchel.open` (and closes it with
    :meth:`close`); ``StorageDriver(store)`` uses an open :class:`~satchel.Store` as it is. Container ``photos``
    holds the keys ``photos/...``; ``create_container`` writes an empty marker object, ``photos/`` +
    :data:`CONTAINER_MARKER`, so an empty container exists, and listings never show it.

    Raises:
        ConfigError: an unknown scheme or option, or options given with an open store.
    """

    name = "satchel"
    hash_type = "md5"
    supports_chunked_encoding = True

    def __init__(self, url: str | os.PathLike[str] | Store, **options: Any) -> None:
        if isinstance(url, Store):
            if options:
                raise ConfigError("options go with a URL; an open Store is used as it is")
            self.store = url
            self._owns_store = False
        else:
            self.store = satchel.open(url, **options)
            self._owns_store = True

    def __repr__(self) -> str:
        return f"<StorageDriver {self.store!r}>"

    def close(self) -> None:
        """Close the store if this driver opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> StorageDriver:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- containers ------------------------------------------------------------------------------------

    def iterate_containers(self) -> Iterator[Container]:
        """Yield a :class:`Container` for every top-level prefix of the store, in name order."""
        for prefix in self.store.list_with_delimiter("").common_prefixes:
            name = prefix[:-1]
            if name != RESERVED_CONTAINER:
                yield Container(name, {}, self)

    def list_containers(self) -> list[Container]:
        """Return every container as a list."""
        return list(self.iterate_containers())

    def get_container(self, container_name: str) -> Container:
        """Return the container ``container_name``.

        Raises:
            ContainerDoesNotExistError: it has neither a marker nor objects (or the name is invalid).
        """
        if container_name_problem(container_name) is not None or not self._container_exists(container_name):
            raise ContainerDoesNotExistError("container does not exist", self, container_name)
        return Container(container_name, {}, self)

    def create_container(self, container_name: str) -> Container:
        """Create the container ``container_name`` by writing its marker object.

        Raises:
            InvalidContainerNameError: the name is empty, holds a ``/``, is ``.satchel`` or is not a valid key
                segment, or the store cannot hold it (a top-level object of that name, on a local folder).
            ContainerAlreadyExistsError: it exists (a marker or any object under ``name/``).
        """
        problem = container_name_problem(container_name)
        if problem is not None:
            raise InvalidContainerNameError(problem, self, container_name)
        if self._container_exists(container_name):
            raise ContainerAlreadyExistsError("container already exists", self, container_name)
        # Atomic where the backend can create-only; elsewhere two racing creators both succeed.
        mode = PutMode.CREATE if self.store.backend.capabilities.conditional_create else PutMode.OVERWRITE
        try:
            self.store.put(marker_key(container_name), b"", mode=mode)
        except AlreadyExists as err:
            raise ContainerAlreadyExistsError("container already exists", self, container_name) from err
        except InvalidPath as err:
            raise InvalidContainerNameError(str(err), self, container_name) from err
        return Container(container_name, {}, self)

    def delete_container(self, container: Container) -> bool:
        """Delete an empty container (its marker) and return True.

        Not atomic: an object uploaded while the container is being deleted keeps the container in existence.

        Raises:
            ContainerIsNotEmptyError: the container holds objects.
            ContainerDoesNotExistError: it does not exist.
        """
        marker = self._marker_of(container)
        found = False
        for meta in self.store.list(container.name + "/"):
            if meta.key != marker:
                raise ContainerIsNotEmptyError("container is not empty", self, container.name)
            found = True
        if not found:
            raise ContainerDoesNotExistError("container does not exist", self, container.name)
        self.store.delete(marker)
        return True

    def get_container_cdn_url(self, container: Container) -> str:
        """Raise ``NotSupported``: satchel signs URLs for objects only."""
        raise NotSupported("satchel signs URLs for objects, not containers", key=container.name)

    def enable_container_cdn(self, container: Container) -> bool:
        """Raise ``NotSupported``: there is no CDN to enable."""
        raise NotSupported("satchel has no CDN to enable", key=container.name)

    # --- objects ---------------------------------------------------------------------------------------

    def iterate_container_objects(
        self, container: Container, prefix: str | None = None, ex_prefix: str | None = None
    ) -> Iterator[Object]:
        """Yield the container's objects whose names start with ``prefix``, in name order, lazily.

        ``ex_prefix`` is the deprecated spelling of ``prefix`` (a ``DeprecationWarning``).

        Raises:
            ContainerDoesNotExistError: (on iteration) nothing was listed and the container does not exist.
        """
        if ex_prefix:
            warnings.warn(
                "The ``ex_prefix`` argument is deprecated - please update code to use ``prefix``",
                DeprecationWarning,
                stacklevel=2,
            )
            prefix = ex_prefix
        marker = self._marker_of(container)
        return self._iterate_objects(container, marker, container.name + "/" + (prefix or ""))

    def _iterate_objects(self, container: Container, marker: str, prefix: str) -> Iterator[Object]:
        listed = False
        for meta in self.store.list(prefix):
            listed = True
            if meta.key != marker:
                yield self._object(container, meta)
        if not listed and not self._container_exists(container.name):
            raise ContainerDoesNotExistError("container does not exist", self, container.name)

    def list_container_objects(
        self, container: Container, prefix: str | None = None, ex_prefix: str | None = None
    ) -> list[Object]:
        """Return the container's objects whose names start with ``prefix`` as a list.

        Raises:
            ContainerDoesNotExistError: the container does not exist.
        """
        return list(self.iterate_container_objects(container, prefix=prefix, ex_prefix=ex_prefix))

    def get_object(self, container_name: str, object_name: str) -> Object:
        """Return the object ``object_name`` of the container ``container_name``.

        Raises:
            ObjectDoesNotExistError: no such object in the container.
            ContainerDoesNotExistError: no such container.
        """
        container = Container(container_name, {}, self)
        key = self._key(container, object_name, reading=True)
        try:
            meta = self.store.head(key)
        except NotFound as err:
            if not self._container_exists(container_name):
                raise ContainerDoesNotExistError("container does not exist", self, container_name) from err
            raise ObjectDoesNotExistError("object does not exist", self, object_name) from err
        return self._object(container, meta)

    def get_object_cdn_url(self, obj: Object, ex_expiry: float = 24) -> str:
        """Return a signed URL that lets anyone GET the object for ``ex_expiry`` hours (24 by default).

        Raises:
            NotSupported: the store cannot sign (a local folder or memory used directly: serve it with
                ``satchel serve`` and open it as ``satchel+http://`` to sign).
        """
        return self.store.sign(self._key(obj.container, obj.name, reading=False), "GET", ex_expiry * 3600)

    def enable_object_cdn(self, obj: Object) -> bool:
        """Raise ``NotSupported``: there is no CDN to enable (:meth:`get_object_cdn_url` needs none)."""
        raise NotSupported("satchel has no CDN to enable", key=obj.name)

    def upload_object(
        self,
        file_path: str,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Object:
        """Upload the local file ``file_path`` as ``object_name``, streaming it, and return the new object.

        ``verify_hash`` compares the MD5 computed while the file streamed with the store's etag, and where the
        etag is not that MD5 (random etags, multipart uploads, compressed objects), with the MD5 of the stored
        bytes read back. ``extra`` takes ``content_type``, ``meta_data`` (a dict) and the other content
        attributes (``content_encoding``, ``content_disposition``, ``content_language``, ``cache_control``);
        ``headers`` the matching ``Content-*`` and ``Cache-Control`` headers. Without a content type, one is
        guessed from the file name (``application/octet-stream`` when none fits).

        Raises:
            FileNotFoundError: the file does not exist.
            ContainerDoesNotExistError: the container does not exist.
            ObjectHashMismatchError: the stored bytes differ from the file's.
            NotSupported: an ``extra`` key or header satchel cannot store.
        """
        key = self._key(container, object_name, reading=False)
        attributes = put_attributes(extra, headers, os.fspath(file_path), self._keeps_attributes)
        with open(file_path, "rb") as source:
            self._require_container(container)
            reader = HashingReader(source)
            result = self.store.put(key, reader, **attributes)
        if verify_hash:
            self._verify_upload(key, result, reader.hexdigest(), object_name)
        return self._uploaded(container, object_name, reader.size, result, attributes)

    def upload_object_via_stream(
        self,
        iterator: Iterable[bytes | str] | ReadableStream,
        container: Container,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Object:
        """Upload the chunks of ``iterator`` (or a binary stream's bytes) as ``object_name`` and return it.

        The chunks stream into the store as they come: the iterator is never buffered whole, and the object
        appears only once the iterator is exhausted (an error from it leaves any previous object as it was).
        ``str`` chunks are encoded as UTF-8. ``extra`` and ``headers`` are as for :meth:`upload_object`, the
        content type guessed from ``object_name``.

        Raises:
            ContainerDoesNotExistError: the container does not exist.
        """
        key = self._key(container, object_name, reading=False)
        attributes = put_attributes(extra, headers, object_name, self._keeps_attributes)
        self._require_container(container)
        if isinstance(iterator, ReadableStream):
            reader = HashingReader(iterator)
            result = self.store.put(key, reader, **attributes)
            size = reader.size
        else:
            chunks = CountingChunks(iterator)
            result = self.store.put(key, chunks, **attributes)
            size = chunks.size
        return self._uploaded(container, object_name, size, result, attributes)

    def download_object(
        self, obj: Object, destination_path: str, overwrite_existing: bool = False, delete_on_failure: bool = True
    ) -> bool:
        """Download the object to ``destination_path`` through a temporary file renamed into place.

        ``destination_path`` is a file path, or a directory (an existing one, or any path ending with a
        separator) to save the object in under its name. Returns False when fewer bytes arrived than the store
        announced; the partial file is then deleted if ``delete_on_failure``, and kept at the destination if
        not. On an error the destination is left as it was.

        Raises:
            ObjectDoesNotExistError: the object does not exist.
            LibcloudError: the file exists and ``overwrite_existing`` is False, or the directory does not exist.
        """
        target, parents = self._destination(obj, destination_path, overwrite_existing)
        result = self._get(obj, None)
        return self._save(result, target, parents, overwrite_existing, delete_on_failure)

    def download_object_as_stream(self, obj: Object, chunk_size: int | None = None) -> Iterator[bytes]:
        """Return an iterator of the object's bytes, in chunks of ``chunk_size`` (up to 1 MiB if None).

        The object is opened now (a missing one raises here) and read as the iterator is consumed.

        Raises:
            ObjectDoesNotExistError: the object does not exist.
        """
        check_chunk_size(chunk_size)
        return iter_chunks(self._get(obj, None).body, chunk_size)

    def download_object_range(
        self,
        obj: Object,
        destination_path: str,
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
    ) -> bool:
        """Download bytes ``start_bytes`` up to (not including) ``end_bytes`` to a local file.

        As :meth:`download_object`; an ``end_bytes`` past the object stops at its end.

        Raises:
            ValueError: ``start_bytes`` is negative, or ``end_bytes`` is not greater than it.
            RangeNotSatisfiable: ``start_bytes`` is at or past the end of the object.
            ObjectDoesNotExistError: the object does not exist.
        """
        byte_range = to_byte_range(start_bytes, end_bytes)
        target, parents = self._destination(obj, destination_path, overwrite_existing)
        result = self._get(obj, byte_range)
        return self._save(result, target, parents, overwrite_existing, delete_on_failure)

    def download_object_range_as_stream(
        self, obj: Object, start_bytes: int, end_bytes: int | None = None, chunk_size: int | None = None
    ) -> Iterator[bytes]:
        """Return an iterator of bytes ``start_bytes`` up to (not including) ``end_bytes`` of the object.

        Raises:
            ValueError: ``start_bytes`` is negative, or ``end_bytes`` is not greater than it.
            RangeNotSatisfiable: ``start_bytes`` is at or past the end of the object.
            ObjectDoesNotExistError: the object does not exist.
        """
        byte_range = to_byte_range(start_bytes, end_bytes)
        check_chunk_size(chunk_size)
        return iter_chunks(self._get(obj, byte_range).body, chunk_size)

    def delete_object(self, obj: Object) -> bool:
        """Delete the object and return True; deleting a missing object also returns True, as on S3."""
        self.store.delete(self._key(obj.container, obj.name, reading=False))
        return True

    # --- helpers ---------------------------------------------------------------------------------------

    @property
    def _keeps_attributes(self) -> bool:
        return self.store.backend.capabilities.attributes

    def _container_exists(self, name: str) -> bool:
        if self.store.exists(marker_key(name)):
            return True
        return next(iter(self.store.list(name + "/")), None) is not None

    def _require_container(self, container: Container) -> None:
        if not self._container_exists(container.name):
            raise ContainerDoesNotExistError("container does not exist", self, container.name)

    def _prefix(self, container: Container) -> str:
        if container_name_problem(container.name) is not None:
            raise ContainerDoesNotExistError("container does not exist", self, container.name)
        return container.name + "/"

    def _marker_of(self, container: Container) -> str:
        return self._prefix(container) + CONTAINER_MARKER

    def _key(self, container: Container, object_name: str, *, reading: bool) -> str:
        """Return the store key of ``object_name``; names a read cannot find raise ``ObjectDoesNotExistError``.

        Raises:
            ContainerDoesNotExistError: the container name is invalid (no such container can exist).
            ObjectDoesNotExistError: ``reading`` and the name is the marker's or not a valid key.
            LibcloudError: writing the marker's reserved name.
            InvalidPath: writing a name that is not a valid key (empty, ``a//b``, ``..``, ...).
        """
        prefix = self._prefix(container)
        if object_name == CONTAINER_MARKER:
            if reading:
                raise ObjectDoesNotExistError("object does not exist", self, object_name)
            raise LibcloudError(f"{CONTAINER_MARKER!r} is the reserved name of the container marker", self)
        try:
            return Key.parse(prefix + object_name)
        except InvalidPath as err:
            if reading:
                raise ObjectDoesNotExistError("object does not exist", self, object_name) from err
            raise

    def _object(self, container: Container, meta: ObjectMeta) -> Object:
        extra: dict[str, Any] = {"etag": meta.etag, "last_modified": meta.last_modified}
        for name in EXTRA_ATTRIBUTES:
            value = getattr(meta.attributes, name)
            if value is not None:
                extra[name] = value
        if meta.version is not None:
            extra["version"] = meta.version
        name = meta.key[len(container.name) + 1 :]
        return Object(name, meta.size, unquote(meta.etag), extra, dict(meta.metadata), container, self)

    def _uploaded(
        self, container: Container, name: str, size: int, result: PutResult, attributes: Mapping[str, Any]
    ) -> Object:
        extra: dict[str, Any] = {"etag": result.etag}
        extra.update((field, attributes[field]) for field in EXTRA_ATTRIBUTES if field in attributes)
        if result.version is not None:
            extra["version"] = result.version
        metadata = dict(attributes.get("metadata") or {})
        return Object(name, size, unquote(result.etag), extra, metadata, container, self)

    def _verify_upload(self, key: str, result: PutResult, digest: str, object_name: str) -> None:
        etag = unquote(result.etag)
        if etag is not None and etag.lower() == digest:
            return
        # The etag is not the MD5 (random, multipart or compressed): hash the stored bytes, pinned to our
        # version where the store can, so a concurrent overwrite is not mistaken for corruption.
        pinned = result.etag if result.etag is not None and self.store.backend.capabilities.conditional_get else None
        try:
            stored = self.store.get(key, if_match=pinned)
        except PreconditionFailed:
            return  # overwritten since: our bytes are no longer there to check
        hasher = new_md5()
        with stored.body as body:
            for chunk in body:
                hasher.update(chunk)
        if hasher.hexdigest() != digest:
            raise ObjectHashMismatchError(
                f"MD5 hash {digest} of the uploaded bytes does not match the stored {hasher.hexdigest()}",
                self,
                object_name,
            )

    def _get(self, obj: Object, byte_range: ByteRange | None) -> GetResult:
        key = self._key(obj.container, obj.name, reading=True)
        try:
            return self.store.get(key, range=byte_range)
        except NotFound as err:
            raise ObjectDoesNotExistError("object does not exist", self, obj.name) from err

    def _destination(self, obj: Object, destination_path: str, overwrite: bool) -> tuple[str, bool]:
        path = os.fspath(destination_path)
        into_directory = os.path.isdir(path) or path.endswith((os.sep, "/"))
        if into_directory:
            if not os.path.isdir(path):
                raise LibcloudError(f"Path {path} does not exist", self)
            path = os.path.join(path, *obj.name.split("/"))
        if not overwrite and os.path.lexists(path):
            raise LibcloudError(f"File {path} already exists, but overwrite_existing=False", self)
        return os.path.abspath(path), into_directory and "/" in obj.name

    def _save(self, result: GetResult, target: str, parents: bool, overwrite: bool, delete_on_failure: bool) -> bool:
        if parents:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            return save_body(result.body, target, overwrite=overwrite, delete_on_failure=delete_on_failure)
        except FileExistsError as err:
            raise LibcloudError(f"File {target} already exists, but overwrite_existing=False", self) from err
