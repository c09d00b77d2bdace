"""MemoryBackend: objects in a dict, for tests, caches and as the reference implementation of the contract.

Thread-safe: one lock guards the dict, so conditional writes are atomic between threads of one process.
Streamed payloads are read whole (memory is where the object lives anyway); bodies serve slices of the stored
bytes without copying them.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from satchel.backend import GetResult, MultipartUpload, Payload, one_level, refuse_layer_options
from satchel.body import BytesBody
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    NotFound,
    PreconditionFailed,
)
from satchel.path import Key
from satchel.preconditions import check_get_preconditions, etag_matches
from satchel.types import (
    Attributes,
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    Part,
    PutMode,
    PutOptions,
    PutResult,
)
from satchel.unique import unique_token

__all__ = ["MemoryBackend", "MemoryConfig"]

_CAPABILITIES = Capabilities(max_delete_batch=100_000)


@dataclass(frozen=True)
class MemoryConfig:
    """Options of ``memory://`` URLs (there are none yet besides the name of a shared store)."""

    name: str = ""


@dataclass
class _Entry:
    data: bytes
    meta: ObjectMeta


@dataclass
class _Upload:
    key: Key
    options: PutOptions
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    done: bool = False


class MemoryBackend:
    """A Backend that keeps objects in process memory."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, _Entry] = {}
        self._sorted: list[str] = []

    @classmethod
    def from_config(cls, config: MemoryConfig) -> MemoryBackend:
        """Make a backend from URL options; a named store (``memory://name``) is shared within the process."""
        if not config.name:
            return cls()
        with _NAMED_LOCK:
            return _NAMED.setdefault(config.name, cls())

    @property
    def capabilities(self) -> Capabilities:
        """Everything but signing."""
        return _CAPABILITIES

    def __repr__(self) -> str:
        return f"MemoryBackend({len(self._objects)} objects)"

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Store ``payload`` under ``key`` atomically (see :meth:`satchel.backend.Backend.put`)."""
        refuse_layer_options(options, key=key, operation="put", backend=self.name)
        data = _read_all(payload)
        with self._lock:
            return self._commit(key, data, options, options.attributes)

    def _commit(self, key: Key, data: bytes, options: PutOptions, attributes: Attributes) -> PutResult:
        current = self._objects.get(key)
        if options.mode is PutMode.CREATE and current is not None:
            raise AlreadyExists("object already exists", key=key, operation="put", backend=self.name)
        if options.mode is PutMode.UPDATE and (
            current is None or options.if_match is None or not etag_matches(options.if_match, current.meta.etag)
        ):
            raise PreconditionFailed("object changed since the given etag", key=key, operation="put", backend=self.name)
        etag = unique_token()
        meta = ObjectMeta(key, len(data), etag, datetime.now(UTC), None, attributes)
        if current is None:
            bisect.insort(self._sorted, key)
        self._objects[key] = _Entry(data, meta)
        return PutResult(etag)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose parts are kept in memory until complete."""
        refuse_layer_options(options, key=key, operation="put_multipart", backend=self.name)
        return _MemoryUpload(self, _Upload(key, options))

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Return the object's metadata and a body over (a range of) its bytes."""
        with self._lock:
            entry = self._objects.get(key)
        if entry is None:
            raise NotFound("no such object", key=key, operation="get", backend=self.name)
        check_get_preconditions(entry.meta, options, backend=self.name)
        size = entry.meta.size
        if options.head:
            return GetResult(entry.meta, (0, size), BytesBody(b""))
        start, end = options.range.resolve(size) if options.range is not None else (0, size)
        view = memoryview(entry.data)[start:end] if (start, end) != (0, size) else entry.data
        return GetResult(entry.meta, (start, end), BytesBody(view))

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys``; missing keys are ignored, except by a conditional delete (PreconditionFailed)."""
        if options is not None and options.if_match is not None and len(keys) != 1:
            raise ConfigError("a conditional delete takes exactly one key")
        with self._lock:
            if options is not None and options.if_match is not None:
                entry = self._objects.get(keys[0])
                if entry is None or not etag_matches(options.if_match, entry.meta.etag):
                    raise PreconditionFailed(
                        "object missing or changed since the given etag",
                        key=keys[0],
                        operation="delete",
                        backend=self.name,
                    )
            for key in keys:
                if self._objects.pop(key, None) is not None:
                    del self._sorted[bisect.bisect_left(self._sorted, key)]

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield objects under ``prefix`` in key order, in pages of 1000 taken under the lock."""
        after = offset if offset is not None and offset >= prefix else None
        while True:
            with self._lock:
                if after is None:
                    i = bisect.bisect_left(self._sorted, prefix)
                else:
                    i = bisect.bisect_right(self._sorted, after)
                page = []
                for key in self._sorted[i : i + 1000]:
                    if not key.startswith(prefix):
                        break
                    page.append(self._objects[key].meta)
            yield from page
            if len(page) < 1000:
                return
            after = page[-1].key

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one level below ``prefix``."""
        return one_level(self.list(prefix), prefix)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst``, optionally replacing its attributes."""
        self._transfer(src, dst, options, "copy")

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst`` atomically."""
        self._transfer(src, dst, options, "rename")

    def _transfer(self, src: Key, dst: Key, options: CopyOptions, operation: str) -> None:
        with self._lock:
            entry = self._objects.get(src)
            if entry is None:
                raise NotFound("no such object", key=src, operation=operation, backend=self.name)
            if not options.overwrite and dst in self._objects:
                raise AlreadyExists("destination exists", key=dst, operation=operation, backend=self.name)
            attributes = entry.meta.attributes if options.attributes is None else options.attributes
            self._commit(dst, entry.data, PutOptions(), attributes)
            if operation == "rename" and src != dst:
                del self._objects[src]
                del self._sorted[bisect.bisect_left(self._sorted, src)]

    def close(self) -> None:
        """Nothing to release."""


class _MemoryUpload:
    def __init__(self, backend: MemoryBackend, upload: _Upload) -> None:
        self._backend = backend
        self._upload = upload

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        if number < 1:
            raise ConfigError("part numbers start at 1")
        self._check_open()
        etag = unique_token()
        self._upload.parts[number] = (etag, bytes(data))
        return Part(number, etag, len(data))

    def complete(self, parts: Sequence[Part]) -> PutResult:
        self._check_open()
        chunks = []
        for part in sorted(parts, key=lambda p: p.number):
            stored = self._upload.parts.get(part.number)
            if stored is None or stored[0] != part.etag:
                raise PreconditionFailed(
                    f"part {part.number} was not uploaded with that etag",
                    key=self._upload.key,
                    operation="complete",
                    backend=self._backend.name,
                )
            chunks.append(stored[1])
        upload = self._upload
        with self._backend._lock:
            result = self._backend._commit(upload.key, b"".join(chunks), upload.options, upload.options.attributes)
        self.abort()
        return result

    def abort(self) -> None:
        self._upload.parts.clear()
        self._upload.done = True

    def _check_open(self) -> None:
        if self._upload.done:
            raise NotFound(
                "the upload was completed or aborted",
                key=self._upload.key,
                operation="multipart",
                backend=self._backend.name,
            )


def _read_all(payload: Payload) -> bytes:
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, bytearray | memoryview):
        return bytes(payload)
    chunks = []
    while chunk := payload.read(1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


_NAMED: dict[str, MemoryBackend] = {}
_NAMED_LOCK = threading.Lock()
