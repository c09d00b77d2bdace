"""PrefixLayer: a namespace inside a backend, every key stored under a fixed prefix.

Keys given to the layer are relative to the prefix. Keys it returns (listings, common prefixes, the metadata
of a get, the ``key`` of errors) have the prefix removed, so two layers with different prefixes over one
backend never see each other's objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Literal

from satchel.backend import Backend, ForwardingBackend, ForwardingUpload, GetResult, MultipartUpload, Payload
from satchel.errors import ConfigError, InvalidPath, SatchelError
from satchel.path import Key
from satchel.types import CopyOptions, DeleteOptions, GetOptions, ListResult, ObjectMeta, Part, PutOptions, PutResult

__all__ = ["PrefixLayer"]


class PrefixLayer(ForwardingBackend):
    """A layer that stores every key under ``prefix`` in the inner backend."""

    def __init__(self, inner: Backend, prefix: str) -> None:
        """Wrap ``inner``.

        Args:
            inner: the backend that holds the namespace.
            prefix: ``""`` (no namespace) or a string ending with ``/`` whose segments are valid key segments.

        Raises:
            ConfigError: the prefix does not end with ``/`` or holds an invalid segment.
        """
        super().__init__(inner)
        if prefix and not prefix.endswith("/"):
            raise ConfigError(f"a prefix must end with '/', got {prefix!r}")
        try:
            # Every segment of a prefix ending with "/" is complete, so it must parse as a key.
            if prefix:
                Key.parse(prefix[:-1])
        except InvalidPath as err:
            raise ConfigError(f"invalid prefix {prefix!r}: {err.message}") from None
        self.prefix = prefix

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write the object under the prefix."""
        with self._callers_keys():
            return self.inner.put(self._full(key, "put"), payload, options)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload under the prefix."""
        with self._callers_keys():
            return _PrefixedUpload(self.inner.put_multipart(self._full(key, "put_multipart"), options), self)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object under the prefix; its metadata names it by the caller's key."""
        with self._callers_keys():
            result = self.inner.get(self._full(key, "get"), options)
        result.meta = self._strip_meta(result.meta)
        return result

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete the objects under the prefix."""
        with self._callers_keys():
            self.inner.delete([self._full(key, "delete") for key in keys], options)

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects under ``prefix`` inside the namespace, named by their keys relative to it."""
        inner_offset = None if offset is None else self.prefix + offset
        with self._callers_keys():
            for meta in self.inner.list(self.prefix + prefix, inner_offset):
                yield self._strip_meta(meta)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return one level below ``prefix`` inside the namespace, with keys and prefixes relative to it."""
        with self._callers_keys():
            listing = self.inner.list_with_delimiter(self.prefix + prefix)
        return ListResult(
            [self._strip_meta(meta) for meta in listing.objects],
            [common.removeprefix(self.prefix) for common in listing.common_prefixes],
        )

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy inside the namespace."""
        with self._callers_keys():
            self.inner.copy(self._full(src, "copy"), self._full(dst, "copy"), options)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move inside the namespace."""
        with self._callers_keys():
            self.inner.rename(self._full(src, "rename"), self._full(dst, "rename"), options)

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Sign a URL of the object under the prefix.

        Raises:
            NotSupported: the inner backend cannot sign.
        """
        with self._callers_keys():
            return super().sign(self._full(key, "sign"), method, expires_in)

    @contextmanager
    def _callers_keys(self) -> Iterator[None]:
        # Errors from below name the key as stored; the caller knows it without the prefix.
        try:
            yield
        except SatchelError as err:
            if err.key is not None and self.prefix:
                err.key = err.key.removeprefix(self.prefix)
            raise

    def _full(self, key: Key, operation: str) -> Key:
        if not self.prefix:
            return key
        try:
            return Key.parse(self.prefix + key)
        except InvalidPath as err:
            raise InvalidPath(err.message, key=key, operation=operation, backend=self.name) from None

    def _strip_meta(self, meta: ObjectMeta) -> ObjectMeta:
        if not self.prefix:
            return meta
        return replace(meta, key=meta.key.removeprefix(self.prefix))


class _PrefixedUpload(ForwardingUpload):
    def __init__(self, inner: MultipartUpload, layer: PrefixLayer) -> None:
        super().__init__(inner)
        self._layer = layer

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        with self._layer._callers_keys():
            return self.inner.put_part(number, data)

    def complete(self, parts: Sequence[Part]) -> PutResult:
        with self._layer._callers_keys():
            return self.inner.complete(parts)

    def abort(self) -> None:
        with self._layer._callers_keys():
            self.inner.abort()
