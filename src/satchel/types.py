"""Value types shared by the Store, the layers and the backends: frozen dataclasses and small enums."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from satchel.errors import ConfigError, RangeNotSatisfiable

__all__ = [
    "NO_ATTRIBUTES",
    "TTI",
    "TTL",
    "Attributes",
    "ByteRange",
    "Capabilities",
    "CopyOptions",
    "DeleteOptions",
    "ExpirationPolicy",
    "GetOptions",
    "ListResult",
    "ObjectMeta",
    "Part",
    "PutMode",
    "PutOptions",
    "PutResult",
]

Compression = Literal["zstd"]


def _as_delta(value: timedelta | float, what: str) -> timedelta:
    delta = value if isinstance(value, timedelta) else timedelta(seconds=value)
    if delta <= timedelta(0):
        raise ConfigError(f"{what} must be positive, got {delta}")
    return delta


@dataclass(frozen=True, init=False)
class TTL:
    """Time to live: the object expires this long after it was written (an overwrite resets the clock)."""

    delta: timedelta

    def __init__(self, delta: timedelta | float) -> None:
        """Make a TTL from a timedelta or a number of seconds.

        Raises:
            ConfigError: the duration is zero or negative.
        """
        object.__setattr__(self, "delta", _as_delta(delta, "TTL"))


@dataclass(frozen=True, init=False)
class TTI:
    """Time to idle: the object expires this long after it was last written or read."""

    delta: timedelta

    def __init__(self, delta: timedelta | float) -> None:
        """Make a TTI from a timedelta or a number of seconds.

        Raises:
            ConfigError: the duration is zero or negative.
        """
        object.__setattr__(self, "delta", _as_delta(delta, "TTI"))


ExpirationPolicy = TTL | TTI


@dataclass(frozen=True)
class Attributes:
    """What is stored with an object besides its bytes.

    ``compression`` and ``expiration``/``expires_at`` are written by the compression and expiration layers;
    ``metadata`` is the caller's own string-to-string map.
    """

    content_type: str | None = None
    content_encoding: str | None = None
    content_disposition: str | None = None
    content_language: str | None = None
    cache_control: str | None = None
    compression: Compression | None = None
    expiration: ExpirationPolicy | None = None
    expires_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict, hash=False)

    def is_empty(self) -> bool:
        """Return True when no attribute is set."""
        return self is _EMPTY_ATTRIBUTES or self == _EMPTY_ATTRIBUTES

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serializable dict holding only the attributes that are set."""
        out: dict[str, Any] = {}
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.expiration is not None:
            kind = "ttl" if isinstance(self.expiration, TTL) else "tti"
            out["expiration"] = [kind, self.expiration.delta.total_seconds()]
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at.timestamp()
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attributes:
        """Rebuild attributes from :meth:`to_json` output; unknown fields are ignored."""
        kwargs: dict[str, Any] = {name: data[name] for name in _TEXT_FIELDS if name in data}
        expiration = data.get("expiration")
        if expiration is not None:
            kind, seconds = expiration
            kwargs["expiration"] = TTL(seconds) if kind == "ttl" else TTI(seconds)
        if data.get("expires_at") is not None:
            kwargs["expires_at"] = datetime.fromtimestamp(data["expires_at"], UTC)
        if data.get("metadata"):
            kwargs["metadata"] = dict(data["metadata"])
        return cls(**kwargs)


_TEXT_FIELDS = (
    "content_type",
    "content_encoding",
    "content_disposition",
    "content_language",
    "cache_control",
    "compression",
)
NO_ATTRIBUTES = Attributes()
"""The shared empty :class:`Attributes`. Backends describe objects that have none with this one instance, so a
hot path can tell them apart with ``is`` instead of comparing nine fields."""
_EMPTY_ATTRIBUTES = NO_ATTRIBUTES


@dataclass(frozen=True)
class ObjectMeta:
    """What is known about a stored object without reading its bytes."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime
    version: str | None = None
    attributes: Attributes = _EMPTY_ATTRIBUTES

    @property
    def content_type(self) -> str | None:
        """The object's content type, if one was stored."""
        return self.attributes.content_type

    @property
    def metadata(self) -> Mapping[str, str]:
        """The caller's custom metadata."""
        return self.attributes.metadata

    @property
    def expires_at(self) -> datetime | None:
        """When the object expires, or None if it never does."""
        return self.attributes.expires_at


class PutMode(enum.Enum):
    """How a put treats an existing object."""

    OVERWRITE = "overwrite"
    CREATE = "create"
    UPDATE = "update"


@dataclass(frozen=True)
class PutOptions:
    """Options of one write.

    ``mode=UPDATE`` requires ``if_match`` (the etag the caller last saw). ``compression`` and ``expiration``
    are instructions for the layers of the same name; a backend reached with either still set raises
    ``NotSupported`` rather than silently dropping it.
    """

    mode: PutMode = PutMode.OVERWRITE
    if_match: str | None = None
    attributes: Attributes = _EMPTY_ATTRIBUTES
    compression: Compression | None = None
    expiration: ExpirationPolicy | None = None

    def __post_init__(self) -> None:
        if (self.mode is PutMode.UPDATE) != (self.if_match is not None):
            raise ConfigError("mode=UPDATE and if_match go together")


@dataclass(frozen=True)
class PutResult:
    """What a write returns: the new object's etag and version, when the backend has them."""

    etag: str | None
    version: str | None = None


@dataclass(frozen=True)
class ByteRange:
    """A byte range of an object, with an exclusive end as Python slices have.

    Build one with :meth:`bounded`, :meth:`from_offset` or :meth:`last`.
    """

    start: int = 0
    end: int | None = None
    suffix: int | None = None

    def __post_init__(self) -> None:
        if self.suffix is not None:
            if self.suffix <= 0 or self.start != 0 or self.end is not None:
                raise ConfigError("a suffix range takes a positive length and nothing else")
        elif self.start < 0 or (self.end is not None and self.end <= self.start):
            raise ConfigError(f"invalid byte range start={self.start} end={self.end}")

    @classmethod
    def bounded(cls, start: int, end: int) -> ByteRange:
        """Bytes ``start`` up to (not including) ``end``."""
        return cls(start=start, end=end)

    @classmethod
    def from_offset(cls, start: int) -> ByteRange:
        """Bytes from ``start`` to the end of the object."""
        return cls(start=start)

    @classmethod
    def last(cls, length: int) -> ByteRange:
        """The last ``length`` bytes (the whole object if it is shorter)."""
        return cls(suffix=length)

    def resolve(self, size: int) -> tuple[int, int]:
        """Return the concrete ``(start, end)`` of this range in an object of ``size`` bytes.

        An end past the object clamps to its size; a suffix longer than the object covers all of it.

        Raises:
            RangeNotSatisfiable: the range starts at or after the end of the object.
        """
        if self.suffix is not None:
            if size == 0:
                raise RangeNotSatisfiable("suffix range of an empty object")
            return max(0, size - self.suffix), size
        if self.start >= size:
            raise RangeNotSatisfiable(f"range starts at {self.start} but the object has {size} bytes")
        end = size if self.end is None else min(self.end, size)
        return self.start, end


@dataclass(frozen=True)
class GetOptions:
    """Options of one read.

    ``head=True`` returns metadata and an empty body. ``decompress`` is an instruction for the compression
    layer (False returns the stored bytes).
    """

    range: ByteRange | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: datetime | None = None
    if_unmodified_since: datetime | None = None
    head: bool = False
    decompress: bool = True


@dataclass(frozen=True)
class DeleteOptions:
    """Options of a single-key delete: ``if_match`` deletes only the version with that etag."""

    if_match: str | None = None


@dataclass(frozen=True)
class CopyOptions:
    """Options of a copy or rename.

    ``overwrite=False`` fails with ``AlreadyExists`` if the destination exists (atomically, where the backend
    declares ``copy_if_not_exists``). ``attributes``, when given, replace the source's attributes on the
    destination; copying a key onto itself with new attributes is how metadata is updated in place.
    """

    overwrite: bool = True
    attributes: Attributes | None = None


@dataclass(frozen=True)
class Part:
    """One uploaded part of a multipart upload."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True)
class ListResult:
    """One level of a listing: the objects directly under a prefix and the common prefixes below it."""

    objects: list[ObjectMeta]
    common_prefixes: list[str]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do natively. The Store raises ``NotSupported`` before any I/O for what it cannot."""

    conditional_create: bool = True
    conditional_update: bool = True
    conditional_delete: bool = True
    conditional_get: bool = True
    ranges: bool = True
    attributes: bool = True
    copy: bool = True
    copy_if_not_exists: bool = True
    rename: bool = True
    multipart: bool = True
    signing: bool = False
    list_attributes: bool = True
    file_and_prefix: bool = True
    max_delete_batch: int = 1000
    min_part_size: int = 0
    max_parts: int = 10_000
