"""Azure Blob metadata names: the escaping that lets any name, and the layers' own attributes, round-trip.

Azure accepts only C#-identifier metadata names (no ``-`` or ``.``) and compares them case-insensitively, so
satchel escapes names reversibly and carries the layers' attributes (compression, expiration policy,
deadline) as escaped metadata. Azure also reports ``application/octet-stream`` for a blob stored without a
content type; a reserved flag records when a caller set exactly that type.
"""

from __future__ import annotations

import dataclasses
import re

from satchel.types import Attributes

__all__ = ["DEFAULT_CONTENT_TYPE", "escape_attributes", "escape_name", "unescape_attributes", "unescape_name"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_EXPLICIT_DEFAULT = "satchel_octet_stream"

_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*")
_ESCAPE = re.compile(r"_([0-9a-fA-F]{2})")


def escape_name(name: str) -> str:
    """Return an Azure-safe spelling of the metadata name ``name`` that :func:`unescape_name` reverses.

    Lowercase letters and digits starting with a letter stay as they are; any other name becomes ``_`` followed
    by the name with each character outside ``[a-z0-9]`` written as ``_XX`` per UTF-8 byte.
    """
    if _IDENTIFIER.fullmatch(name):
        return name
    out = ["_"]
    for char in name:
        if "a" <= char <= "z" or "0" <= char <= "9":
            out.append(char)
        else:
            out.extend(f"_{byte:02x}" for byte in char.encode())
    return "".join(out)


def unescape_name(name: str) -> str:
    """Return the metadata name that :func:`escape_name` turned into ``name``."""
    if not name.startswith("_"):
        return name
    raw = _ESCAPE.sub(lambda match: "\x00" + match.group(1), name[1:])
    data = bytearray()
    parts = raw.split("\x00")
    data.extend(parts[0].encode())
    for part in parts[1:]:
        data.append(int(part[:2], 16))
        data.extend(part[2:].encode())
    return data.decode(errors="replace")


# The layers' own attributes travel as reserved metadata: escaped here so the core stores them under names
# Azure accepts, and restored on the way back.
_LAYER_KEYS = {
    "compression": "satchel_compression",
    "expiration": "satchel_expiration",
    "expires_at": "satchel_expires_at",
}


def escape_attributes(attributes: Attributes) -> Attributes:
    """Return ``attributes`` with metadata names escaped and layer attributes moved into escaped metadata."""
    layered = attributes.compression is not None or attributes.expiration is not None or attributes.expires_at
    if not attributes.metadata and not layered and attributes.content_type != DEFAULT_CONTENT_TYPE:
        return attributes
    metadata = {escape_name(name.lower()): value for name, value in attributes.metadata.items()}
    if attributes.content_type == DEFAULT_CONTENT_TYPE:
        metadata[_EXPLICIT_DEFAULT] = "1"
    layer = Attributes(
        compression=attributes.compression, expiration=attributes.expiration, expires_at=attributes.expires_at
    ).to_json()
    for field, name in _LAYER_KEYS.items():
        if field in layer:
            metadata[name] = _layer_value(field, layer[field])
    return dataclasses.replace(attributes, compression=None, expiration=None, expires_at=None, metadata=metadata)


def _layer_value(field: str, value: object) -> str:
    if field == "expiration" and isinstance(value, list):
        kind, seconds = value
        return f"{kind}:{seconds!r}"
    return repr(value) if field == "expires_at" else str(value)


def unescape_attributes(attributes: Attributes) -> Attributes:
    """Reverse :func:`escape_attributes` on attributes read back from Azure."""
    if not attributes.metadata and attributes.content_type != DEFAULT_CONTENT_TYPE:
        return attributes
    metadata: dict[str, str] = {}
    layer: dict[str, object] = {}
    by_name = {name: field for field, name in _LAYER_KEYS.items()}
    explicit = False
    for name, value in attributes.metadata.items():
        field = by_name.get(name.lower())
        if name.lower() == _EXPLICIT_DEFAULT:
            explicit = True
        elif field is None:
            metadata[unescape_name(name)] = value
        elif field == "expiration":
            kind, _, seconds = value.partition(":")
            layer[field] = [kind, float(seconds)]
        elif field == "expires_at":
            layer[field] = float(value)
        else:
            layer[field] = value
    restored = Attributes.from_json(layer)
    content_type = attributes.content_type
    if content_type == DEFAULT_CONTENT_TYPE and not explicit:
        content_type = None
    return dataclasses.replace(
        attributes,
        content_type=content_type,
        compression=restored.compression,
        expiration=restored.expiration,
        expires_at=restored.expires_at,
        metadata=metadata,
    )
