"""Conformance: declared capabilities are enforced before any I/O, and ``file_and_prefix`` is honest."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import pytest

from satchel.backend import Backend, ForwardingBackend, GetResult, MultipartUpload, Payload
from satchel.errors import InvalidPath, NotSupported
from satchel.path import Key
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys, requires_no_layer
from satchel.types import (
    TTL,
    ByteRange,
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutOptions,
    PutResult,
)

__all__ = ["CapabilityTests", "RecordingBackend"]


class RecordingBackend(ForwardingBackend):
    """A layer that records the name of every call reaching it, and may declare fewer capabilities.

    ``calls`` lists the Backend methods called, in order; ``without`` names capabilities to report as False.
    """

    def __init__(self, inner: Backend, *without: str) -> None:
        super().__init__(inner)
        self.calls: list[str] = []
        self._capabilities = dataclasses.replace(inner.capabilities, **dict.fromkeys(without, False))

    @property
    def capabilities(self) -> Capabilities:
        """The wrapped backend's capabilities minus those named at construction."""
        return self._capabilities

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Record and forward."""
        self.calls.append("put")
        return super().put(key, payload, options)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Record and forward."""
        self.calls.append("put_multipart")
        return super().put_multipart(key, options)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Record and forward."""
        self.calls.append("get")
        return super().get(key, options)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Record and forward."""
        self.calls.append("delete")
        super().delete(keys, options)

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Record and forward."""
        self.calls.append("list")
        return super().list(prefix, offset)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Record and forward."""
        self.calls.append("list_with_delimiter")
        return super().list_with_delimiter(prefix)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Record and forward."""
        self.calls.append("copy")
        super().copy(src, dst, options)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Record and forward."""
        self.calls.append("rename")
        super().rename(src, dst, options)

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Record and forward."""
        self.calls.append("sign")
        return super().sign(key, method, expires_in)


_Call = Callable[[Store, str], object]

# Each capability a Store checks, with a call that needs it.
GUARDED: dict[str, list[_Call]] = {
    "conditional_create": [lambda s, k: s.put(k, b"x", mode="create")],
    "conditional_update": [
        lambda s, k: s.put(k, b"x", if_match='"etag"'),
        lambda s, k: s.put(k, b"x", mode="update", if_match='"etag"'),
    ],
    "conditional_delete": [lambda s, k: s.delete(k, if_match='"etag"')],
    "conditional_get": [
        lambda s, k: s.get(k, if_match='"etag"'),
        lambda s, k: s.get(k, if_none_match="*"),
    ],
    "ranges": [lambda s, k: s.get(k, range=ByteRange.bounded(0, 1)), lambda s, k: s.get_range(k, 1)],
    "attributes": [
        lambda s, k: s.put(k, b"x", content_type="text/plain"),
        lambda s, k: s.put(k, b"x", metadata={"a": "b"}),
    ],
    "copy": [lambda s, k: s.copy(k, k + "-copy")],
    "copy_if_not_exists": [lambda s, k: s.copy(k, k + "-copy", overwrite=False)],
    "multipart": [lambda s, k: s.put_multipart(k)],
    "signing": [lambda s, k: s.sign(k)],
}


class CapabilityTests(StoreTests):
    """A capability declared missing raises NotSupported before any I/O; layer options need their layer;
    keys and prefixes sharing a name behave as ``file_and_prefix`` declares."""

    @pytest.mark.parametrize("capability", sorted(GUARDED))
    def test_missing_capability_raises_before_io(self, store: Store, prefix: str, capability: str) -> None:
        key = prefix + "guarded"
        store.put(key, b"present")
        recorder = RecordingBackend(store.backend, capability)
        restricted = Store(recorder)
        for call in GUARDED[capability]:
            with pytest.raises(NotSupported):
                call(restricted, key)
            assert recorder.calls == [], f"{capability}: I/O happened before NotSupported"
        assert store.get_bytes(key) == b"present"
        assert listed_keys(store, prefix) == [key]

    def test_rename_missing_falls_back_to_copy(self, store: Store, prefix: str) -> None:
        if not store.backend.capabilities.copy:
            pytest.skip("the backend can neither rename nor copy")
        store.put(prefix + "src", b"data")
        recorder = RecordingBackend(store.backend, "rename")
        Store(recorder).move(prefix + "src", prefix + "dst")
        assert "rename" not in recorder.calls
        assert "copy" in recorder.calls
        assert listed_keys(store, prefix) == [prefix + "dst"]

    def test_sign_without_signing(self, store: Store, prefix: str) -> None:
        if store.backend.capabilities.signing:
            pytest.skip("the backend signs")
        with pytest.raises(NotSupported):
            store.sign(prefix + "k")

    @requires_no_layer("compression")
    def test_compress_needs_the_layer(self, store: Store, prefix: str) -> None:
        with pytest.raises(NotSupported):
            store.put(prefix + "k", b"x", compress="zstd")
        assert not store.exists(prefix + "k")

    @requires_no_layer("expiration")
    def test_expires_needs_the_layer(self, store: Store, prefix: str) -> None:
        with pytest.raises(NotSupported):
            store.put(prefix + "k", b"x", expires=TTL(60))
        assert not store.exists(prefix + "k")
        with pytest.raises(NotSupported):
            store.sweep(prefix)

    def test_file_and_prefix(self, store: Store, prefix: str) -> None:
        store.put(prefix + "a", b"file")
        store.put(prefix + "d/x", b"inside")
        if store.backend.capabilities.file_and_prefix:
            store.put(prefix + "a/b", b"below a file")
            store.put(prefix + "d", b"beside a prefix")
            assert store.get_bytes(prefix + "a") == b"file"
            assert store.get_bytes(prefix + "a/b") == b"below a file"
            assert store.get_bytes(prefix + "d") == b"beside a prefix"
            expected = [prefix + k for k in ("a", "a/b", "d", "d/x")]
        else:
            with pytest.raises(InvalidPath) as info:
                store.put(prefix + "a/b", b"below a file")
            assert isinstance(info.value, ValueError)
            with pytest.raises(InvalidPath):
                store.put(prefix + "a/b/c", b"deeper below a file")
            with pytest.raises(InvalidPath):
                store.put(prefix + "d", b"beside a prefix")
            assert store.get_bytes(prefix + "a") == b"file"
            assert not store.exists(prefix + "d")
            expected = [prefix + "a", prefix + "d/x"]
        assert listed_keys(store, prefix) == expected

    def test_file_and_prefix_on_copy(self, store: Store, prefix: str) -> None:
        if store.backend.capabilities.file_and_prefix or not store.backend.capabilities.copy:
            pytest.skip("only where keys and prefixes cannot share a name")
        store.put(prefix + "a", b"file")
        store.put(prefix + "d/x", b"inside")
        with pytest.raises(InvalidPath):
            store.copy(prefix + "a", prefix + "d")
        with pytest.raises(InvalidPath):
            store.move(prefix + "d/x", prefix + "a/x")
        assert listed_keys(store, prefix) == [prefix + "a", prefix + "d/x"]
