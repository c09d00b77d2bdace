"""Conformance: multipart uploads, copies and moves."""

from __future__ import annotations

import pytest

from satchel.errors import AlreadyExists, NotFound, SatchelError
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys, requires
from satchel.types import Part

__all__ = ["CopyMoveTests", "MultipartTests"]


def _require_move(store: Store, *, atomic_refusal: bool = False) -> None:
    caps = store.backend.capabilities
    if not (caps.rename or caps.copy):
        pytest.skip("the backend can neither rename nor copy")
    if atomic_refusal and not (caps.rename or caps.copy_if_not_exists):
        pytest.skip("the backend cannot move only-if-absent")


def _part_size(store: Store) -> int:
    return max(store.backend.capabilities.min_part_size, 4096)


class MultipartTests(StoreTests):
    """Multipart uploads: parts in any order, replaced parts, invisible until complete, abort, bad etags."""

    @requires("multipart")
    def test_out_of_order_parts(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        size = _part_size(store)
        one, two, three = b"\x01" * size, bytes(range(256)) * (size // 256), b"tail"
        upload = store.put_multipart(key)
        p3 = upload.put_part(3, three)
        p1 = upload.put_part(1, one)
        p2 = upload.put_part(2, memoryview(two))
        assert (p1.number, p2.number, p3.number) == (1, 2, 3)
        assert not store.exists(key)
        assert listed_keys(store, prefix) == []
        result = upload.complete([p2, p3, p1])
        assert store.get_bytes(key) == one + two + three
        meta = store.head(key)
        assert meta.size == len(one + two + three)
        if result.etag is not None:
            assert meta.etag == result.etag

    @requires("multipart")
    def test_reuploaded_part_replaces(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        size = _part_size(store)
        upload = store.put_multipart(key)
        upload.put_part(1, b"a" * size)
        p1 = upload.put_part(1, b"b" * size)
        p2 = upload.put_part(2, b"end")
        upload.complete([p1, p2])
        assert store.get_bytes(key) == b"b" * size + b"end"

    @requires("multipart")
    def test_previous_version_visible_until_complete(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        store.put(key, b"old")
        upload = store.put_multipart(key)
        part = upload.put_part(1, b"new")
        assert store.get_bytes(key) == b"old"
        upload.complete([part])
        assert store.get_bytes(key) == b"new"

    @requires("multipart")
    def test_abort_leaves_nothing(self, store: Store, prefix: str) -> None:
        size = _part_size(store)
        fresh = store.put_multipart(prefix + "fresh")
        fresh.put_part(1, b"x" * size)
        fresh.put_part(2, b"y")
        fresh.abort()
        assert not store.exists(prefix + "fresh")
        store.put(prefix + "kept", b"previous")
        replacing = store.put_multipart(prefix + "kept")
        replacing.put_part(1, b"z" * size)
        replacing.abort()
        assert store.get_bytes(prefix + "kept") == b"previous"
        assert listed_keys(store, prefix) == [prefix + "kept"]

    @requires("multipart")
    def test_wrong_part_etag_fails(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        upload = store.put_multipart(key)
        real = upload.put_part(1, b"data")
        with pytest.raises(SatchelError):
            upload.complete([Part(1, real.etag + "0" if real.etag else "bogus", real.size)])
        assert not store.exists(key)
        upload.abort()
        assert listed_keys(store, prefix) == []

    @requires("multipart")
    def test_missing_part_fails(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        upload = store.put_multipart(key)
        real = upload.put_part(1, b"data")
        with pytest.raises(SatchelError):
            upload.complete([real, Part(2, real.etag, real.size)])
        assert not store.exists(key)
        upload.abort()

    @requires("multipart", "attributes")
    def test_multipart_attributes(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        upload = store.put_multipart(key, content_type="text/csv", metadata={"origin": "multipart ✓"})
        upload.complete([upload.put_part(1, b"a,b\n")])
        meta = store.head(key)
        assert meta.content_type == "text/csv"
        assert dict(meta.metadata) == {"origin": "multipart ✓"}

    @requires("multipart", "conditional_create")
    def test_multipart_create_mode(self, store: Store, prefix: str) -> None:
        key = prefix + "mp"
        store.put(key, b"first")

        def create() -> None:
            # Where the check happens (at the start or on complete) is the backend's choice.
            upload = store.put_multipart(key, mode="create")
            upload.complete([upload.put_part(1, b"second")])

        with pytest.raises(AlreadyExists):
            create()
        assert store.get_bytes(key) == b"first"


class CopyMoveTests(StoreTests):
    """Copies and moves: contents and attributes travel, ``overwrite=False`` refuses, missing sources."""

    @requires("copy")
    def test_copy(self, store: Store, prefix: str) -> None:
        store.put(prefix + "src", b"contents")
        store.copy(prefix + "src", prefix + "dir/dst")
        assert store.get_bytes(prefix + "dir/dst") == b"contents"
        assert store.get_bytes(prefix + "src") == b"contents"
        store.put(prefix + "src", b"changed")
        assert store.get_bytes(prefix + "dir/dst") == b"contents"

    @requires("copy", "attributes")
    def test_copy_keeps_attributes(self, store: Store, prefix: str) -> None:
        store.put(prefix + "src", b"{}", content_type="application/json", metadata={"who": "zoë"})
        store.copy(prefix + "src", prefix + "dst")
        meta = store.head(prefix + "dst")
        assert meta.content_type == "application/json"
        assert dict(meta.metadata) == {"who": "zoë"}

    @requires("copy")
    def test_copy_overwrites_by_default(self, store: Store, prefix: str) -> None:
        store.put(prefix + "src", b"new")
        store.put(prefix + "dst", b"old contents")
        store.copy(prefix + "src", prefix + "dst")
        assert store.get_bytes(prefix + "dst") == b"new"
        assert store.head(prefix + "dst").size == 3

    @requires("copy", "copy_if_not_exists")
    def test_copy_without_overwrite(self, store: Store, prefix: str) -> None:
        store.put(prefix + "src", b"new")
        store.put(prefix + "dst", b"old")
        with pytest.raises(AlreadyExists):
            store.copy(prefix + "src", prefix + "dst", overwrite=False)
        assert store.get_bytes(prefix + "dst") == b"old"
        store.copy(prefix + "src", prefix + "fresh", overwrite=False)
        assert store.get_bytes(prefix + "fresh") == b"new"

    @requires("copy")
    def test_copy_missing_source(self, store: Store, prefix: str) -> None:
        with pytest.raises(NotFound):
            store.copy(prefix + "missing", prefix + "dst")
        assert not store.exists(prefix + "dst")

    @requires("copy")
    def test_copy_onto_itself(self, store: Store, prefix: str) -> None:
        store.put(prefix + "same", b"unchanged")
        store.copy(prefix + "same", prefix + "same")
        assert store.get_bytes(prefix + "same") == b"unchanged"

    def test_move(self, store: Store, prefix: str) -> None:
        _require_move(store)
        store.put(prefix + "src", b"moving")
        store.move(prefix + "src", prefix + "elsewhere/dst")
        assert store.get_bytes(prefix + "elsewhere/dst") == b"moving"
        assert not store.exists(prefix + "src")
        assert listed_keys(store, prefix) == [prefix + "elsewhere/dst"]

    @requires("attributes")
    def test_move_keeps_attributes(self, store: Store, prefix: str) -> None:
        _require_move(store)
        store.put(prefix + "src", b"x", content_type="text/plain", metadata={"k": "v"})
        store.move(prefix + "src", prefix + "dst")
        meta = store.head(prefix + "dst")
        assert meta.content_type == "text/plain"
        assert dict(meta.metadata) == {"k": "v"}

    def test_move_over_existing(self, store: Store, prefix: str) -> None:
        _require_move(store)
        store.put(prefix + "src", b"new")
        store.put(prefix + "dst", b"old and longer")
        store.move(prefix + "src", prefix + "dst")
        assert store.get_bytes(prefix + "dst") == b"new"
        assert listed_keys(store, prefix) == [prefix + "dst"]

    def test_move_without_overwrite(self, store: Store, prefix: str) -> None:
        _require_move(store, atomic_refusal=True)
        store.put(prefix + "src", b"new")
        store.put(prefix + "dst", b"old")
        with pytest.raises(AlreadyExists):
            store.move(prefix + "src", prefix + "dst", overwrite=False)
        assert store.get_bytes(prefix + "dst") == b"old"
        assert store.get_bytes(prefix + "src") == b"new"
        store.move(prefix + "src", prefix + "fresh", overwrite=False)
        assert listed_keys(store, prefix) == [prefix + "dst", prefix + "fresh"]

    def test_move_missing_source(self, store: Store, prefix: str) -> None:
        _require_move(store)
        with pytest.raises(NotFound):
            store.move(prefix + "missing", prefix + "dst")
        assert listed_keys(store, prefix) == []

    def test_move_onto_itself(self, store: Store, prefix: str) -> None:
        _require_move(store)
        store.put(prefix + "same", b"unchanged")
        store.move(prefix + "same", prefix + "same")
        assert store.get_bytes(prefix + "same") == b"unchanged"
