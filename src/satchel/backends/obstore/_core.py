"""ObstoreBackend: the Backend contract over any obstore store (S3Store, GCSStore, AzureStore).

Subclasses only build the obstore store from their config and declare what the service can do::

    class AzureBackend(ObstoreBackend):
        @classmethod
        def from_config(cls, config: AzureConfig) -> AzureBackend:
            store = obstore.store.AzureStore(...)
            return cls(store, name="azure", capabilities=..., location="az://container @ endpoint")

Writes
    A payload of known size up to ``multipart_threshold`` is one PUT. Larger payloads, and streams that turn
    out larger, go through obstore's native multipart upload, ``part_size`` bytes a part with up to
    ``max_concurrency`` parts in flight: memory holds about ``part_size * max_concurrency`` whatever the object
    size. Conditional writes (``mode=CREATE``/``UPDATE``) are single PUTs, because obstore sends preconditions
    on plain PUTs only and holds a PUT's payload in memory: a conditional write of more than
    ``MAX_CONDITIONAL_PUT`` (64 MiB) raises ``NotSupported`` rather than holding a larger object in memory.

Reads
    ``get`` returns a body streaming obstore's chunks of about 256 KiB, smaller than the usual 1 MiB read so that
    reads hand whole chunks over without copying them again. Reading the whole body of an unstarted get (as
    ``Store.get_bytes`` does) takes a small body in one call, and writes a large one chunk by chunk into one
    ``BytesIO`` whose buffer becomes the result: one copy of the object instead of two.

Copies with new attributes
    obstore's server-side copy keeps the source's attributes. A copy that sets attributes (how the expiration
    layer bumps a time-to-idle, and how metadata is updated in place) is done as a streamed get of the source
    and a put of the destination: not server-side, and it costs the object's bytes twice over the network.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import obstore

from satchel.backend import BYTES_LIKE, GetResult, MultipartUpload, Payload, one_level, refuse_layer_options
from satchel.backends._staged import StagedUpload
from satchel.backends.obstore._attributes import from_obstore, to_obstore
from satchel.backends.obstore._errors import ErrorContext
from satchel.backends.obstore._lister import meta_from_obstore, scan
from satchel.body import Body, ReadableStream, Remainder
from satchel.errors import ConfigError, NotModified, NotSupported
from satchel.path import Key
from satchel.types import (
    Attributes,
    ByteRange,
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

if TYPE_CHECKING:
    from obstore import GetOptions as ObGetOptions
    from obstore import PutMode as ObPutMode
    from obstore.store import ObjectStore

__all__ = ["ObstoreBackend"]

DEFAULT_MULTIPART_THRESHOLD = 8 << 20
DEFAULT_PART_SIZE = 8 << 20
DEFAULT_MAX_CONCURRENCY = 8
_READALL_CHUNK = 64 << 10
# Below the usual read size, so that a read takes whole chunks, which are handed over without a copy.
_STREAM_CHUNK = 256 << 10
_READALL_AT_ONCE = 1 << 20


class ObstoreBackend:
    """A Backend over an obstore store object.

    Args:
        store: the obstore store (``S3Store``, ``GCSStore``, ``AzureStore``, ...), already configured.
        name: the backend's short name in errors (``"s3"``, ``"gcs"``, ``"azure"``).
        capabilities: what the service does natively, declared honestly; the Store refuses the rest.
        location: a description of where the objects live for reprs and errors, with no secret in it
            (``"s3://bucket @ http://127.0.0.1:9000"``).
        multipart_threshold: payloads larger than this many bytes are uploaded in parts.
        part_size: the size of each uploaded part.
        max_concurrency: how many parts of one upload are in flight at once.
        spool_dir: where out-of-order multipart parts are staged (the system's temp folder by default).
    """

    default_content_type: str | None = None
    """The content type the service reports for objects stored without one; read back as None."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        name: str,
        capabilities: Capabilities,
        location: str,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        spool_dir: str | None = None,
    ) -> None:
        if part_size < 5 << 20:
            raise ConfigError("part_size must be at least 5 MiB (the services' minimum part size)")
        if max_concurrency < 1 or multipart_threshold < 0:
            raise ConfigError("max_concurrency must be at least 1 and multipart_threshold not negative")
        self.store = store
        self.name = name
        self.location = location
        self._capabilities = capabilities
        self._threshold = multipart_threshold
        self._part_size = part_size
        self._concurrency = max_concurrency
        self._spool_dir = spool_dir

    @property
    def capabilities(self) -> Capabilities:
        """What the service does natively, as declared by the subclass."""
        return self._capabilities

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    def _errors(self, key: str | None, operation: str) -> ErrorContext:
        return ErrorContext(self.name, self.location, key, operation)

    # --- writes --------------------------------------------------------------------------------------------

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write ``payload`` under ``key``: one PUT when small, a native multipart upload when large.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the etag differs or the key is missing.
            NotSupported: layer-only options (compression, expiration) reached the backend.
        """
        self._refuse_layer_options(key, options)
        if isinstance(payload, BYTES_LIKE):
            return self._put_buffer(key, payload, options)
        # A stream of unknown length: read up to the threshold; if it ends there, it is one PUT.
        head = _read_up_to(payload, self._threshold + 1)
        if len(head) <= self._threshold:
            return self._put_buffer(key, head, options)
        rest = iter(lambda: payload.read(self._part_size), b"")
        return self._put_stream(key, itertools.chain((head,), rest), options)

    def _put_buffer(self, key: Key, data: bytes | bytearray | memoryview, options: PutOptions) -> PutResult:
        if len(data) > self._threshold and options.mode is PutMode.OVERWRITE:
            return self._put_stream(key, iter((data,)), options)
        with self._errors(key, "put"):
            result = obstore.put(
                self.store,
                key,
                data,
                attributes=to_obstore(options.attributes),
                mode=_put_mode(options),
                use_multipart=False,
            )
        return PutResult(result["e_tag"], _version(result["version"]))

    def _put_stream(self, key: Key, chunks: Iterator[bytes | bytearray | memoryview], options: PutOptions) -> PutResult:
        if options.mode is not PutMode.OVERWRITE:
            # obstore sends preconditions on single PUTs only: gather the stream (see the module docstring).
            return self._put_buffer(key, _gather_bounded(chunks, key, self.name), options)
        with self._errors(key, "put"):
            result = obstore.put(
                self.store,
                key,
                chunks,
                attributes=to_obstore(options.attributes),
                use_multipart=True,
                chunk_size=self._part_size,
                max_concurrency=self._concurrency,
            )
        return PutResult(result["e_tag"], _version(result["version"]))

    def _commit_parts(self, key: Key, options: PutOptions, chunks: Iterator[bytes], size: int) -> PutResult:
        if size <= self._threshold:
            return self._put_buffer(key, b"".join(chunks), options)
        if options.mode is not PutMode.OVERWRITE:
            return self._put_buffer(key, _gather_bounded(chunks, key, self.name), options)
        return self._put_stream(key, chunks, options)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose parts may come in any order (staged locally, see ``_multipart``)."""
        self._refuse_layer_options(key, options)
        return StagedUpload(
            key,
            self.name,
            lambda chunks, size: self._commit_parts(key, options, chunks, size),
            self._spool_dir,
        )

    def _refuse_layer_options(self, key: Key, options: PutOptions) -> None:
        refuse_layer_options(options, key=key, operation="put", backend=self.name)

    # --- reads ---------------------------------------------------------------------------------------------

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object (or only its metadata with ``head=True``), streaming its body.

        Raises:
            NotFound: no such object.
            RangeNotSatisfiable: the range starts at or past the end.
            PreconditionFailed: ``if_match``/``if_unmodified_since`` does not hold.
            NotModified: ``if_none_match``/``if_modified_since`` says the caller's copy is current.
        """
        if options.if_none_match is not None and options.if_none_match.strip() == "*":
            # "Any version exists": answered by the head itself, as services differ on If-None-Match: *.
            self.get(key, GetOptions(head=True))
            raise NotModified("the object exists (if_none_match='*')", key=key, operation="get", backend=self.name)
        request: ObGetOptions = {}
        if options.head:
            request["head"] = True
        elif options.range is not None:
            request["range"] = _range(options.range)
        if options.if_match is not None and options.if_match.strip() != "*":  # "*": any existing version
            request["if_match"] = options.if_match
        if options.if_none_match is not None:
            request["if_none_match"] = options.if_none_match
        if options.if_modified_since is not None:
            request["if_modified_since"] = options.if_modified_since
        if options.if_unmodified_since is not None:
            request["if_unmodified_since"] = options.if_unmodified_since
        errors = self._errors(key, "get")
        with errors:
            result = obstore.get(self.store, key, options=request)
            raw = result.meta
            attributes = from_obstore(result.attributes, default_content_type=self.default_content_type)
        meta = meta_from_obstore(raw, attributes)
        if options.head:
            return GetResult(meta, (0, meta.size), _EmptyBody())
        start, end = result.range
        return GetResult(meta, (start, end), _ObstoreBody(result, end - start, errors))

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield every object whose key starts with ``prefix``, in key order, lazily page by page."""
        errors = self._errors(prefix or None, "list")
        pages = scan(self.store, prefix, offset)
        while True:
            with errors:
                meta = next(pages, None)
            if meta is None:
                return
            yield meta

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one ``/`` level below ``prefix``."""
        if prefix and not prefix.endswith("/"):
            return one_level(self.list(prefix), prefix)
        with self._errors(prefix or None, "list"):
            raw = obstore.list_with_delimiter(self.store, prefix.rstrip("/") or None)
        objects = [meta_from_obstore(item) for item in raw["objects"]]
        prefixes = [common if common.endswith("/") else common + "/" for common in raw["common_prefixes"]]
        return ListResult(objects, sorted(prefixes))

    # --- deletes, copies, renames --------------------------------------------------------------------------

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` in batches (one request per thousand where the service has bulk deletes).

        Raises:
            NotSupported: a conditional delete on a backend that did not declare ``conditional_delete``.
        """
        if options is not None and options.if_match is not None:
            raise NotSupported(
                "conditional deletes are not available", key=keys[0] if keys else None, operation="delete"
            )
        if not keys:
            return
        with self._errors(keys[0] if len(keys) == 1 else None, "delete"):
            obstore.delete(self.store, list(keys))

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` server-side; with new attributes, stream it through (module docstring).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        if options.attributes is None and src == dst:
            self.get(src, GetOptions(head=True))  # a copy onto itself changes nothing, but the source must exist
            return
        if options.attributes is not None:
            self._copy_with_attributes(src, dst, options.attributes, options.overwrite)
            return
        with self._errors(src, "copy"):
            obstore.copy(self.store, src, dst, overwrite=options.overwrite)

    def _copy_with_attributes(self, src: Key, dst: Key, attributes: Attributes, overwrite: bool) -> None:
        source = self.get(src, GetOptions())
        mode = PutMode.OVERWRITE if overwrite else PutMode.CREATE
        with source.body as body:
            chunks = iter(body)
            if source.meta.size <= self._threshold or mode is not PutMode.OVERWRITE:
                self._put_buffer(dst, b"".join(chunks), PutOptions(mode=mode, attributes=attributes))
            else:
                self._put_stream(dst, chunks, PutOptions(attributes=attributes))

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` then delete ``src``: not atomic (these services have no rename).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        self.copy(src, dst, options)
        if src != dst:
            self.delete([src])

    # --- signing and housekeeping --------------------------------------------------------------------------

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Return a URL that lets anyone ``method`` ``key`` without credentials for ``expires_in`` seconds.

        Raises:
            NotSupported: this store cannot sign.
        """
        if not self._capabilities.signing:
            raise NotSupported("this backend cannot sign URLs", key=key, operation="sign", backend=self.name)
        with self._errors(key, "sign"):
            return obstore.sign(self.store, method, key, timedelta(seconds=expires_in))  # type: ignore[arg-type]

    def close(self) -> None:
        """Nothing to release explicitly: obstore's connection pool closes when the store is collected."""


class _ObstoreBody(Body):
    """A body streaming an obstore get; reading it whole before any chunk takes obstore's buffer at once."""

    def __init__(self, result: obstore.GetResult, size: int, errors: ErrorContext) -> None:
        self._result: obstore.GetResult | None = result
        self._stream: Iterator[bytes] | None = None
        self._pending = Remainder()
        self._errors = errors
        self.size = size

    def _chunks(self) -> Iterator[bytes]:
        if self._stream is None:
            assert self._result is not None
            self._stream = iter(self._result.stream(min_chunk_size=_STREAM_CHUNK))
        return self._stream

    def _read(self, n: int) -> bytes:
        while not self._pending:
            with self._errors:
                chunk = next(self._chunks(), None)
            if chunk is None:
                return b""
            self._pending = Remainder(chunk)
        return self._pending.take(n)

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("read from a closed body")
        if self._stream is None and self._result is not None:
            if self.size is not None and self.size <= _READALL_AT_ONCE:
                # One call: obstore's stream machinery costs more than copying a small body twice.
                with self._errors:
                    data = self._result.bytes().to_bytes()
                self._stream = iter(())
                return data
            # Small network chunks written into one BytesIO as they arrive: getvalue() hands over the BytesIO's
            # own buffer, so the object is copied once. Collecting obstore's buffer whole and converting it
            # copies it twice, into two fresh allocations, which costs more than the transfer itself on a
            # fast link.
            buffer = io.BytesIO()
            with self._errors:
                for chunk in self._result.stream(min_chunk_size=_READALL_CHUNK):
                    buffer.write(chunk)
            self._stream = iter(())
            return buffer.getvalue()
        return super().readall()

    def _close(self) -> None:
        self._result = None
        self._stream = None
        self._pending = Remainder()


class _EmptyBody(Body):
    size = 0

    def _read(self, n: int) -> bytes:
        return b""


MAX_CONDITIONAL_PUT = 64 << 20


def _gather_bounded(chunks: Iterator[bytes | bytearray | memoryview], key: Key, backend: str) -> bytes:
    """Join ``chunks`` for a conditional single PUT, refusing past :data:`MAX_CONDITIONAL_PUT` bytes.

    Raises:
        NotSupported: the payload is larger than a conditional write may be on this engine.
    """
    gathered = bytearray()
    for chunk in chunks:
        gathered += chunk
        if len(gathered) > MAX_CONDITIONAL_PUT:
            raise NotSupported(
                f"conditional writes (create, if_match) are single PUTs held in memory here, limited to "
                f"{MAX_CONDITIONAL_PUT >> 20} MiB; write larger objects unconditionally",
                key=key,
                operation="put",
                backend=backend,
            )
    return bytes(gathered)


def _read_up_to(stream: ReadableStream, size: int) -> bytes:
    # read(n) of a pipe or a raw file may return less than n before the end: gather until n or the end.
    chunks = []
    left = size
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _range(byte_range: ByteRange) -> tuple[int, int] | obstore.OffsetRange | obstore.SuffixRange:
    if byte_range.suffix is not None:
        return {"suffix": byte_range.suffix}
    if byte_range.end is None:
        return {"offset": byte_range.start}
    return (byte_range.start, byte_range.end)


def _put_mode(options: PutOptions) -> ObPutMode:
    if options.mode is PutMode.CREATE:
        return "create"
    if options.mode is PutMode.UPDATE:
        return {"e_tag": options.if_match}
    return "overwrite"


def _version(version: str | None) -> str | None:
    return None if version in (None, "null") else version
