"""Store: the one API over every backend. Every convenience is written here once, for all backends."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Literal, overload

from satchel.backend import BYTES_LIKE, Backend, GetResult, MultipartUpload, Payload, Signer, find_layer
from satchel.body import ReadableStream
from satchel.errors import ConfigError, NotSupported, PermissionDenied
from satchel.io import IterableReader, ObjectReader, ObjectWriter
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.readonly import ReadOnlyLayer
from satchel.path import Key, validate_prefix
from satchel.transfer import Progress, download_file, upload_file
from satchel.types import (
    Attributes,
    ByteRange,
    Compression,
    CopyOptions,
    DeleteOptions,
    ExpirationPolicy,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutMode,
    PutOptions,
    PutResult,
)

__all__ = ["Store"]

_DEFAULT_PUT = PutOptions()
_DEFAULT_GET = GetOptions()
_HEAD = GetOptions(head=True)
_NO_DECOMPRESS = GetOptions(decompress=False)
_MODES = {"overwrite": PutMode.OVERWRITE, "create": PutMode.CREATE, "update": PutMode.UPDATE}


class Store:
    """One storage API over a :class:`~satchel.backend.Backend` (and the layers around it).

    Make one with :func:`satchel.open`; ``Store(backend)`` wraps a backend as it is, with no layers.
    Every method validates keys first (:class:`~satchel.errors.InvalidPath`) and checks the backend's
    capabilities before any I/O (:class:`~satchel.errors.NotSupported`).
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __repr__(self) -> str:
        return f"Store({self.backend!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the backend's connections and file handles."""
        self.backend.close()

    # --- writing ---------------------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: Payload | Iterable[bytes],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
        content_language: str | None = None,
        cache_control: str | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
        mode: PutMode | Literal["overwrite", "create", "update"] = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> PutResult:
        """Write ``data`` (bytes, a binary stream, or an iterable of byte chunks) to ``key`` atomically.

        Streams and iterables are read to their end without being held in memory whole.

        Args:
            expires: ``TTL(seconds)`` or ``TTI(seconds)``; the object is absent once expired.
            compress: ``"zstd"`` to store compressed; reads decompress transparently.
            mode: ``"overwrite"`` (default), ``"create"`` (fail if present) or ``"update"`` (with
                ``if_match``); ``if_match`` alone implies ``"update"``.

        Raises:
            AlreadyExists: ``mode="create"`` and the key exists.
            PreconditionFailed: ``if_match`` does not match the current etag.
            NotSupported: the backend lacks conditional writes, attributes, or a needed layer.
        """
        k = Key.parse(key)
        options = self._put_options(
            k,
            content_type,
            metadata,
            content_encoding,
            content_disposition,
            content_language,
            cache_control,
            expires,
            compress,
            mode,
            if_match,
        )
        return self.backend.put(k, _as_payload(data), options)

    def _put_options(
        self,
        key: Key,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        content_encoding: str | None,
        content_disposition: str | None,
        content_language: str | None,
        cache_control: str | None,
        expires: ExpirationPolicy | None,
        compress: Compression | None,
        mode: PutMode | str,
        if_match: str | None,
    ) -> PutOptions:
        put_mode = _MODES.get(mode) if isinstance(mode, str) else mode
        if put_mode is None:
            raise ConfigError(f"unknown put mode {mode!r}; use overwrite, create or update", key=key)
        if if_match is not None and put_mode is PutMode.OVERWRITE:
            put_mode = PutMode.UPDATE
        if (
            put_mode is PutMode.OVERWRITE
            and not metadata
            and content_type is None
            and expires is None
            and compress is None
            and content_encoding is None
            and content_disposition is None
            and content_language is None
            and cache_control is None
        ):
            return _DEFAULT_PUT
        caps = self.backend.capabilities
        if put_mode is PutMode.CREATE and not caps.conditional_create:
            raise NotSupported("this backend cannot create atomically", key=key, operation="put")
        if put_mode is PutMode.UPDATE and not caps.conditional_update:
            raise NotSupported("this backend cannot update conditionally", key=key, operation="put")
        if compress not in (None, "zstd"):
            raise ConfigError(f"unknown compression {compress!r}; satchel knows 'zstd'", key=key)
        if metadata is not None:
            _check_metadata(key, metadata)
        attributes = Attributes(
            content_type=content_type,
            content_encoding=content_encoding,
            content_disposition=content_disposition,
            content_language=content_language,
            cache_control=cache_control,
            metadata=dict(metadata) if metadata else {},
        )
        if not caps.attributes and not attributes.is_empty():
            raise NotSupported("this backend cannot store attributes", key=key, operation="put")
        return PutOptions(put_mode, if_match, attributes, compress, expires)

    def put_multipart(
        self,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
        mode: PutMode | Literal["overwrite", "create", "update"] = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> MultipartUpload:
        """Start a multipart upload of ``key``: parts in any order, visible only on ``complete``.

        Raises:
            NotSupported: the backend has no multipart uploads.
        """
        k = Key.parse(key)
        if not self.backend.capabilities.multipart:
            raise NotSupported("this backend has no multipart uploads", key=k, operation="put_multipart")
        options = self._put_options(
            k, content_type, metadata, None, None, None, None, expires, compress, mode, if_match
        )
        return self.backend.put_multipart(k, options)

    def upload_file(
        self,
        path: str | os.PathLike[str],
        key: str,
        *,
        progress: Progress | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
    ) -> PutResult:
        """Upload the local file at ``path`` to ``key``, streaming it.

        ``progress(bytes_done, total)`` is called as bytes are read, ending at the file's size.

        Raises:
            FileNotFoundError: the local file does not exist.
        """
        k = Key.parse(key)
        options = self._put_options(
            k, content_type, metadata, None, None, None, None, expires, compress, PutMode.OVERWRITE, None
        )
        return upload_file(self.backend, path, k, options, progress)

    # --- reading ---------------------------------------------------------------------------------------

    def get(
        self,
        key: str,
        *,
        range: ByteRange | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        decompress: bool = True,
    ) -> GetResult:
        """Open ``key`` for streaming: returns metadata, the byte range served and a body to read and close.

        Raises:
            NotFound: no such object (or it has expired).
            RangeNotSatisfiable: the range starts at or past the end of the object.
            PreconditionFailed / NotModified: a condition did not hold.
        """
        k = Key.parse(key)
        if (
            range is None
            and if_match is None
            and if_none_match is None
            and if_modified_since is None
            and if_unmodified_since is None
            and decompress
        ):
            return self.backend.get(k, _DEFAULT_GET)
        caps = self.backend.capabilities
        if range is not None and not caps.ranges:
            raise NotSupported("this backend cannot read ranges", key=k, operation="get")
        conditional = (if_match, if_none_match, if_modified_since, if_unmodified_since)
        if not caps.conditional_get and any(condition is not None for condition in conditional):
            raise NotSupported("this backend cannot read conditionally", key=k, operation="get")
        options = GetOptions(range, if_match, if_none_match, if_modified_since, if_unmodified_since, False, decompress)
        return self.backend.get(k, options)

    def get_bytes(self, key: str, *, decompress: bool = True) -> bytes:
        """Return the whole object as bytes.

        Raises:
            NotFound: no such object.
        """
        result = self.backend.get(Key.parse(key), _DEFAULT_GET if decompress else _NO_DECOMPRESS)
        with result.body as body:
            return body.read()

    def get_range(self, key: str, start: int, end: int | None = None, *, decompress: bool = True) -> bytes:
        """Return bytes ``start`` up to (not including) ``end`` (to the end of the object if None).

        An ``end`` past the object clamps to its size; a negative ``start`` with no end reads the last
        ``-start`` bytes.

        Raises:
            RangeNotSatisfiable: ``start`` is at or past the end of the object.
        """
        if start < 0:
            if end is not None:
                raise ConfigError("a negative start (a suffix range) takes no end", key=key)
            byte_range = ByteRange.last(-start)
        elif end is None:
            byte_range = ByteRange.from_offset(start)
        else:
            if end <= start:
                return b""
            byte_range = ByteRange.bounded(start, end)
        result = self.get(key, range=byte_range, decompress=decompress)
        with result.body as body:
            return body.read()

    def head(self, key: str) -> ObjectMeta:
        """Return the object's metadata without reading its bytes.

        Raises:
            NotFound: no such object.
        """
        return self.backend.get(Key.parse(key), _HEAD).meta

    def exists(self, key: str) -> bool:
        """Return True if ``key`` exists (and has not expired)."""
        try:
            self.backend.get(Key.parse(key), _HEAD)
        except FileNotFoundError:
            return False
        return True

    def download_file(self, key: str, path: str | os.PathLike[str], *, progress: Progress | None = None) -> ObjectMeta:
        """Download ``key`` to the local file ``path`` through a temporary file renamed into place.

        A failed download leaves ``path`` as it was. ``progress(bytes_done, total)`` is called as bytes arrive.

        Raises:
            NotFound: no such object.
        """
        return download_file(self.backend, Key.parse(key), path, progress)

    @overload
    def open(self, key: str, mode: Literal["rb"] = "rb") -> ObjectReader: ...
    @overload
    def open(
        self,
        key: str,
        mode: Literal["wb"],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
    ) -> ObjectWriter: ...

    def open(
        self,
        key: str,
        mode: Literal["rb", "wb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
    ) -> ObjectReader | ObjectWriter:
        """Open ``key`` as a file: ``"rb"`` gives a seekable reader, ``"wb"`` a writer.

        The writer makes the object visible only when closed without error; leaving its ``with`` block on an
        exception discards everything written.

        Raises:
            NotFound: ``"rb"`` and no such object.
            ConfigError: an unknown mode.
        """
        k = Key.parse(key)
        if mode == "rb":
            return ObjectReader(self.backend, k)
        if mode == "wb":
            options = self._put_options(
                k, content_type, metadata, None, None, None, None, expires, compress, PutMode.OVERWRITE, None
            )
            return ObjectWriter(self.backend, k, options)
        raise ConfigError(f"unknown mode {mode!r}; use 'rb' or 'wb'", key=k)

    # --- listing and deleting --------------------------------------------------------------------------

    def list(self, prefix: str = "", *, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield every object whose key starts with ``prefix`` (a plain string, as on S3), in key order.

        Lazy: pages are fetched as the iteration goes. ``offset`` skips keys up to and including it.
        """
        return self.backend.list(validate_prefix(prefix), offset)

    def list_with_delimiter(self, prefix: str = "") -> ListResult:
        """Return the objects and the common prefixes (``"a/b/"``) one level below ``prefix``."""
        return self.backend.list_with_delimiter(validate_prefix(prefix))

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        """Delete ``key``; deleting a missing key is not an error.

        Raises:
            PreconditionFailed: ``if_match`` was given and the object has another etag.
            NotSupported: ``if_match`` on a backend without conditional deletes.
        """
        k = Key.parse(key)
        if if_match is None:
            self.backend.delete([k])
            return
        if not self.backend.capabilities.conditional_delete:
            raise NotSupported("this backend cannot delete conditionally", key=k, operation="delete")
        self.backend.delete([k], DeleteOptions(if_match))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many keys in batches of the backend's size; missing keys are ignored."""
        batch_size = max(1, self.backend.capabilities.max_delete_batch)
        batch: list[Key] = []
        for key in keys:
            batch.append(Key.parse(key))
            if len(batch) >= batch_size:
                self.backend.delete(batch)
                batch = []
        if batch:
            self.backend.delete(batch)

    def copy(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Copy ``src`` to ``dst`` inside the store (server-side where the backend can).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        s, d = Key.parse(src), Key.parse(dst)
        caps = self.backend.capabilities
        if not overwrite and not caps.copy_if_not_exists:
            raise NotSupported("this backend cannot copy only-if-absent atomically", key=d, operation="copy")
        if not caps.copy:
            raise NotSupported("this backend cannot copy", key=s, operation="copy")
        self.backend.copy(s, d, CopyOptions(overwrite=overwrite))

    def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """Move ``src`` to ``dst``: a native rename where the backend has one, otherwise copy then delete.

        The copy-then-delete fallback is not atomic: a reader may briefly see both keys.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        s, d = Key.parse(src), Key.parse(dst)
        if s == d:
            self.head(s)
            return
        options = CopyOptions(overwrite=overwrite)
        if self.backend.capabilities.rename:
            self.backend.rename(s, d, options)
            return
        self.copy(s, d, overwrite=overwrite)
        self.backend.delete([s])

    # --- links and housekeeping ------------------------------------------------------------------------

    def sign(self, key: str, method: Literal["GET", "PUT"] = "GET", expires_in: float = 3600) -> str:
        """Return a URL that lets anyone ``GET`` or ``PUT`` ``key`` without credentials until it expires.

        Raises:
            NotSupported: the backend cannot sign natively (the satchel server signs for those).
            ConfigError: a method other than GET or PUT, or a non-positive ``expires_in``.
        """
        k = Key.parse(key)
        if method not in ("GET", "PUT"):
            raise ConfigError(f"can only sign GET or PUT, not {method!r}", key=k)
        if expires_in <= 0:
            raise ConfigError("expires_in must be positive", key=k)
        if not self.backend.capabilities.signing or not isinstance(self.backend, Signer):
            raise NotSupported("this backend cannot sign URLs", key=k, operation="sign", backend=self.backend.name)
        return self.backend.sign(k, method, expires_in)

    def sweep(self, prefix: str = "") -> int:
        """Delete expired objects under ``prefix`` and return how many were deleted.

        Raises:
            NotSupported: the store has no expiration layer.
            PermissionDenied: the store is read-only.
        """
        layer = find_layer(self.backend, ExpirationLayer)
        if layer is None:
            raise NotSupported("this store has no expiration layer", operation="sweep")
        # The sweep deletes through the expiration layer's inner backend, past a read-only layer above it.
        if find_layer(self.backend, ReadOnlyLayer) is not None:
            raise PermissionDenied("this store is read-only", operation="sweep", backend=self.backend.name)
        return layer.sweep(validate_prefix(prefix))


def _check_metadata(key: Key, metadata: Mapping[str, str]) -> None:
    for name, value in metadata.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ConfigError("metadata names and values must be str", key=key)
        if not name:
            raise ConfigError("metadata names must not be empty", key=key)


def _as_payload(data: Payload | Iterable[bytes]) -> Payload:
    if isinstance(data, BYTES_LIKE):
        return data
    if isinstance(data, str):
        raise TypeError("put takes bytes, a binary stream or an iterable of bytes, not str; encode it first")
    if isinstance(data, ReadableStream):
        return data
    if isinstance(data, Iterable):
        return IterableReader(data)
    raise TypeError(f"put cannot read a {type(data).__name__}")
