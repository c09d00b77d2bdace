"""Conformance: object attributes (content headers and custom metadata)."""

from __future__ import annotations

import pytest

from satchel.errors import ConfigError
from satchel.store import Store
from satchel.testing._base import StoreTests, requires
from satchel.types import ObjectMeta

__all__ = ["AttributeTests"]

HEADERS = {
    "content_type": "text/plain; charset=utf-8",
    "content_encoding": "gzip",
    "content_disposition": 'attachment; filename="report.txt"',
    "content_language": "fr-CA",
    "cache_control": "max-age=60, must-revalidate",
}
# Names are lowercase (S3 and HTTP headers do not keep the case of names); values keep theirs.
METADATA = {"owner": "Zoë", "note": "日本語 ✓ 🦄", "inner-spaces": "a b  C", "punct": "a=b;c,d:e"}


def _check(meta: ObjectMeta) -> None:
    attributes = meta.attributes
    for name, value in HEADERS.items():
        assert getattr(attributes, name) == value, name
    assert dict(meta.metadata) == METADATA


class AttributeTests(StoreTests):
    """Attributes: content headers and Unicode metadata round-trip through head, get and list."""

    @pytest.fixture
    def attributed_key(self, store: Store, prefix: str) -> str:
        key = prefix + "with-attributes"
        store.put(
            key,
            b"body",
            metadata=METADATA,
            content_type=HEADERS["content_type"],
            content_encoding=HEADERS["content_encoding"],
            content_disposition=HEADERS["content_disposition"],
            content_language=HEADERS["content_language"],
            cache_control=HEADERS["cache_control"],
        )
        return key

    @requires("attributes")
    def test_attributes_via_head(self, store: Store, attributed_key: str) -> None:
        _check(store.head(attributed_key))
        assert store.head(attributed_key).content_type == HEADERS["content_type"]

    @requires("attributes")
    def test_attributes_via_get(self, store: Store, attributed_key: str) -> None:
        result = store.get(attributed_key)
        with result.body as body:
            assert body.read() == b"body"
        _check(result.meta)

    @requires("attributes", "list_attributes")
    def test_attributes_via_list(self, store: Store, prefix: str, attributed_key: str) -> None:
        (meta,) = store.list(prefix)
        _check(meta)
        (listed,) = store.list_with_delimiter(prefix).objects
        _check(listed)

    @requires("attributes")
    def test_overwrite_replaces_attributes(self, store: Store, attributed_key: str) -> None:
        store.put(attributed_key, b"plain")
        meta = store.head(attributed_key)
        assert meta.content_type is None
        assert meta.attributes.cache_control is None
        assert dict(meta.metadata) == {}
        store.put(attributed_key, b"other", metadata={"only": "this"})
        assert dict(store.head(attributed_key).metadata) == {"only": "this"}
        assert store.head(attributed_key).content_type is None

    @requires("attributes")
    def test_no_attributes(self, store: Store, prefix: str) -> None:
        store.put(prefix + "bare", b"x")
        meta = store.head(prefix + "bare")
        assert dict(meta.metadata) == {}
        assert meta.attributes.content_disposition is None
        assert meta.attributes.content_encoding is None

    @requires("attributes")
    def test_empty_object_with_attributes(self, store: Store, prefix: str) -> None:
        store.put(prefix + "empty", b"", content_type="application/x-empty", metadata={"a": "b"})
        meta = store.head(prefix + "empty")
        assert (meta.size, meta.content_type, dict(meta.metadata)) == (0, "application/x-empty", {"a": "b"})

    @requires("attributes")
    def test_streamed_put_with_attributes(self, store: Store, prefix: str) -> None:
        store.put(prefix + "streamed", iter([b"a", b"b"]), content_type="text/x-streamed", metadata={"s": "1"})
        meta = store.head(prefix + "streamed")
        assert (meta.content_type, dict(meta.metadata)) == ("text/x-streamed", {"s": "1"})

    def test_metadata_must_be_strings(self, store: Store, prefix: str) -> None:
        with pytest.raises(ConfigError):
            store.put(prefix + "k", b"x", metadata={"n": 1})  # type: ignore[dict-item]
        with pytest.raises(ConfigError):
            store.put(prefix + "k", b"x", metadata={"": "empty name"})
        assert not store.exists(prefix + "k")
