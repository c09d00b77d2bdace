"""Keys: what Key.parse rejects and accepts, what from_parts encodes, and exact round trips."""

from __future__ import annotations

import secrets
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import satchel
from satchel.errors import InvalidPath
from satchel.path import Key, validate_prefix

REJECTED = [
    "",
    "/",
    "/a",
    "a/",
    "a//b",
    ".",
    "..",
    "./a",
    "a/.",
    "a/./b",
    "a/../b",
    "../a",
    "a\x00b",
    "\x00",
    "a\x01",
    "tab\there",
    "new\nline",
    "del\x7f",
    "c1\x85control",
    "lone\ud800surrogate",
    "x" * 1025,
    "é" * 512 + "x",
    "a/" + "b" * 1023,
]

ACCEPTED = [
    "a",
    "a/b/c",
    "日本語/キー",
    "emoji 🦄",
    "with space",
    " leading",
    "trailing ",
    "100%",
    "%2F",
    "a+b",
    "a.b",
    "..a",
    "a..",
    "...",
    ".hidden/.also",
    "back\\slash",
    "x" * 1024,
    "é" * 512,
    "a/" + "b" * 1022,
]


@pytest.mark.parametrize("value", REJECTED)
def test_parse_rejects(value: str) -> None:
    with pytest.raises(InvalidPath) as info:
        Key.parse(value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("value", ACCEPTED)
def test_parse_accepts(value: str) -> None:
    key = Key.parse(value)
    assert key == value
    assert isinstance(key, Key)
    assert Key.parse(key) is key
    assert "/".join(key.parts) == value


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidPath):
        Key.parse(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InvalidPath):
        Key.parse(None)  # type: ignore[arg-type]


def test_key_properties() -> None:
    key = Key.parse("a/b/c.txt")
    assert key.parts == ("a", "b", "c.txt")
    assert key.name == "c.txt"
    assert key.parent == "a/b"
    assert Key.parse("top").parent == ""


def test_from_parts_encodes() -> None:
    key = Key.from_parts("a/b", "100%", ".", "..", "ctl\x01", "ok é")
    assert key == "a%2Fb/100%25/%2E/%2E%2E/ctl%01/ok é"
    assert [unquote(part) for part in key.parts] == ["a/b", "100%", ".", "..", "ctl\x01", "ok é"]
    assert Key.from_parts("...") == "..."
    assert Key.from_parts("%2F") == "%252F"


def test_from_parts_errors() -> None:
    with pytest.raises(InvalidPath):
        Key.from_parts()
    with pytest.raises(InvalidPath):
        Key.from_parts("a", "")
    with pytest.raises(InvalidPath):
        Key.from_parts("x" * 1025)


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5))
def test_from_parts_always_parses_and_splits_back(parts: list[str]) -> None:
    key = Key.from_parts(*parts)
    assert Key.parse(key) == key
    assert [unquote(part) for part in key.parts] == parts


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "a/b/", "a/.", "a/..", ".", "..", ".hid", "é/"])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize("prefix", ["/", "/a", "a//", "a//b", "a\x00", "./", "../", "a/./", "a/../", "a/../b"])
def test_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(InvalidPath):
        validate_prefix(prefix)


_STORE = satchel.open("memory://")

_segment = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"], exclude_characters="/"), min_size=1, max_size=12
).filter(lambda segment: segment not in (".", ".."))
_valid_key = st.lists(_segment, min_size=1, max_size=4).map("/".join)


def _round_trip(key: str) -> None:
    prefix = f"rt-{secrets.token_hex(4)}/"
    full = prefix + key
    payload = full.encode("utf-8")
    _STORE.put(full, payload)
    try:
        assert _STORE.get_bytes(full) == payload
        assert _STORE.head(full).key == full
        assert [meta.key for meta in _STORE.list(prefix)] == [full]
    finally:
        _STORE.delete(full)


@settings(max_examples=200, deadline=None)
@given(_valid_key)
def test_valid_keys_round_trip_exactly(key: str) -> None:
    _round_trip(key)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_rejected_cleanly_or_round_trips(text: str) -> None:
    try:
        Key.parse(text)
    except InvalidPath:
        with pytest.raises(InvalidPath):
            _STORE.put(text, b"x")
        return
    _round_trip(text)
