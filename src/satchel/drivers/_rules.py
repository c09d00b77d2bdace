"""The rules of the driver that need no store: names, byte ranges, and upload attributes from ``extra``/``headers``."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

from satchel.errors import InvalidPath, NotSupported
from satchel.path import Key
from satchel.types import ByteRange

__all__ = [
    "CONTAINER_MARKER",
    "EXTRA_ATTRIBUTES",
    "RESERVED_CONTAINER",
    "check_chunk_size",
    "container_name_problem",
    "marker_key",
    "put_attributes",
    "to_byte_range",
    "unquote",
]

CONTAINER_MARKER = ".satchel-container"
"""The reserved object name of the empty marker ``create_container`` writes, so an empty container exists."""

RESERVED_CONTAINER = ".satchel"
"""The first key segment backends keep their own files under: never a container."""

EXTRA_ATTRIBUTES = ("content_type", "content_encoding", "content_disposition", "content_language", "cache_control")
"""The ``extra`` keys that are content attributes, named as in :class:`satchel.Attributes`."""

_HEADER_ATTRIBUTES = {name.replace("_", "-"): name for name in EXTRA_ATTRIBUTES}
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


def marker_key(container_name: str) -> str:
    """Return the key of a container's marker object."""
    return f"{container_name}/{CONTAINER_MARKER}"


def container_name_problem(name: str) -> str | None:
    """Return why ``name`` cannot name a container, or None if it can."""
    if not isinstance(name, str) or not name:
        return "a container name must be a non-empty str"
    if "/" in name:
        return "a container name must not contain '/'"
    if name == RESERVED_CONTAINER:
        return f"{RESERVED_CONTAINER!r} is reserved for the backends' own files"
    try:
        Key.parse(name)
    except InvalidPath as err:
        return err.message
    return None


def unquote(etag: str | None) -> str | None:
    """Return an etag without its quotes (libcloud's ``Object.hash``)."""
    return etag.strip('"') if etag is not None else None


def to_byte_range(start_bytes: int, end_bytes: int | None) -> ByteRange | None:
    """Return the range of libcloud's ``start_bytes``/``end_bytes`` (exclusive, as ``ByteRange``'s end).

    None means the whole object: from 0 to the end is a plain read, which also serves an empty object.

    Raises:
        ValueError: ``start_bytes`` is negative, or ``end_bytes`` is not greater than it (libcloud's messages).
    """
    if start_bytes < 0:
        raise ValueError("start_bytes must be greater than 0")
    if end_bytes is not None:
        if start_bytes > end_bytes:
            raise ValueError("start_bytes must be smaller than end_bytes")
        if start_bytes == end_bytes:
            raise ValueError("start_bytes and end_bytes can't be the same. end_bytes is non-inclusive")
        return ByteRange.bounded(start_bytes, end_bytes)
    return None if start_bytes == 0 else ByteRange.from_offset(start_bytes)


def check_chunk_size(chunk_size: int | None) -> None:
    """Refuse a chunk size of 0 or less.

    Raises:
        ValueError: ``chunk_size`` is not positive.
    """
    if chunk_size is not None and chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")


def put_attributes(
    extra: Mapping[str, Any] | None, headers: Mapping[str, str] | None, name: str, keeps_attributes: bool
) -> dict[str, Any]:
    """Return the keywords of ``Store.put`` that libcloud's ``extra`` and ``headers`` ask for.

    ``extra`` wins over ``headers``. Without a content type, one is guessed from ``name`` (as libcloud does),
    and only on a store that ``keeps_attributes``.

    Raises:
        NotSupported: an ``extra`` key or a header satchel cannot store (``acl``, CORS headers, ...).
    """
    attributes: dict[str, Any] = {}
    for header, value in (headers or {}).items():
        field = _HEADER_ATTRIBUTES.get(header.lower())
        if field is None:
            raise NotSupported(f"satchel cannot store the header {header!r}", operation="put")
        attributes[field] = value
    for field, value in (extra or {}).items():
        if field == "meta_data":
            attributes["metadata"] = dict(value or {})
        elif field in EXTRA_ATTRIBUTES:
            attributes[field] = value
        else:
            raise NotSupported(f"satchel cannot store the extra attribute {field!r}", operation="put")
    if attributes.get("content_type") is None:
        attributes.pop("content_type", None)
        if keeps_attributes:
            attributes["content_type"] = mimetypes.guess_type(name)[0] or _DEFAULT_CONTENT_TYPE
    return attributes
