"""The Backend contract: the small core every storage service implements, and the forwarding base of layers.

A backend does only what its service does natively, and says what that is in :class:`Capabilities`. Every
convenience (exists, get_bytes, upload_file, ...) lives once in :class:`satchel.Store`. Keys reaching a backend
have already been validated by :meth:`satchel.path.Key.parse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar, runtime_checkable

from satchel.body import Body, ReadableStream
from satchel.errors import InvalidPath, NotSupported
from satchel.path import Key
from satchel.types import (
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    Part,
    PutOptions,
    PutResult,
)

_T = TypeVar("_T")

__all__ = [
    "Backend",
    "ForwardingBackend",
    "ForwardingUpload",
    "GetResult",
    "MultipartUpload",
    "Payload",
    "Signer",
    "find_layer",
    "innermost",
    "one_level",
    "refuse_layer_options",
    "refuse_reserved_key",
]

Payload = bytes | bytearray | memoryview | ReadableStream
BYTES_LIKE: Final = (bytes, bytearray, memoryview)
"""The payload types held in memory, for ``isinstance``: a tuple costs a tenth of the ``X | Y`` union, which
Python builds anew at every call."""
"""What a put accepts: bytes in memory, or a stream read to its end (never buffered whole by a backend)."""


@dataclass
class GetResult:
    """The answer to a get: the object's metadata, the byte range returned, and a body to read and close."""

    meta: ObjectMeta
    range: tuple[int, int]
    body: Body


@runtime_checkable
class MultipartUpload(Protocol):
    """An upload in parts. Parts may be sent in any order; nothing is visible until :meth:`complete`."""

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Upload part ``number`` (1-based); uploading a number again replaces that part."""
        ...

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Assemble ``parts`` in order of their numbers and make the object visible atomically."""
        ...

    def abort(self) -> None:
        """Discard every uploaded part; afterwards nothing of the upload remains."""
        ...


@runtime_checkable
class Backend(Protocol):
    """The storage contract. See DESIGN.md for the meaning of each method."""

    name: str

    @property
    def capabilities(self) -> Capabilities:
        """What this backend does natively."""
        ...

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write an object atomically: readers see the old object or the new one, never a part of it.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the current etag differs (or the key is missing).
        """
        ...

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start a multipart upload of ``key``."""
        ...

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object (or only its metadata, with ``head=True``).

        Raises:
            NotFound: no such object.
            RangeNotSatisfiable: the range starts at or past the end.
            PreconditionFailed: ``if_match``/``if_unmodified_since`` does not hold.
            NotModified: ``if_none_match``/``if_modified_since`` says the caller's copy is current.
        """
        ...

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys``; a missing key is not an error. ``options`` apply to a single key only.

        Raises:
            PreconditionFailed: ``if_match`` was given and the object's etag differs.
        """
        ...

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield every object whose key starts with ``prefix``, in key order, after ``offset`` if given."""
        ...

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one ``/`` level below ``prefix``."""
        ...

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` inside this backend.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        ...

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst``; the same errors as :meth:`copy`."""
        ...

    def close(self) -> None:
        """Release connections, pools and file handles."""
        ...


@runtime_checkable
class Signer(Protocol):
    """Implemented by backends that can sign URLs natively (S3 presign, Azure SAS, GCS V4)."""

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Return a URL anyone may use with ``method`` on ``key`` for ``expires_in`` seconds."""
        ...


class ForwardingUpload:
    """A multipart upload that forwards to another; layers subclass it to change one step."""

    def __init__(self, inner: MultipartUpload) -> None:
        self.inner = inner

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Forward to the wrapped upload."""
        return self.inner.put_part(number, data)

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Forward to the wrapped upload."""
        return self.inner.complete(parts)

    def abort(self) -> None:
        """Forward to the wrapped upload."""
        self.inner.abort()


class ForwardingBackend:
    """A Backend that forwards every call to ``inner``: the base of every layer.

    A layer overrides only what it changes. A test checks that this class covers every method of
    :class:`Backend`, so a method added to the contract cannot be forgotten here.
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped backend's capabilities."""
        return self.inner.capabilities

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Forward to the wrapped backend."""
        return self.inner.put(key, payload, options)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Forward to the wrapped backend."""
        return self.inner.put_multipart(key, options)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Forward to the wrapped backend."""
        return self.inner.get(key, options)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Forward to the wrapped backend."""
        self.inner.delete(keys, options)

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Forward to the wrapped backend."""
        return self.inner.list(prefix, offset)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Forward to the wrapped backend."""
        return self.inner.list_with_delimiter(prefix)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Forward to the wrapped backend."""
        self.inner.copy(src, dst, options)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Forward to the wrapped backend."""
        self.inner.rename(src, dst, options)

    def close(self) -> None:
        """Forward to the wrapped backend."""
        self.inner.close()

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Forward to the wrapped backend if it signs natively.

        Raises:
            NotSupported: the wrapped backend cannot sign.
        """
        if not isinstance(self.inner, Signer):
            raise NotSupported("this backend cannot sign URLs", key=key, operation="sign", backend=self.name)
        return self.inner.sign(key, method, expires_in)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"


def refuse_layer_options(options: PutOptions, *, key: str, operation: str, backend: str) -> None:
    """Refuse a write whose options still carry compression or expiration, which only their layers handle.

    Raises:
        NotSupported: ``options.compression`` or ``options.expiration`` is set.
    """
    if options.compression is not None or options.expiration is not None:
        raise NotSupported(
            "compression and expiration need their layers (use satchel.open)",
            key=key,
            operation=operation,
            backend=backend,
        )


RESERVED_SEGMENT = ".satchel"
"""The first key segment that backends keeping their own files beside the objects reserve for them."""


def refuse_reserved_key(key: str, *, operation: str, backend: str) -> None:
    """Refuse a key under ``.satchel/``, where a backend keeps its temp files, parts or metadata records.

    Raises:
        InvalidPath: the key's first segment is ``.satchel``.
    """
    if key.startswith(RESERVED_SEGMENT) and key.partition("/")[0] == RESERVED_SEGMENT:
        raise InvalidPath(
            f"keys under {RESERVED_SEGMENT!r} are reserved for the backend's own files",
            key=key,
            operation=operation,
            backend=backend,
        )


def one_level(objects: Iterable[ObjectMeta], prefix: str) -> ListResult:
    """Fold a flat, key-ordered listing under ``prefix`` into one ``/`` level: objects and common prefixes."""
    found: list[ObjectMeta] = []
    prefixes: list[str] = []
    for meta in objects:
        rest = meta.key[len(prefix) :]
        slash = rest.find("/")
        if slash < 0:
            found.append(meta)
        else:
            common = prefix + rest[: slash + 1]
            if not prefixes or prefixes[-1] != common:
                prefixes.append(common)
    return ListResult(found, prefixes)


def innermost(backend: Backend) -> Backend:
    """Return the backend at the bottom of a stack of layers."""
    while isinstance(backend, ForwardingBackend):
        backend = backend.inner
    return backend


def find_layer(backend: Backend, kind: type[_T]) -> _T | None:
    """Return the outermost layer of type ``kind`` in a stack, or None."""
    current: Backend | None = backend
    while current is not None:
        if isinstance(current, kind):
            return current
        current = current.inner if isinstance(current, ForwardingBackend) else None
    return None
