"""Object addresses: the three URL layouts clients use (spec a.2, a.10) and where an address lives in storage.

Every generation is normalised to ``(usecase, scopes, key)`` and stored under the upstream layout
``{usecase}/{k1}.{v1}/.../objects/{key}``, so objects are shared across client versions. A logical key is any
non-empty string, ``/``, ``%``, ``.`` and empty segments included; :func:`storage_key` maps it onto a valid
:class:`~satchel.path.Key` reversibly and :func:`logical_key` maps it back.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Mapping, Sequence
from typing import Literal, NamedTuple
from urllib.parse import unquote

from satchel.errors import InvalidPath
from satchel.path import Key
from satchel.server.errors import ApiError

__all__ = [
    "ObjectAddress",
    "ParsedPath",
    "logical_key",
    "parse_path",
    "scope_text",
    "storage_key",
    "storage_prefix",
]

Scopes = tuple[tuple[str, str], ...]

_RESOURCE = "objects"
_NO_SCOPES = "_"
# A lone "%" stands for an empty key segment: Key.from_parts writes "%" only as "%25", so it cannot clash.
_EMPTY_SEGMENT = "%"
_SCOPE_PART = re.compile(r"[A-Za-z0-9_\-()$!+']+")
# Generation A/B split "k.v" at the first dot, so a value there may hold dots of its own.
_DOTTED_SCOPE_VALUE = re.compile(r"[A-Za-z0-9_\-()$!+'.]+")
# Controls (C0, DEL, C1) and lone surrogates cannot be part of a storage key segment.
_BAD_USECASE_CHAR = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class ObjectAddress(NamedTuple):
    """Where an object is: its usecase, its ordered scopes and its logical key (None: key-less create or collection).

    Named tuples, not frozen dataclasses, because every request builds one (and a :class:`ParsedPath`):
    a frozen dataclass's ``__init__`` costs twice as much. ``address._replace(key=...)`` gives a changed copy.
    """

    usecase: str
    scopes: Scopes
    key: str | None


class ParsedPath(NamedTuple):
    """A request path taken apart: the protocol generation, the resource (``objects``, ``objects:multipart``, ...)
    and the address."""

    generation: Literal["A", "B", "C"]
    resource: str
    address: ObjectAddress


def parse_path(path: str, query: Mapping[str, str]) -> ParsedPath:
    """Parse a percent-decoded request path (the part after ``/v1/``) in whichever generation it is written.

    Generation A when the query has both ``usecase`` and ``scope`` (the path is the key); else generation C when
    the first segment is ``objects`` or starts with ``objects:`` (``{resource}/{usecase}/{k=v;...}/{key}``); else
    generation B (``{usecase}/{k.v}/.../objects/{key}``). An absent or empty key gives ``key=None``.

    Raises:
        ApiError: 400 for a missing or unsafe usecase, malformed scopes, or a generation B path without
            scopes or without its ``objects`` segment.
    """
    if "usecase" in query and "scope" in query:
        address = ObjectAddress(
            _check_usecase(query["usecase"]), _dotted_scopes(query["scope"].split("/")), path or None
        )
        return ParsedPath("A", _RESOURCE, address)
    first = path.partition("/")[0]
    if first == _RESOURCE or first.startswith(_RESOURCE + ":"):
        parts = path.split("/", 3)
        if len(parts) < 3:
            raise ApiError(400, f"invalid path {path!r}: expected {first}/{{usecase}}/{{scopes}}/{{key}}")
        key = parts[3] if len(parts) == 4 and parts[3] else None
        return ParsedPath("C", first, ObjectAddress(_check_usecase(parts[1]), _scopes_from_text(parts[2]), key))
    segments = path.split("/")
    try:
        marker = segments.index(_RESOURCE, 1)
    except ValueError:
        raise ApiError(400, f"invalid path {path!r}: expected {{usecase}}/{{scope}}/.../objects/{{key}}") from None
    if marker == 1:
        raise ApiError(400, f"invalid path {path!r}: at least one scope is required")
    key = "/".join(segments[marker + 1 :]) or None
    return ParsedPath(
        "B", _RESOURCE, ObjectAddress(_check_usecase(segments[0]), _dotted_scopes(segments[1:marker]), key)
    )


def scope_text(scopes: Sequence[tuple[str, str]]) -> str:
    """Write scopes in the generation C path form: ``org=42;project=1337``, or ``_`` for none."""
    return ";".join(f"{name}={value}" for name, value in scopes) or _NO_SCOPES


@functools.lru_cache(maxsize=1024)
def storage_prefix(usecase: str, scopes: Scopes) -> str:
    """Return the storage prefix of a usecase and scopes: ``{usecase}/{k1}.{v1}/.../objects/``."""
    return "".join([usecase, "/", *(f"{name}.{value}/" for name, value in scopes), _RESOURCE, "/"])


def storage_key(address: ObjectAddress) -> Key:
    """Return the satchel key an address is stored under: its prefix plus the logical key, segment by segment.

    Each non-empty segment of the logical key is encoded as :meth:`Key.from_parts` does (``%``, controls and
    ``.``/``..`` segments percent-encoded); an empty segment becomes a lone ``%``. :func:`logical_key` reverses it.

    Raises:
        ApiError: 400 when the key, with its prefix, is too long for satchel or holds a lone surrogate.
        ValueError: the address has no key.
    """
    if address.key is None:
        raise ValueError("a key-less address has no storage key")
    prefix = storage_prefix(address.usecase, address.scopes)
    if "%" not in address.key:
        # Most keys are already valid satchel keys, which the encoding leaves as they are: one parse suffices.
        with contextlib.suppress(InvalidPath):
            return Key.parse(prefix + address.key)
    try:
        segments = [Key.from_parts(segment) if segment else _EMPTY_SEGMENT for segment in address.key.split("/")]
        return Key.parse(prefix + "/".join(segments))
    except InvalidPath as exc:
        raise ApiError(400, f"invalid key: {exc}") from None


def logical_key(stored: str, prefix: str) -> str:
    """Return the logical key of a stored key under ``prefix`` (the inverse of :func:`storage_key`).

    Raises:
        ValueError: ``stored`` does not start with ``prefix`` or nothing follows it.
    """
    if not stored.startswith(prefix) or len(stored) == len(prefix):
        raise ValueError(f"{stored!r} is not a key under {prefix!r}")
    segments = stored[len(prefix) :].split("/")
    return "/".join("" if segment == _EMPTY_SEGMENT else unquote(segment) for segment in segments)


@functools.lru_cache(maxsize=1024)
def _check_usecase(usecase: str) -> str:
    # Cached, as _scopes_from_text: a server sees the same few usecases and scopes in every request.
    if not usecase:
        raise ApiError(400, "the usecase must not be empty")
    if "/" in usecase or not usecase.strip(".") or _BAD_USECASE_CHAR.search(usecase):
        raise ApiError(400, f"invalid usecase {usecase!r}")
    return usecase


@functools.lru_cache(maxsize=1024)
def _scopes_from_text(text: str) -> Scopes:
    # Clients before 0.2.0 send an empty segment for "no scopes", later ones "_".
    if text in ("", _NO_SCOPES):
        return ()
    return tuple(_scope(pair, "=", _SCOPE_PART) for pair in text.split(";"))


def _dotted_scopes(segments: Sequence[str]) -> Scopes:
    # Generation A sends an empty scope string for "no scopes"; generation B always has at least one.
    if list(segments) == [""]:
        return ()
    return tuple(_scope(segment, ".", _DOTTED_SCOPE_VALUE) for segment in segments)


def _scope(pair: str, separator: str, value_pattern: re.Pattern[str]) -> tuple[str, str]:
    name, found, value = pair.partition(separator)
    if not found:
        raise ApiError(400, f"invalid scope {pair!r}: expected name{separator}value")
    if not _SCOPE_PART.fullmatch(name) or not value_pattern.fullmatch(value):
        raise ApiError(
            400,
            f"invalid scope {pair!r}: names and values must be non-empty and use only A-Za-z0-9_-()$!+'",
        )
    return name, value
