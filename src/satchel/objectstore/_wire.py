"""The Objectstore wire format, generation C (spec a.2, a.5, a.6): paths, scopes, header escaping, durations.

Small re-implementations of what ``satchel.server`` does on the other side of the wire; this package must not
import the server (it needs Starlette).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote

from satchel.durations import format_duration, parse_duration

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
