"""Conformance: writing, reading, overwriting, conditional writes and deleting single objects."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest

from satchel.errors import AlreadyExists, InvalidPath, NotFound, PreconditionFailed
from satchel.store import Store
from satchel.testing._base import StoreTests, listed_keys, requires

__all__ = ["DeleteTests", "PutGetTests"]

EVERY_BYTE = bytes(range(256)) * 4

ODD_NAMES = [
    "with space",
    "  leading and trailing  ",
    "percent%20sign",
    "percent%",
    "plus+sign",
    "semi;colon,comma",
    "question?mark",
    "hash#sign",
    "amp&equals=",
    "quote'double\"",
    "brackets[]{}()<>",
    "back\\slash",
    "at@dollar$caret^pipe|star*",
    "tilde~",
    "a.b",
    "..a",
    "a..",
    ".hidden",
    "...",
    "UPPER-lower",
    "unicode-é-ñ-ø",
    "日本語/キー",
    "emoji-🦄",
    "ελληνικά/кириллица",
]


class PutGetTests(StoreTests):
    """Writes and reads: empty, tiny, binary, large and streamed payloads; odd keys; overwrite and create."""

    def test_empty_object(self, store: Store, prefix: str) -> None:
        key = prefix + "empty"
        store.put(key, b"")
        assert store.get_bytes(key) == b""
        assert store.head(key).size == 0
        assert store.exists(key)
        assert [(m.key, m.size) for m in store.list(prefix)] == [(key, 0)]

    def test_one_byte(self, store: Store, prefix: str) -> None:
        key = prefix + "one"
        store.put(key, b"\x00")
        assert store.get_bytes(key) == b"\x00"
        assert store.head(key).size == 1

    def test_every_byte_value(self, store: Store, prefix: str) -> None:
        key = prefix + "binary"
        store.put(key, EVERY_BYTE)
        assert store.get_bytes(key) == EVERY_BYTE
        assert store.head(key).size == len(EVERY_BYTE)

    def test_bytearray_and_memoryview(self, store: Store, prefix: str) -> None:
        store.put(prefix + "ba", bytearray(b"from a bytearray"))
        store.put(prefix + "mv", memoryview(b"xx from a memoryview xx")[3:-3])
        assert store.get_bytes(prefix + "ba") == b"from a bytearray"
        assert store.get_bytes(prefix + "mv") == b"from a memoryview"

    def test_stream_and_iterable_payloads(self, store: Store, prefix: str) -> None:
        data = EVERY_BYTE * 50
        store.put(prefix + "stream", io.BytesIO(data))
        store.put(prefix + "chunks", (data[i : i + 1000] for i in range(0, len(data), 1000)))
        store.put(prefix + "no-chunks", iter([]))
        assert store.get_bytes(prefix + "stream") == data
        assert store.get_bytes(prefix + "chunks") == data
        assert store.get_bytes(prefix + "no-chunks") == b""

    def test_large_object_streams_in_chunks(self, store: Store, prefix: str) -> None:
        key = prefix + "large"
        data = (EVERY_BYTE * 3073)[: 3 * (1 << 20) + 7]  # past several body chunks
        store.put(key, io.BytesIO(data))
        result = store.get(key)
        with result.body as body:
            chunks = list(body)
        assert b"".join(chunks) == data
        assert result.meta.size == len(data)
        assert result.range == (0, len(data))
        # Whole, as get_bytes reads it, and in small odd pieces that each split a body chunk.
        assert store.get_bytes(key) == data
        with store.get(key).body as body:
            pieces = list(iter(lambda: body.read(7919), b""))
        assert all(0 < len(piece) <= 7919 for piece in pieces)
        assert b"".join(pieces) == data

    def test_str_payload_is_a_type_error(self, store: Store, prefix: str) -> None:
        with pytest.raises(TypeError):
            store.put(prefix + "text", "not bytes")  # type: ignore[arg-type]
        assert not store.exists(prefix + "text")

    @pytest.mark.parametrize("name", ODD_NAMES)
    def test_odd_keys_round_trip(self, store: Store, prefix: str, name: str) -> None:
        key = prefix + name
        store.put(key, name.encode())
        assert store.get_bytes(key) == name.encode()
        assert store.head(key).key == key
        assert listed_keys(store, prefix) == [key]

    def test_unicode_forms_are_distinct_keys(self, store: Store, prefix: str) -> None:
        nfc = prefix + unicodedata.normalize("NFC", "café")
        nfd = prefix + unicodedata.normalize("NFD", "café")
        assert nfc != nfd
        store.put(nfc, b"composed")
        assert not store.exists(nfd)
        store.put(nfd, b"decomposed")
        assert store.get_bytes(nfc) == b"composed"
        assert store.get_bytes(nfd) == b"decomposed"
        assert listed_keys(store, prefix) == sorted([nfc, nfd])

    def test_case_is_significant(self, store: Store, prefix: str) -> None:
        store.put(prefix + "Case", b"upper")
        store.put(prefix + "case", b"lower")
        assert store.get_bytes(prefix + "Case") == b"upper"
        assert store.get_bytes(prefix + "case") == b"lower"

    def test_very_long_key(self, store: Store, prefix: str) -> None:
        # Segments stay under the 255-byte file-name limit of local filesystems; the key nears 1000 bytes.
        segment = "é" * 50 + "x" * 90  # 190 UTF-8 bytes
        key = prefix + "/".join([segment] * 5)
        assert 950 < len(key.encode()) <= 1000
        store.put(key, b"long")
        assert store.get_bytes(key) == b"long"
        assert listed_keys(store, prefix) == [key]

    def test_deep_key(self, store: Store, prefix: str) -> None:
        key = prefix + "/".join(f"d{i}" for i in range(30))
        store.put(key, b"deep")
        assert store.get_bytes(key) == b"deep"
        assert listed_keys(store, prefix) == [key]

    def test_overwrite(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        first = store.put(key, b"first version")
        second = store.put(key, b"second")
        assert store.get_bytes(key) == b"second"
        assert store.head(key).size == len(b"second")
        if first.etag is not None and second.etag is not None:
            assert first.etag != second.etag
        assert listed_keys(store, prefix) == [key]

    def test_failed_stream_keeps_the_previous_version(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        store.put(key, b"the previous version", content_type="text/plain")
        with pytest.raises(_StreamBroke):
            store.put(key, _BreakingStream(b"x" * 300_000), content_type="application/octet-stream")
        assert store.get_bytes(key) == b"the previous version"
        assert store.head(key).content_type == "text/plain"
        with pytest.raises(_StreamBroke):
            store.put(prefix + "new", _BreakingStream(b"y" * 300_000))
        assert not store.exists(prefix + "new")
        assert listed_keys(store, prefix) == [key]

    def test_put_etag_matches_head(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        result = store.put(key, b"data")
        meta = store.head(key)
        if result.etag is not None:
            assert meta.etag == result.etag
            with store.get(key).body as body:
                body.read()
            assert store.get(key).meta.etag == result.etag

    def test_last_modified_is_aware_and_recent(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        store.put(key, b"data")
        modified = store.head(key).last_modified
        assert modified.tzinfo is not None
        # Generous bounds: remote services' clocks drift; this only catches wrong zones and units.
        assert abs(datetime.now(UTC) - modified) < timedelta(hours=1)

    def test_get_result(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        store.put(key, b"0123456789")
        result = store.get(key)
        with result.body as body:
            assert body.read(4) == b"0123"
            assert body.read() == b"456789"
            assert body.read() == b""
        assert result.meta.key == key
        assert result.meta.size == 10
        assert result.range == (0, 10)

    @requires("conditional_create")
    def test_create_mode(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        store.put(key, b"original", mode="create")
        with pytest.raises(AlreadyExists) as info:
            store.put(key, b"intruder", mode="create")
        assert isinstance(info.value, FileExistsError)
        assert store.get_bytes(key) == b"original"

    @requires("conditional_update")
    def test_if_match_update(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        first = store.put(key, b"v1")
        assert first.etag is not None
        second = store.put(key, b"v2", if_match=first.etag)
        assert store.get_bytes(key) == b"v2"
        assert second.etag is not None
        assert second.etag != first.etag
        with pytest.raises(PreconditionFailed):
            store.put(key, b"stale", if_match=first.etag)
        assert store.get_bytes(key) == b"v2"
        store.put(key, b"v3", mode="update", if_match=second.etag)
        assert store.get_bytes(key) == b"v3"

    @requires("conditional_update")
    def test_if_match_on_missing_key_fails(self, store: Store, prefix: str) -> None:
        key = prefix + "missing"
        with pytest.raises(PreconditionFailed):
            store.put(key, b"data", if_match='"0123456789abcdef"')
        assert not store.exists(key)

    def test_get_missing(self, store: Store, prefix: str) -> None:
        key = prefix + "missing"
        with pytest.raises(NotFound) as info:
            store.get(key)
        assert isinstance(info.value, FileNotFoundError)
        assert info.value.key == key
        with pytest.raises(NotFound):
            store.get_bytes(key)
        with pytest.raises(NotFound):
            store.head(key)
        assert not store.exists(key)

    def test_a_prefix_of_a_key_is_not_an_object(self, store: Store, prefix: str) -> None:
        store.put(prefix + "dir/file", b"x")
        assert not store.exists(prefix + "dir")
        with pytest.raises(NotFound):
            store.get_bytes(prefix + "dir")
        assert not store.exists(prefix + "dir/fil")

    @pytest.mark.parametrize("bad", ["", "/abs", "trailing/", "a//b", ".", "a/../b", "nul\x00", "tab\tkey"])
    def test_invalid_keys_are_rejected(self, store: Store, prefix: str, bad: str) -> None:
        key = bad if bad.startswith("/") or not bad else prefix + bad
        with pytest.raises(InvalidPath):
            store.put(key, b"x")
        with pytest.raises(InvalidPath):
            store.get(key)
        with pytest.raises(InvalidPath):
            store.delete(key)
        assert listed_keys(store, prefix) == []


class DeleteTests(StoreTests):
    """Deletes: missing keys are fine, conditional deletes, and batches."""

    def test_delete(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        store.put(key, b"data")
        store.delete(key)
        assert not store.exists(key)
        with pytest.raises(NotFound):
            store.get(key)
        assert listed_keys(store, prefix) == []

    def test_delete_missing_is_fine(self, store: Store, prefix: str) -> None:
        store.delete(prefix + "never-written")
        store.delete_many([prefix + "never-1", prefix + "never-2"])

    def test_delete_leaves_siblings(self, store: Store, prefix: str) -> None:
        store.put(prefix + "dir/a", b"a")
        store.put(prefix + "dir/b", b"b")
        store.put(prefix + "dir2", b"c")
        store.delete(prefix + "dir/a")
        assert listed_keys(store, prefix) == [prefix + "dir/b", prefix + "dir2"]

    def test_write_after_delete(self, store: Store, prefix: str) -> None:
        key = prefix + "dir/sub/k"
        store.put(key, b"one")
        store.delete(key)
        store.put(key, b"two")
        assert store.get_bytes(key) == b"two"
        store.delete(key)
        # Once the only object below "dir" is gone, "dir" itself can be a key, even where files and
        # prefixes cannot share a name.
        store.put(prefix + "dir", b"file now")
        assert store.get_bytes(prefix + "dir") == b"file now"

    @requires("conditional_delete")
    def test_delete_if_match(self, store: Store, prefix: str) -> None:
        key = prefix + "k"
        first = store.put(key, b"v1")
        second = store.put(key, b"v2")
        assert first.etag is not None
        assert second.etag is not None
        with pytest.raises(PreconditionFailed):
            store.delete(key, if_match=first.etag)
        assert store.get_bytes(key) == b"v2"
        store.delete(key, if_match=second.etag)
        assert not store.exists(key)

    @requires("conditional_delete")
    def test_delete_if_match_on_missing_key_fails(self, store: Store, prefix: str) -> None:
        # As HTTP's If-Match: with no current object the condition is false (RFC 9110 section 13.1.1).
        with pytest.raises(PreconditionFailed):
            store.delete(prefix + "missing", if_match='"0123456789abcdef"')

    def test_delete_many(self, store: Store, prefix: str) -> None:
        doomed = [prefix + f"doomed/{i:03d}" for i in range(25)]
        for key in doomed:
            store.put(key, key.encode())
        store.put(prefix + "keep", b"keep")
        store.delete_many([*doomed, prefix + "missing"])
        assert listed_keys(store, prefix) == [prefix + "keep"]

    def test_delete_many_generator_and_empty(self, store: Store, prefix: str) -> None:
        keys = [prefix + f"g{i}" for i in range(5)]
        for key in keys:
            store.put(key, b"x")
        store.delete_many(key for key in keys[:3])
        store.delete_many([])
        assert listed_keys(store, prefix) == keys[3:]


class _StreamBroke(Exception):
    """What a payload stream raises halfway through a put."""


class _BreakingStream(io.RawIOBase):
    """A readable stream that yields ``data`` in small reads and then fails, as a dropped upload would."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._data.read(min(size, 65536) if size >= 0 else 65536)
        if not chunk:
            raise _StreamBroke("the client went away")
        return chunk
