"""Satchel attributes to obstore attributes and back.

Content headers map to obstore's named attributes. The caller's metadata becomes user metadata
(``x-amz-meta-*`` on S3). Values travel in HTTP headers, which carry ASCII only: any other value is sent as an
RFC 2047 encoded word (``=?utf-8?b?...?=``, what the AWS SDKs do) and decoded on the way back. Names must be
ASCII and are lowercased, as S3 stores them.

The attributes the layers write (``compression``, ``expiration``, ``expires_at``) are stored as reserved
metadata keys starting with ``satchel-`` and removed from ``metadata`` on read; a caller's own metadata key
with that prefix is refused with ``ConfigError``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from satchel.errors import ConfigError
from satchel.types import TTI, TTL, Attributes

if TYPE_CHECKING:
    from obstore import Attributes as ObAttributes

__all__ = ["RESERVED_PREFIX", "from_obstore", "to_obstore"]

RESERVED_PREFIX = "satchel-"
_COMPRESSION = RESERVED_PREFIX + "compression"
_EXPIRATION = RESERVED_PREFIX + "expiration"
_EXPIRES_AT = RESERVED_PREFIX + "expires-at"
_HEADERS = {
    "content_type": "Content-Type",
    "content_encoding": "Content-Encoding",
    "content_disposition": "Content-Disposition",
    "content_language": "Content-Language",
    "cache_control": "Cache-Control",
}
_BY_HEADER = {header.lower(): name for name, header in _HEADERS.items()}
_PLAIN_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_ENCODED = re.compile(r"=\?utf-8\?b\?([A-Za-z0-9+/=]*)\?=", re.IGNORECASE)


def _encode_value(value: str) -> str:
    # Plain printable ASCII without edge spaces goes as is; everything else (and anything that would read
    # as an encoded word) is base64 in an RFC 2047 word, so no byte is lost to header rules.
    if value == "" or (_PLAIN_VALUE.fullmatch(value) and not value.startswith("=?")):
        return value
    return "=?utf-8?b?" + base64.b64encode(value.encode()).decode("ascii") + "?="


def _decode_value(value: str) -> str:
    match = _ENCODED.fullmatch(value)
    if match is None:
        return value
    try:
        return base64.b64decode(match.group(1), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return value


def to_obstore(attributes: Attributes) -> ObAttributes:
    """Return the obstore attributes that store ``attributes``.

    Raises:
        ConfigError: a metadata name is not an HTTP token, or uses the reserved ``satchel-`` prefix.
    """
    out: ObAttributes = {}
    for name, header in _HEADERS.items():
        value = getattr(attributes, name)
        if value is not None:
            out[header] = value
    for name, value in attributes.metadata.items():
        lowered = name.lower()
        if not _NAME.fullmatch(name):
            raise ConfigError(f"metadata name {name!r} must be an ASCII token (letters, digits, - _ .)")
        if lowered.startswith(RESERVED_PREFIX):
            raise ConfigError(f"metadata names starting with {RESERVED_PREFIX!r} are reserved for satchel")
        out[lowered] = _encode_value(value)
    if attributes.compression is not None:
        out[_COMPRESSION] = attributes.compression
    if attributes.expiration is not None:
        kind = "ttl" if isinstance(attributes.expiration, TTL) else "tti"
        out[_EXPIRATION] = f"{kind}:{attributes.expiration.delta.total_seconds()!r}"
    if attributes.expires_at is not None:
        out[_EXPIRES_AT] = repr(attributes.expires_at.timestamp())
    return out


def from_obstore(raw: Mapping[str, str], *, default_content_type: str | None = None) -> Attributes:
    """Rebuild satchel attributes from the obstore attributes of a get or head.

    A content type equal to ``default_content_type`` (what the service reports for objects stored without
    one) reads back as None.
    """
    fields: dict[str, str] = {}
    metadata: dict[str, str] = {}
    compression = expiration = expires_at = None
    for name, value in raw.items():
        lowered = name.lower()
        field = _BY_HEADER.get(lowered)
        if field is not None:
            fields[field] = value
        elif lowered == _COMPRESSION:
            compression = value
        elif lowered == _EXPIRATION:
            expiration = value
        elif lowered == _EXPIRES_AT:
            expires_at = value
        elif lowered != "storage-class" and not lowered.startswith(RESERVED_PREFIX):
            metadata[lowered] = _decode_value(value)
    policy: TTL | TTI | None = None
    if expiration is not None:
        kind, _, seconds = expiration.partition(":")
        policy = TTL(float(seconds)) if kind == "ttl" else TTI(float(seconds))
    content_type = fields.get("content_type")
    return Attributes(
        content_type=None if content_type == default_content_type else content_type,
        content_encoding=fields.get("content_encoding"),
        content_disposition=fields.get("content_disposition"),
        content_language=fields.get("content_language"),
        cache_control=fields.get("cache_control"),
        compression="zstd" if compression == "zstd" else None,
        expiration=policy,
        expires_at=None if expires_at is None else datetime.fromtimestamp(float(expires_at), UTC),
        metadata=metadata,
    )
