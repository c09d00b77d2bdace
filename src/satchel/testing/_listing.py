"""Conformance: flat listings (plain string prefixes, order, offsets, pagination) and one-level listings."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from satchel.errors import InvalidPath
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys

__all__ = ["ListingTests"]

# Valid together even where a key cannot also be a "directory" (file_and_prefix=False). "-" and "." sort
# before "/", so a listing that walks directories depth-first gets this order wrong.
TREE = [
    "a/b-x",
    "a/b.x",
    "a/b/c",
    "a/b/d/e",
    "a/b0",
    "a/bc",
    "a/c",
    "ab",
    "b",
    "Z",
    "é",
    "~",
]


class ListingTests(StoreTests):
    """Listings: string prefixes (``a/b`` lists ``a/bc``), key order, exclusive offsets, pagination past
    1000 keys, and ``list_with_delimiter``.

    The pagination test writes :meth:`many_keys` objects; override that fixture to return 0 for a backend
    where this is too slow (the test is then skipped).
    """

    @pytest.fixture
    def many_keys(self) -> int:
        """How many objects the pagination test writes (0 skips it)."""
        return 1100

    @pytest.fixture
    def tree(self, store: Store, prefix: str) -> list[str]:
        keys = [prefix + name for name in TREE]
        for key in keys:
            store.put(key, key.encode())
        return keys

    def test_lists_everything_under_prefix_in_order(self, store: Store, prefix: str, tree: list[str]) -> None:
        assert listed_keys(store, prefix) == sorted(tree)

    def test_listing_is_an_iterator(self, store: Store, prefix: str, tree: list[str]) -> None:
        listing = store.list(prefix)
        assert isinstance(listing, Iterator)
        assert next(listing).key == min(tree)

    def test_entries_carry_size_and_etag(self, store: Store, prefix: str) -> None:
        result = store.put(prefix + "sized", b"12345")
        (meta,) = store.list(prefix)
        assert (meta.key, meta.size) == (prefix + "sized", 5)
        if result.etag is not None:
            assert meta.etag == result.etag
        assert meta.last_modified.tzinfo is not None

    def test_prefix_is_a_plain_string(self, store: Store, prefix: str, tree: list[str]) -> None:
        expected = [prefix + name for name in ("a/b-x", "a/b.x", "a/b/c", "a/b/d/e", "a/b0", "a/bc")]
        assert listed_keys(store, prefix + "a/b") == expected
        assert listed_keys(store, prefix + "a/b/") == [prefix + "a/b/c", prefix + "a/b/d/e"]
        assert listed_keys(store, prefix + "a") == sorted(k for k in tree if k.startswith(prefix + "a"))
        assert listed_keys(store, prefix + "a/b/c") == [prefix + "a/b/c"]
        assert listed_keys(store, prefix + "a/b/d/e") == [prefix + "a/b/d/e"]

    def test_prefix_matching_nothing(self, store: Store, prefix: str, tree: list[str]) -> None:
        assert listed_keys(store, prefix + "nothing") == []
        assert listed_keys(store, prefix + "a/b/c/") == []
        assert listed_keys(store, prefix + "a/bz") == []

    def test_dot_prefix_is_allowed(self, store: Store, prefix: str) -> None:
        store.put(prefix + ".hidden", b"x")
        store.put(prefix + "..also", b"y")
        assert listed_keys(store, prefix + ".") == [prefix + "..also", prefix + ".hidden"]
        assert listed_keys(store, prefix + "..") == [prefix + "..also"]

    def test_empty_prefix_lists_everything(self, store: Store, prefix: str, tree: list[str]) -> None:
        everything = listed_keys(store, "")
        assert everything == sorted(everything)
        assert [key for key in everything if key.startswith(prefix)] == sorted(tree)

    def test_offset_is_exclusive(self, store: Store, prefix: str, tree: list[str]) -> None:
        ordered = sorted(tree)
        for i, offset in enumerate(ordered):
            listing = [meta.key for meta in store.list(prefix, offset=offset)]
            assert listing == ordered[i + 1 :]

    def test_offset_between_keys(self, store: Store, prefix: str, tree: list[str]) -> None:
        ordered = sorted(tree)
        offset = prefix + "a/b/c0"  # not a key: falls between a/b/c and a/b/d/e
        assert [m.key for m in store.list(prefix, offset=offset)] == [k for k in ordered if k > offset]
        assert [m.key for m in store.list(prefix, offset=prefix)] == ordered
        assert [m.key for m in store.list(prefix, offset=prefix + "\uffff")] == []
        assert [m.key for m in store.list(prefix + "a/", offset=prefix + "a/b0")] == [
            prefix + "a/bc",
            prefix + "a/c",
        ]

    def test_offset_before_prefix(self, store: Store, prefix: str, tree: list[str]) -> None:
        assert [m.key for m in store.list(prefix + "a/b/", offset=prefix + "a")] == [
            prefix + "a/b/c",
            prefix + "a/b/d/e",
        ]

    def test_invalid_prefix(self, store: Store) -> None:
        with pytest.raises(InvalidPath):
            list(store.list("/abs"))
        with pytest.raises(InvalidPath):
            list(store.list("a//b"))
        with pytest.raises(InvalidPath):
            store.list_with_delimiter("/")
        with pytest.raises(InvalidPath):
            store.list_with_delimiter("a/../")

    def test_pagination_past_a_thousand_keys(self, store: Store, prefix: str, many_keys: int) -> None:
        if many_keys <= 0:
            pytest.skip("pagination test disabled for this store")
        keys = [prefix + f"many/{i:05d}" for i in range(many_keys)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda key: store.put(key, b"."), keys))
        assert listed_keys(store, prefix) == keys
        assert [m.key for m in store.list(prefix, offset=keys[999])] == keys[1000:]
        assert [m.key for m in store.list(prefix + "many/0", offset=keys[5])] == [
            k for k in keys[6:] if k.startswith(prefix + "many/0")
        ]
        # Deleting while iterating a lazy listing must not skip or repeat keys already yielded.
        seen = []
        for meta in store.list(prefix):
            seen.append(meta.key)
            if len(seen) == 500:
                store.delete_many(keys[:400])
        assert seen == keys
        assert listed_keys(store, prefix) == keys[400:]

    def test_list_with_delimiter(self, store: Store, prefix: str, tree: list[str]) -> None:
        top = store.list_with_delimiter(prefix)
        assert [m.key for m in top.objects] == [prefix + n for n in ("Z", "ab", "b", "~", "é")]
        assert top.common_prefixes == [prefix + "a/"]
        level = store.list_with_delimiter(prefix + "a/")
        assert [m.key for m in level.objects] == [prefix + n for n in ("a/b-x", "a/b.x", "a/b0", "a/bc", "a/c")]
        assert level.common_prefixes == [prefix + "a/b/"]
        deeper = store.list_with_delimiter(prefix + "a/b/")
        assert [m.key for m in deeper.objects] == [prefix + "a/b/c"]
        assert deeper.common_prefixes == [prefix + "a/b/d/"]
        sizes = {m.key: m.size for m in level.objects}
        assert sizes[prefix + "a/c"] == len((prefix + "a/c").encode())

    def test_list_with_delimiter_partial_segment(self, store: Store, prefix: str, tree: list[str]) -> None:
        result = store.list_with_delimiter(prefix + "a/b")
        assert [m.key for m in result.objects] == [prefix + n for n in ("a/b-x", "a/b.x", "a/b0", "a/bc")]
        assert result.common_prefixes == [prefix + "a/b/"]
        mixed = store.list_with_delimiter(prefix + "a")
        assert [m.key for m in mixed.objects] == [prefix + "ab"]
        assert mixed.common_prefixes == [prefix + "a/"]
        only_dirs = store.list_with_delimiter(prefix + "a/b/d")
        assert (only_dirs.objects, only_dirs.common_prefixes) == ([], [prefix + "a/b/d/"])

    def test_list_with_delimiter_of_nothing(self, store: Store, prefix: str, tree: list[str]) -> None:
        result = store.list_with_delimiter(prefix + "nothing/")
        assert (result.objects, result.common_prefixes) == ([], [])
        exact = store.list_with_delimiter(prefix + "ab")
        assert [m.key for m in exact.objects] == [prefix + "ab"]
        assert exact.common_prefixes == []

    def test_list_with_delimiter_of_whole_store(self, store: Store, prefix: str, tree: list[str]) -> None:
        assert prefix in store.list_with_delimiter("").common_prefixes
