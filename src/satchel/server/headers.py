"""Object metadata on the wire (spec a.3, a.4, a.5) and in satchel's stored :class:`~satchel.types.Attributes`.

Requests carry metadata as ``content-type``, ``content-encoding``, ``x-sn-*`` and ``x-snme-<name>`` headers whose
free-form values are percent-escaped. The server stores the logical strings: content type and encoding as
attributes of their own, everything else in ``Attributes.metadata`` under the names below, and escapes them
again on the way out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from satchel.server.durations import format_policy, format_timestamp, http_date, parse_policy, parse_timestamp
from satchel.server.errors import ApiError
from satchel.types import NO_ATTRIBUTES, TTI, TTL, Attributes, ObjectMeta

__all__ = [
    "CREATED",
    "ObjectFields",
    "content_disposition",
    "created_of",
    "custom_metadata",
    "escape_value",
    "fields_from_headers",
    "filename_of",
    "origin_of",
    "request_headers",
    "response_headers",
    "to_attributes",
    "unescape_value",
]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
CUSTOM_PREFIX = "x-snme-"

# Names inside Attributes.metadata. Client names starting with "sn-" are moved under "sn-custom-" so that a
# custom entry can never pass for one of the server's own.
_ORIGIN = "sn-origin"
_FILENAME = "sn-filename"
CREATED = "sn-created"
_RESERVED = "sn-"
_ESCAPED_CUSTOM = "sn-custom-"
# satchel's extension request headers for attributes the protocol has no header for (percent-escaped as a.5).
_EXTENSIONS = (
    ("x-satchel-content-disposition", "content_disposition"),
    ("x-satchel-content-language", "content_language"),
    ("x-satchel-cache-control", "cache_control"),
)

# Every visible ASCII character but '%' stays as it is, so plain ASCII values are byte-identical on the wire.
_HEADER_SAFE = "".join(chr(code) for code in range(0x20, 0x7F) if code != 0x25)
# RFC 8187 attr-char, less the alphanumerics quote() always keeps.
_EXT_VALUE_SAFE = "!#$&+-.^_`|~"

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*"'
# RFC 9110 media-type: type "/" subtype *( OWS ";" OWS [ parameter ] ).
_MEDIA_TYPE = re.compile(rf"{_TCHARS}/{_TCHARS}(?:[ \t]*;[ \t]*(?:{_TCHARS}=(?:{_TCHARS}|{_QUOTED}))?)*")
_HEADER_NAME = re.compile(_TCHARS)
# What format_timestamp writes: such a stored creation time is sent as it is, without a parse and a format.
_STORED_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Request header names that carry object metadata; a request with none of them has no fields to read.
_FIELD_HEADERS = ("content-type", "content-encoding", "x-sn", "x-satchel-")
_SCOPE_HEADERS = "satchel.headers"
_DEFAULT_CONTENT_TYPE = DEFAULT_CONTENT_TYPE.encode()
_BARE_DISPOSITION = (b"content-disposition", b"attachment")
_ACCEPT_RANGES = (b"accept-ranges", b"bytes")


def request_headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    """Return the headers of the ASGI request ``scope`` as a plain dict, built once per request.

    Names are lowercase (as ASGI servers deliver them) and the first of repeated headers wins, as with
    Starlette's ``Headers.get``; a dict lookup costs far less than Starlette's scan of the raw list.
    """
    cached: dict[str, str] | None = scope.get(_SCOPE_HEADERS)
    if cached is None:
        cached = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
        scope[_SCOPE_HEADERS] = cached
    return cached


def escape_value(value: str) -> str:
    """Percent-escape a logical string for a header value: non-ASCII (as UTF-8), controls, DEL and ``%``.

    A lone surrogate, which UTF-8 cannot carry, is written as ``?``.
    """
    return quote(value, safe=_HEADER_SAFE, errors="replace")


def unescape_value(value: str) -> str:
    """Decode a percent-escaped header value back to its logical string.

    A ``%`` not followed by two hex digits stays literal, as clients before 0.2.1 sent raw values.

    Raises:
        ApiError: 400 when the escapes do not decode to UTF-8.
    """
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(400, f"header value {value!r} is not valid percent-encoded UTF-8") from None


@dataclass(frozen=True)
class ObjectFields:
    """The metadata a client sent with an object, decoded and validated.

    ``expiration_given`` is False when the request had no ``x-sn-expiration`` header, so the usecase default
    applies; ``manual`` gives ``expiration=None`` with ``expiration_given=True``. ``custom`` names are lowercase.
    """

    content_type: str | None = None
    content_encoding: str | None = None
    expiration: TTL | TTI | None = None
    expiration_given: bool = False
    origin: str | None = None
    filename: str | None = None
    custom: Mapping[str, str] = field(default_factory=dict, hash=False)
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None


def fields_from_headers(headers: Mapping[str, str]) -> ObjectFields:
    """Read the metadata headers of an object create (a.3).

    ``headers`` may be any mapping; names are compared case-insensitively and the first of repeated headers
    counts. The read-only ``x-sn-time-created``, ``x-sn-time-expires`` and ``x-sn-size`` are ignored.

    Raises:
        ApiError: 400 for a ``content-encoding`` other than ``zstd``, a ``content-type`` that is not a media
            type, an invalid ``x-sn-expiration``, an ``x-snme-`` header without a name, or a value whose escapes
            are not UTF-8.
    """
    for name in headers:
        if name.lower().startswith(_FIELD_HEADERS):
            break
    else:
        return _NO_FIELDS
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)

    content_type = lowered.get("content-type")
    if content_type is not None:
        content_type = content_type.strip(" \t")
        if not _MEDIA_TYPE.fullmatch(content_type):
            raise ApiError(400, f"invalid content-type {content_type!r}: expected a media type such as 'text/plain'")
    content_encoding = lowered.get("content-encoding")
    if content_encoding is not None:
        if content_encoding.strip(" \t").lower() != "zstd":
            raise ApiError(400, f"unsupported content-encoding {content_encoding!r}: only 'zstd' is accepted")
        content_encoding = "zstd"
    expiration_header = lowered.get("x-sn-expiration")
    expiration = parse_policy(expiration_header) if expiration_header is not None else None
    origin = lowered.get("x-sn-origin")
    filename = lowered.get("x-sn-filename")
    custom: dict[str, str] = {}
    for name, value in lowered.items():
        if name.startswith(CUSTOM_PREFIX):
            custom_name = name[len(CUSTOM_PREFIX) :]
            if not custom_name:
                raise ApiError(400, f"a {CUSTOM_PREFIX}<name> header needs a name")
            custom[custom_name] = unescape_value(value)
    return ObjectFields(
        content_type=content_type,
        content_encoding=content_encoding,
        expiration=expiration,
        expiration_given=expiration_header is not None,
        origin=None if origin is None else unescape_value(origin),
        filename=None if filename is None else unescape_value(filename),
        custom=custom,
        **{field_name: unescape_value(lowered[header]) for header, field_name in _EXTENSIONS if header in lowered},
    )


_NO_FIELDS = ObjectFields()
_NO_ATTRIBUTES = NO_ATTRIBUTES


def to_attributes(fields: ObjectFields, created: datetime | None) -> Attributes:
    """Build the attributes stored with a new object: its fields plus the creation time.

    With ``created`` None no creation time is stored, and the object's ``last_modified`` stands for it (see
    :attr:`satchel.server.state.ServerState.created_from_mtime`). The expiration is left out; the expiration
    layer stamps it from the put options.
    """
    if fields is _NO_FIELDS and created is None:
        return _NO_ATTRIBUTES
    metadata = {_stored_name(name.lower()): value for name, value in fields.custom.items()}
    if fields.origin is not None:
        metadata[_ORIGIN] = fields.origin
    if fields.filename is not None:
        metadata[_FILENAME] = fields.filename
    if created is not None:
        metadata[CREATED] = format_timestamp(created)
    return Attributes(
        content_type=fields.content_type,
        content_encoding=fields.content_encoding,
        content_disposition=fields.content_disposition,
        content_language=fields.content_language,
        cache_control=fields.cache_control,
        metadata=metadata,
    )


def custom_metadata(attributes: Attributes) -> dict[str, str]:
    """Return the client's custom metadata stored in ``attributes``, without the server's own entries."""
    custom: dict[str, str] = {}
    for name, value in attributes.metadata.items():
        if name.startswith(_ESCAPED_CUSTOM):
            custom[name[len(_ESCAPED_CUSTOM) :]] = value
        elif not name.startswith(_RESERVED):
            custom[name] = value
    return custom


def origin_of(attributes: Attributes) -> str | None:
    """Return the stored origin, or None."""
    return attributes.metadata.get(_ORIGIN)


def filename_of(attributes: Attributes) -> str | None:
    """Return the stored filename (possibly empty), or None."""
    return attributes.metadata.get(_FILENAME)


def created_of(attributes: Attributes, fallback: datetime) -> datetime:
    """Return the stored creation time, or ``fallback`` when there is none or it cannot be read."""
    text = attributes.metadata.get(CREATED)
    if text is None:
        return fallback
    try:
        return parse_timestamp(text)
    except ApiError:
        return fallback


def content_disposition(filename: str | None) -> str:
    """Build the ``content-disposition`` value for a download (a.4).

    Without a filename (None or empty) it is a bare ``attachment``. Otherwise ``/`` and ``\\`` become ``-``, a
    dots-only name becomes dashes, and the quoted ``filename`` escapes ``"`` and replaces non-ASCII and control
    characters with ``_``; a non-ASCII name is also given exactly as ``filename*=UTF-8''<percent-encoded>``.
    """
    if not filename:
        return "attachment"
    name = filename.replace("/", "-").replace("\\", "-")
    if not name.strip("."):
        name = "-" * len(name)
    quoted = "".join(_quoted_char(char) for char in name)
    value = f'attachment; filename="{quoted}"'
    if not name.isascii():
        value += "; filename*=UTF-8''" + quote(name, safe=_EXT_VALUE_SAFE, errors="replace")
    return value


def response_headers(meta: ObjectMeta) -> list[tuple[bytes, bytes]]:
    """Return the metadata headers of a GET or HEAD answer (a.4), encoded, names lowercase, without ``content-length``.

    Stored values that a header cannot carry (written by something other than this server) are left out, or
    replaced by the default for ``content-type``.
    """
    attributes = meta.attributes
    if attributes is NO_ATTRIBUTES:
        return _plain_headers(meta)
    content_type = attributes.content_type
    headers = [
        (
            b"content-type",
            _DEFAULT_CONTENT_TYPE
            if content_type is None or not _MEDIA_TYPE.fullmatch(content_type)
            else content_type.encode("latin-1"),
        )
    ]
    if attributes.content_encoding and _HEADER_NAME.fullmatch(attributes.content_encoding):
        headers.append((b"content-encoding", attributes.content_encoding.encode()))
    policy = format_policy(attributes.expiration)
    if policy is not None:
        headers.append((b"x-sn-expiration", policy.encode()))
    modified = format_timestamp(meta.last_modified).encode()
    stored_created = attributes.metadata.get(CREATED)
    if stored_created is None:
        created = modified
    elif _STORED_TIMESTAMP.fullmatch(stored_created):
        created = stored_created.encode()
    else:
        created = format_timestamp(created_of(attributes, meta.last_modified)).encode()
    headers.append((b"x-sn-time-created", created))
    if attributes.expires_at is not None:
        headers.append((b"x-sn-time-expires", format_timestamp(attributes.expires_at).encode()))
    origin = origin_of(attributes)
    if origin is not None:
        headers.append((b"x-sn-origin", escape_value(origin).encode()))
    filename = filename_of(attributes)
    if filename is not None:
        headers.append((b"x-sn-filename", escape_value(filename).encode()))
    headers.append((b"x-sn-size", b"%d" % meta.size))
    for name, value in custom_metadata(attributes).items():
        if _HEADER_NAME.fullmatch(name):
            headers.append(((CUSTOM_PREFIX + name.lower()).encode(), escape_value(value).encode()))
    stored_disposition = attributes.content_disposition
    if stored_disposition is not None and _HEADER_VALUE.fullmatch(stored_disposition):
        headers.append((b"content-disposition", stored_disposition.encode()))
    elif filename is None:
        headers.append(_BARE_DISPOSITION)
    else:
        headers.append((b"content-disposition", content_disposition(filename).encode()))
    extras = ((b"content-language", attributes.content_language), (b"cache-control", attributes.cache_control))
    for header, extra in extras:
        if extra is not None and _HEADER_VALUE.fullmatch(extra):
            headers.append((header, extra.encode()))
    headers += _echoed_headers(attributes)
    headers.append((b"last-modified", http_date(meta.last_modified).encode()))
    if modified != created:
        # Left out when equal to the creation time (always, on a local folder): one header less to send and
        # parse on every read. satchel's HTTP backend reads the creation time then.
        headers.append((b"x-satchel-last-modified", modified))
    headers.append(_ACCEPT_RANGES)
    if meta.etag and _HEADER_VALUE.fullmatch(meta.etag):
        headers.append((b"etag", meta.etag.encode()))
    return headers


def _echoed_headers(attributes: Attributes) -> list[tuple[bytes, bytes]]:
    # satchel's extensions, echoed exactly as stored: the standard headers cannot tell a stored
    # "application/octet-stream" or "attachment" from the defaults, nor carry non-ASCII values.
    headers = []
    if attributes.content_type is not None:
        headers.append((b"x-satchel-content-type", escape_value(attributes.content_type).encode()))
    for name, field_name in _EXTENSIONS:
        stored = getattr(attributes, field_name)
        if stored is not None:
            headers.append((name.encode(), escape_value(stored).encode()))
    return headers


def _plain_headers(meta: ObjectMeta) -> list[tuple[bytes, bytes]]:
    # Most objects have no attributes: response_headers' general path gives these same headers in this order.
    modified = format_timestamp(meta.last_modified).encode()
    headers = [
        (b"content-type", _DEFAULT_CONTENT_TYPE),
        (b"x-sn-time-created", modified),
        (b"x-sn-size", b"%d" % meta.size),
        _BARE_DISPOSITION,
        (b"last-modified", http_date(meta.last_modified).encode()),
        _ACCEPT_RANGES,
    ]
    if meta.etag and _HEADER_VALUE.fullmatch(meta.etag):
        headers.append((b"etag", meta.etag.encode()))
    return headers


def _stored_name(name: str) -> str:
    return _ESCAPED_CUSTOM + name if name.startswith(_RESERVED) else name


def _quoted_char(char: str) -> str:
    if char == '"':
        return '\\"'
    if not " " <= char <= "~":
        return "_"
    return char
