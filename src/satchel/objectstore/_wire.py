"""The Objectstore wire format, generation C (spec a.2, a.5, a.6): paths, scopes, header escaping, durations.

Small re-implementations of what ``satchel.server`` does on the other side of the wire; this package must not
import the server (it needs Starlette).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import quote, unquote

__all__ = [
    "SCOPE_ALLOWED_CHARS",
    "decode_header_value",
    "encode_header_value",
    "encode_path",
    "format_duration",
    "object_path",
    "parse_duration",
    "scope_text",
]

# The characters the document admits in scope keys and values: ``A-Za-z0-9_-()$!+*'``. The protocol itself
# (and every Objectstore server) admits the same set less ``*``; see docs/front-doors.md (satchel.objectstore).
SCOPE_ALLOWED_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-()$!+*'")
_NO_SCOPES = "_"

# RFC 3986 sub-delims and ":", "@", "/" stay raw in a path; everything else (a literal "%" included) is escaped,
# so the server's single percent-decoding gives back the exact key (spec a.2).
_PATH_SAFE = "/:@!$&'()*+,;="
# Every visible ASCII character but "%" stays as it is in a header value (spec a.5).
_HEADER_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if code != 0x25)

_NANOS_PER_SECOND = 1_000_000_000
# The units of the humantime grammar the servers parse (spec a.6), so a value written by any server or client
# generation reads back; only d/h/m/s are ever written.
_UNIT_NANOS = {
    name: nanos
    for names, nanos in (
        (("nsec", "ns"), 1),
        (("usec", "us"), 1_000),
        (("msec", "ms"), 1_000_000),
        (("seconds", "second", "sec", "s"), _NANOS_PER_SECOND),
        (("minutes", "minute", "min", "m"), 60 * _NANOS_PER_SECOND),
        (("hours", "hour", "hr", "h"), 3_600 * _NANOS_PER_SECOND),
        (("days", "day", "d"), 86_400 * _NANOS_PER_SECOND),
        (("weeks", "week", "w"), 604_800 * _NANOS_PER_SECOND),
        (("months", "month", "M"), 2_630_016 * _NANOS_PER_SECOND),
        (("years", "year", "y"), 31_557_600 * _NANOS_PER_SECOND),
    )
    for name in names
}
_COMPONENT = re.compile(r"\s*([0-9]+)\s*([A-Za-z]+)")
_TRAILING_SPACE = re.compile(r"\s*")


def scope_text(scopes: Mapping[str, str | int | bool]) -> str:
    """Write scopes in the path form ``org=42;project=1337`` (kwargs order kept), or ``_`` when there are none.

    Raises:
        ValueError: a key or value is empty or None, or holds a character outside ``A-Za-z0-9_-()$!+*'``.
    """
    parts = []
    for key, value in scopes.items():
        if not key:
            raise ValueError("Scope key cannot be empty")
        if value is None:
            raise ValueError("Scope value cannot be empty")
        text = str(value)
        if not text:
            raise ValueError("Scope value cannot be empty")
        for kind, part in (("key", key), ("value", text)):
            if not SCOPE_ALLOWED_CHARS.issuperset(part):
                raise ValueError(f"Invalid scope {kind} {part!r}. The valid character set is: A-Za-z0-9_-()$!+*'")
        parts.append(f"{key}={text}")
    return ";".join(parts) or _NO_SCOPES


def encode_path(path: str) -> str:
    """Percent-encode a request path as it goes on the wire: a literal ``%`` becomes ``%25``, UTF-8 is escaped."""
    return quote(path, safe=_PATH_SAFE)


def object_path(base_path: str, usecase: str, scope: str, key: str | None) -> str:
    """Return the encoded path ``{base_path}/v1/objects/{usecase}/{scope}/{key}`` (key-less: a trailing ``/``)."""
    return encode_path(f"{base_path.rstrip('/')}/v1/objects/{usecase}/{scope}/{key or ''}")


def encode_header_value(value: str) -> str:
    """Percent-escape a free-form header value: non-ASCII (as UTF-8), controls, DEL and ``%`` (spec a.5)."""
    return quote(value, safe=_HEADER_SAFE)


def decode_header_value(value: str) -> str:
    """Decode a percent-escaped header value back to its logical string.

    Raises:
        UnicodeDecodeError: the escapes do not spell valid UTF-8.
    """
    return unquote(value, errors="strict")


def format_duration(delta: timedelta) -> str:
    """Write a duration as ``d``/``h``/``m``/``s`` components, largest first: ``30d 1h``, ``400d``, ``0s``.

    Zero components are left out and sub-second parts truncated (spec a.6).

    Raises:
        ValueError: the duration is negative.
    """
    if delta < timedelta(0):
        raise ValueError(f"cannot format a negative duration: {delta}")
    seconds = delta.days * 86_400 + delta.seconds
    parts = (
        (seconds // 86_400, "d"),
        (seconds % 86_400 // 3_600, "h"),
        (seconds % 3_600 // 60, "m"),
        (seconds % 60, "s"),
    )
    return " ".join(f"{value}{unit}" for value, unit in parts if value) or "0s"


def parse_duration(text: str) -> timedelta:
    """Parse a duration: ``<int>`` optional whitespace ``<unit>``, repeated (``30d 1h``, ``30 days 3600 seconds``).

    Units are case-sensitive (``M`` is months, ``m`` minutes); fractions below a microsecond are dropped.

    Raises:
        ValueError: the text is empty, has an unknown unit or anything outside the grammar.
    """
    total = 0
    position = 0
    while (match := _COMPONENT.match(text, position)) is not None:
        number, unit = match.groups()
        nanos = _UNIT_NANOS.get(unit)
        if nanos is None:
            raise ValueError(f"unknown time unit {unit!r} in duration {text!r}")
        total += int(number) * nanos
        position = match.end()
    if position == 0 or _TRAILING_SPACE.fullmatch(text, position) is None:
        raise ValueError(f"invalid duration {text!r}: expected components such as '30d 1h'")
    return timedelta(microseconds=total // 1_000)
