"""Satchel attributes to GCS object properties and back; object metadata; the GCS etag.

Content headers map to the object's named properties; the caller's metadata is the object's custom metadata,
kept with its case and any Unicode (the JSON API carries both). The layers' attributes (``compression``,
``expiration``, ``expires_at``) are reserved metadata keys starting with ``satchel-``, removed from
``metadata`` on read; a caller's own key with that prefix is refused with ``ConfigError``.

GCS stores ``application/octet-stream`` when a write names no content type. So that ``content_type`` reads
back as None, such writes carry the reserved key ``satchel-untyped``.

The etag is ``"<generation>.<metageneration>"``: the generation changes with every write of the bytes, the
metageneration with every metadata update, and together they are exactly what GCS's write preconditions
(``ifGenerationMatch`` + ``ifMetagenerationMatch``) take, so ``if_match`` maps to them without a read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from satchel.errors import ConfigError
from satchel.types import TTI, TTL, Attributes, ObjectMeta

__all__ = ["RESERVED_PREFIX", "apply_attributes", "attributes_of", "meta_of", "parse_etag", "validate_attributes"]

RESERVED_PREFIX = "satchel-"
_COMPRESSION = RESERVED_PREFIX + "compression"
_EXPIRATION = RESERVED_PREFIX + "expiration"
_EXPIRES_AT = RESERVED_PREFIX + "expires-at"
_UNTYPED = RESERVED_PREFIX + "untyped"
_PROPERTIES = ("content_encoding", "content_disposition", "content_language", "cache_control")


def validate_attributes(attributes: Attributes, key: str, operation: str) -> None:
    """Check the caller's metadata before any I/O.

    Raises:
        ConfigError: a name or value is not a string, a name is empty, or it uses the reserved prefix.
    """
    for name, value in attributes.metadata.items():
        if not isinstance(name, str) or not isinstance(value, str) or not name:
            raise ConfigError(
                "metadata names and values must be strings, names non-empty", key=key, operation=operation
            )
        if name.lower().startswith(RESERVED_PREFIX):
            raise ConfigError(
                f"metadata names starting with {RESERVED_PREFIX!r} are reserved for satchel",
                key=key,
                operation=operation,
                backend="gcs",
            )


def custom_metadata(attributes: Attributes) -> dict[str, str]:
    """Return the object metadata that stores the caller's metadata and the layers' attributes."""
    out = dict(attributes.metadata)
    if attributes.content_type is None:
        out[_UNTYPED] = "1"
    if attributes.compression is not None:
        out[_COMPRESSION] = attributes.compression
    if attributes.expiration is not None:
        kind = "ttl" if isinstance(attributes.expiration, TTL) else "tti"
        out[_EXPIRATION] = f"{kind}:{attributes.expiration.delta.total_seconds()!r}"
    if attributes.expires_at is not None:
        out[_EXPIRES_AT] = repr(attributes.expires_at.timestamp())
    return out


def apply_attributes(blob: Any, attributes: Attributes, *, previous: dict[str, str] | None = None) -> None:
    """Set ``blob``'s properties so that a write (or a patch) stores ``attributes`` and nothing else.

    ``previous`` is the object's current custom metadata, for a patch: GCS merges patched metadata, so each
    key to drop is sent as null.
    """
    blob.content_type = attributes.content_type or "application/octet-stream"
    for name in _PROPERTIES:
        setattr(blob, name, getattr(attributes, name))
    metadata: dict[str, str | None] = dict.fromkeys(previous or {})
    metadata.update(custom_metadata(attributes))
    blob.metadata = metadata


def attributes_of(blob: Any) -> Attributes:
    """Rebuild satchel attributes from a blob's properties."""
    raw: dict[str, Any] = blob.metadata or {}
    metadata = {
        name: value for name, value in raw.items() if value is not None and not name.lower().startswith(RESERVED_PREFIX)
    }
    expiration = raw.get(_EXPIRATION)
    policy: TTL | TTI | None = None
    if expiration:
        kind, _, seconds = expiration.partition(":")
        policy = TTL(float(seconds)) if kind == "ttl" else TTI(float(seconds))
    expires_at = raw.get(_EXPIRES_AT)
    return Attributes(
        content_type=None if raw.get(_UNTYPED) else blob.content_type,
        content_encoding=blob.content_encoding,
        content_disposition=blob.content_disposition,
        content_language=blob.content_language,
        cache_control=blob.cache_control,
        compression="zstd" if raw.get(_COMPRESSION) == "zstd" else None,
        expiration=policy,
        expires_at=datetime.fromtimestamp(float(expires_at), UTC) if expires_at else None,
        metadata=metadata,
    )


def etag_of(blob: Any) -> str:
    """Return satchel's etag of a blob: ``"<generation>.<metageneration>"``."""
    return f"{blob.generation}.{blob.metageneration or 1}"


def meta_of(blob: Any) -> ObjectMeta:
    """Return the metadata of a blob as the service last described it."""
    updated = blob.updated or blob.time_created or datetime.now(UTC)
    return ObjectMeta(
        key=blob.name,
        size=int(blob.size or 0),
        etag=etag_of(blob),
        last_modified=updated,
        version=str(blob.generation),
        attributes=attributes_of(blob),
    )


def parse_etag(etag: str) -> tuple[int, int] | None:
    """Return the ``(generation, metageneration)`` a satchel GCS etag names, or None if it names none."""
    text = etag.strip().removeprefix("W/").strip('"')
    generation, dot, metageneration = text.partition(".")
    if not dot or not generation.isdigit() or not metageneration.isdigit():
        return None
    return int(generation), int(metageneration)
