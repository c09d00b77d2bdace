"""Conformance: byte ranges and conditional reads."""

from __future__ import annotations

from datetime import timedelta

import pytest

from satchel.errors import NotFound, NotModified, PreconditionFailed, RangeNotSatisfiable, SatchelError
from satchel.store import Store
from satchel.testing._base import StoreTests, requires
from satchel.types import ByteRange

__all__ = ["ConditionalGetTests", "RangeTests"]

DATA = bytes(i * 7 % 251 for i in range(1000))


def _read(store: Store, key: str, byte_range: ByteRange) -> tuple[bytes, tuple[int, int], int]:
    result = store.get(key, range=byte_range)
    with result.body as body:
        return body.read(), result.range, result.meta.size


class RangeTests(StoreTests):
    """Byte ranges: bounded, from an offset, suffixes, clamping past the end, and unsatisfiable starts."""

    @pytest.fixture
    def ranged_key(self, store: Store, prefix: str) -> str:
        key = prefix + "ranged"
        store.put(key, DATA)
        return key

    @requires("ranges")
    def test_bounded(self, store: Store, ranged_key: str) -> None:
        assert _read(store, ranged_key, ByteRange.bounded(10, 20)) == (DATA[10:20], (10, 20), len(DATA))
        assert store.get_range(ranged_key, 0, 1) == DATA[:1]
        assert store.get_range(ranged_key, 999, 1000) == DATA[999:]

    @requires("ranges")
    def test_from_offset(self, store: Store, ranged_key: str) -> None:
        assert _read(store, ranged_key, ByteRange.from_offset(990)) == (DATA[990:], (990, 1000), len(DATA))
        assert store.get_range(ranged_key, 0) == DATA
        assert store.get_range(ranged_key, 500) == DATA[500:]

    @requires("ranges")
    def test_suffix(self, store: Store, ranged_key: str) -> None:
        assert _read(store, ranged_key, ByteRange.last(10)) == (DATA[-10:], (990, 1000), len(DATA))
        assert store.get_range(ranged_key, -1) == DATA[-1:]
        assert store.get_range(ranged_key, -300) == DATA[-300:]

    @requires("ranges")
    def test_end_past_eof_clamps(self, store: Store, ranged_key: str) -> None:
        assert _read(store, ranged_key, ByteRange.bounded(995, 5000)) == (DATA[995:], (995, 1000), len(DATA))
        assert store.get_range(ranged_key, 0, 10**9) == DATA

    @requires("ranges")
    def test_suffix_longer_than_object_is_whole(self, store: Store, ranged_key: str) -> None:
        assert _read(store, ranged_key, ByteRange.last(5000)) == (DATA, (0, 1000), len(DATA))
        assert store.get_range(ranged_key, -1001) == DATA

    @requires("ranges")
    @pytest.mark.parametrize("start", [1000, 1001, 10**9])
    def test_start_at_or_past_size_is_not_satisfiable(self, store: Store, ranged_key: str, start: int) -> None:
        with pytest.raises(RangeNotSatisfiable) as info:
            store.get(ranged_key, range=ByteRange.from_offset(start))
        assert isinstance(info.value, ValueError)
        with pytest.raises(RangeNotSatisfiable):
            store.get_range(ranged_key, start, start + 10)

    @requires("ranges")
    def test_range_of_empty_object(self, store: Store, prefix: str) -> None:
        key = prefix + "empty"
        store.put(key, b"")
        with pytest.raises(RangeNotSatisfiable):
            store.get_range(key, 0)
        with pytest.raises(RangeNotSatisfiable):
            store.get_range(key, -5)

    @requires("ranges")
    def test_empty_range_reads_nothing(self, store: Store, ranged_key: str) -> None:
        assert store.get_range(ranged_key, 5, 5) == b""

    @requires("ranges")
    def test_range_of_missing_object(self, store: Store, prefix: str) -> None:
        with pytest.raises(NotFound):
            store.get_range(prefix + "missing", 0, 10)

    @requires("ranges")
    def test_many_ranges_reassemble(self, store: Store, ranged_key: str) -> None:
        pieces = [store.get_range(ranged_key, start, start + 97) for start in range(0, len(DATA), 97)]
        assert b"".join(pieces) == DATA


class ConditionalGetTests(StoreTests):
    """Conditional reads: if_match, if_none_match (``*`` and etags), if_modified_since, if_unmodified_since."""

    @pytest.fixture
    def conditional_key(self, store: Store, prefix: str) -> str:
        key = prefix + "conditional"
        store.put(key, b"payload")
        return key

    def _get(self, store: Store, key: str, **conditions: object) -> bytes:
        result = store.get(key, **conditions)  # type: ignore[arg-type]
        with result.body as body:
            return body.read()

    @requires("conditional_get")
    def test_if_match(self, store: Store, conditional_key: str) -> None:
        etag = store.head(conditional_key).etag
        assert etag is not None
        assert self._get(store, conditional_key, if_match=etag) == b"payload"
        assert self._get(store, conditional_key, if_match="*") == b"payload"
        with pytest.raises(PreconditionFailed):
            self._get(store, conditional_key, if_match='"not-the-etag"')
        store.put(conditional_key, b"replaced")
        with pytest.raises(PreconditionFailed):
            self._get(store, conditional_key, if_match=etag)

    @requires("conditional_get")
    def test_if_none_match(self, store: Store, conditional_key: str) -> None:
        etag = store.head(conditional_key).etag
        assert etag is not None
        with pytest.raises(NotModified) as info:
            self._get(store, conditional_key, if_none_match=etag)
        assert not isinstance(info.value, FileNotFoundError)
        with pytest.raises(NotModified):
            self._get(store, conditional_key, if_none_match="*")
        assert self._get(store, conditional_key, if_none_match='"some-other-etag"') == b"payload"

    @requires("conditional_get")
    def test_if_modified_since(self, store: Store, conditional_key: str) -> None:
        modified = store.head(conditional_key).last_modified
        with pytest.raises(NotModified):
            self._get(store, conditional_key, if_modified_since=modified)
        with pytest.raises(NotModified):
            self._get(store, conditional_key, if_modified_since=modified + timedelta(hours=1))
        assert self._get(store, conditional_key, if_modified_since=modified - timedelta(minutes=5)) == b"payload"

    @requires("conditional_get")
    def test_if_unmodified_since(self, store: Store, conditional_key: str) -> None:
        modified = store.head(conditional_key).last_modified
        assert self._get(store, conditional_key, if_unmodified_since=modified) == b"payload"
        assert self._get(store, conditional_key, if_unmodified_since=modified + timedelta(hours=1)) == b"payload"
        with pytest.raises(PreconditionFailed):
            self._get(store, conditional_key, if_unmodified_since=modified - timedelta(minutes=5))

    @requires("conditional_get")
    def test_conditions_on_missing_object(self, store: Store, prefix: str) -> None:
        key = prefix + "missing"
        with pytest.raises(SatchelError) as info:
            self._get(store, key, if_match="*")
        assert isinstance(info.value, NotFound | PreconditionFailed)
        with pytest.raises(NotFound):
            self._get(store, key, if_none_match="*")

    @requires("conditional_get", "ranges")
    def test_if_match_with_range(self, store: Store, conditional_key: str) -> None:
        etag = store.head(conditional_key).etag
        assert etag is not None
        result = store.get(conditional_key, range=ByteRange.bounded(1, 4), if_match=etag)
        with result.body as body:
            assert body.read() == b"ayl"
        store.put(conditional_key, b"changed!")
        with pytest.raises(PreconditionFailed):
            store.get(conditional_key, range=ByteRange.bounded(1, 4), if_match=etag)
