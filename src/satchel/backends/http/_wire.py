"""Satchel's values on the wire of the Objectstore protocol: paths, metadata headers, durations and timestamps.

Requests (spec a.3 and satchel's extensions, see ``satchel/server/headers.py``)
    ``content-type``; ``x-snme-<name>`` per metadata entry, values percent-escaped as a.5; ``content-encoding:
    zstd`` for objects the compression layer compressed (``Attributes.compression``), which the server stores
    verbatim and which a plain objectstore client then decompresses; ``x-sn-expiration`` for TTL/TTI;
    ``x-satchel-content-disposition``, ``-content-language`` and ``-cache-control``.

    The protocol reserves ``content-encoding`` for zstd, so ``Attributes.content_encoding`` (a caller's own
    HTTP encoding, such as ``gzip``) travels as the reserved metadata entry ``satchel-content-encoding``, which is
    removed from ``metadata`` on the way back. A caller's metadata name starting with ``satchel-`` is refused.

Answers (a.4)
    The server answers ``application/octet-stream`` for objects stored without a content type and a bare
    ``attachment`` disposition for objects without one. Where it also echoes what is stored in
    ``x-satchel-content-type`` and the three ``x-satchel-*`` headers above (percent-escaped), those are the
    truth; without them the two defaults read back as None, so those exact values, given explicitly, read back
    as None too.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from satchel.errors import ConfigError
from satchel.types import TTI, TTL, Attributes, ExpirationPolicy, ObjectMeta

__all__ = [
    "ENCODING_ENTRY",
    "format_policy",
    "http_date",
    "meta_from_headers",
    "parse_content_range",
    "parse_policy",
    "parse_timestamp",
    "quote_path",
    "write_headers",
]

# objectstore-client 0.2.10's path encoding (spec a.2): sub-delims, ':' and '@' stay raw, everything else
# outside RFC 3986's unreserved set is percent-encoded; the server decodes exactly once.
_PATH_SAFE = "/:@!$&'()*+,;="
# a.5: every visible ASCII character and the space stay as they are, except '%'.
_HEADER_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if code != 0x25)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_DURATION_PART = re.compile(r"\s*([0-9]+)\s*([a-z]+)")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1, "ms": 0.001, "us": 0.000_001}

RESERVED_PREFIX = "satchel-"
ENCODING_ENTRY = RESERVED_PREFIX + "content-encoding"
METADATA_PREFIX = "x-snme-"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_BARE_DISPOSITION = "attachment"
_EXTENSIONS = (
    ("x-satchel-content-disposition", "content_disposition"),
    ("x-satchel-content-language", "content_language"),
    ("x-satchel-cache-control", "cache_control"),
)
_ECHOED = (("x-satchel-content-type", "content_type"), *_EXTENSIONS)


def quote_path(text: str) -> str:
    """Percent-encode a key (or a usecase, or scopes) for a request path as objectstore-client 0.2.10 does."""
    return quote(text, safe=_PATH_SAFE)


def _escape(value: str, what: str) -> str:
    try:
        return quote(value, safe=_HEADER_SAFE)
    except UnicodeEncodeError:
        raise ConfigError(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None


def _unescape(value: str) -> str:
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value  # a value a pre-0.2.1 client stored raw


def write_headers(attributes: Attributes, expiration: ExpirationPolicy | None) -> dict[str, str]:
    """Return the request headers that store ``attributes`` (and the expiration policy) with an object.

    Raises:
        ConfigError: a metadata name that is not an HTTP token or starts with the reserved ``satchel-``, a
            content type with characters a header cannot carry, or text holding lone surrogates.
    """
    headers: dict[str, str] = {}
    if attributes.content_type is not None:
        if not attributes.content_type.isascii() or not attributes.content_type.isprintable():
            raise ConfigError(f"content type {attributes.content_type!r} must be printable ASCII")
        headers["content-type"] = attributes.content_type
    if attributes.compression == "zstd":
        headers["content-encoding"] = "zstd"
    if expiration is not None:
        headers["x-sn-expiration"] = format_policy(expiration)
    for header, field in _EXTENSIONS:
        value = getattr(attributes, field)
        if value is not None:
            headers[header] = _escape(value, field)
    for name, value in attributes.metadata.items():
        lowered = name.lower()
        if not _TOKEN.fullmatch(name):
            raise ConfigError(f"metadata name {name!r} must be an ASCII token (letters, digits, - _ .)")
        if lowered.startswith(RESERVED_PREFIX):
            raise ConfigError(f"metadata names starting with {RESERVED_PREFIX!r} are reserved for satchel")
        headers[METADATA_PREFIX + lowered] = _escape(value, f"metadata {name!r}")
    if attributes.content_encoding is not None:
        headers[METADATA_PREFIX + ENCODING_ENTRY] = _escape(attributes.content_encoding, "content_encoding")
    return headers


def meta_from_headers(key: str, headers: Mapping[str, str], size: int) -> ObjectMeta:
    """Rebuild an object's metadata from the headers of a GET or HEAD answer (a.4)."""
    metadata: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(METADATA_PREFIX):
            metadata.setdefault(lowered[len(METADATA_PREFIX) :], _unescape(value))
    content_encoding = metadata.pop(ENCODING_ENTRY, None)
    for reserved in [name for name in metadata if name.startswith(RESERVED_PREFIX)]:
        del metadata[reserved]
    # A server that echoes the x-satchel-* headers says exactly what is stored; the standard headers alone
    # cannot tell a stored "application/octet-stream" or "attachment" from the server's defaults.
    echoed = {field: headers.get(header) for header, field in _ECHOED}
    content_type = echoed["content_type"]
    if content_type is not None:
        content_type = _unescape(content_type)
    elif headers.get("content-type") not in (None, DEFAULT_CONTENT_TYPE):
        content_type = headers.get("content-type")
    disposition = echoed["content_disposition"]
    if disposition is not None:
        disposition = _unescape(disposition)
    elif headers.get("content-disposition") not in (None, _BARE_DISPOSITION):
        disposition = headers.get("content-disposition")
    language, cache_control = echoed["content_language"], echoed["cache_control"]
    language = headers.get("content-language") if language is None else _unescape(language)
    cache_control = headers.get("cache-control") if cache_control is None else _unescape(cache_control)
    expires_at = _timestamp_or_none(headers.get("x-sn-time-expires"))
    created = _timestamp_or_none(headers.get("x-sn-time-created"))
    expiration = headers.get("x-sn-expiration")
    attributes = Attributes(
        content_type=content_type,
        content_encoding=content_encoding,
        content_disposition=disposition,
        content_language=language,
        cache_control=cache_control,
        compression="zstd" if (headers.get("content-encoding") or "").strip().lower() == "zstd" else None,
        expiration=None if expiration is None else parse_policy(expiration, created, expires_at),
        expires_at=expires_at,
        metadata=metadata,
    )
    modified = _timestamp_or_none(headers.get("x-satchel-last-modified"))
    if modified is None:
        # satchel's server leaves x-satchel-last-modified out when it equals the creation time; a server that
        # never sends it gets its second-precision last-modified unless the creation time falls in that second.
        seconds = _http_date_or_none(headers.get("last-modified"))
        same_second = created is not None and (seconds is None or seconds == created.replace(microsecond=0))
        modified = created if same_second else seconds
    return ObjectMeta(key, size, headers.get("etag"), modified or datetime.now(UTC), None, attributes)


def parse_content_range(text: str) -> tuple[int, int, int | None] | None:
    """Parse ``bytes START-LAST/TOTAL`` into ``(start, end exclusive, total or None for '*')``, or None."""
    unit, _, spec = text.strip().partition(" ")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    if unit.lower() != "bytes" or not first.isdigit() or not last.isdigit():
        return None
    return int(first), int(last) + 1, int(total) if total.isdigit() else None


def format_policy(policy: ExpirationPolicy) -> str:
    """Write a policy as ``ttl:<duration>`` or ``tti:<duration>`` in the protocol's units (``30d 1h``).

    Sub-second parts are written in ``ms``/``us``, which the satchel server parses; whole seconds use only
    ``d``/``h``/``m``/``s`` as a.6 asks.
    """
    kind = "ttl" if isinstance(policy, TTL) else "tti"
    delta = policy.delta
    seconds = delta.days * 86_400 + delta.seconds
    parts = [(seconds // 86_400, "d"), (seconds % 86_400 // 3_600, "h"), (seconds % 3_600 // 60, "m")]
    parts.append((seconds % 60, "s"))
    micros = delta.microseconds
    parts.append((micros // 1000, "ms") if micros % 1000 == 0 else (micros, "us"))
    return f"{kind}:" + " ".join(f"{value}{unit}" for value, unit in parts if value)


def parse_policy(text: str, created: datetime | None = None, expires: datetime | None = None) -> TTL | TTI | None:
    """Parse an ``x-sn-expiration`` answer; None for ``manual`` or a form this client does not know.

    The server writes whole seconds, so a sub-second policy reads ``ttl:0s``: it is then recovered from the
    creation and expiry times when both are known.
    """
    kind, _, duration = text.strip().partition(":")
    if kind not in ("ttl", "tti"):
        return None
    total = 0.0
    position = 0
    while (match := _DURATION_PART.match(duration, position)) is not None:
        unit = _UNIT_SECONDS.get(match.group(2))
        if unit is None:
            return None
        total += int(match.group(1)) * unit
        position = match.end()
    delta = timedelta(seconds=total)
    if delta <= timedelta(0) and created is not None and expires is not None:
        delta = expires - created
    if delta <= timedelta(0):
        return None
    return TTL(delta) if kind == "ttl" else TTI(delta)


def http_date(moment: datetime) -> str:
    """Write an instant as an HTTP date (whole seconds, as the server compares them); naive means UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return email.utils.format_datetime(utc, usegmt=True)


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``2026-07-23T14:50:02.123456Z``) into an aware UTC datetime.

    Raises:
        ValueError: the text is not one.
    """
    return datetime.fromisoformat(text).astimezone(UTC)


def _timestamp_or_none(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _http_date_or_none(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        return None
