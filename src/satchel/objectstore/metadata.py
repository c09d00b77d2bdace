"""Object metadata and expiration policies, as ``objectstore_client.metadata`` (0.0.9) names them.

Expiration policies travel in the ``x-sn-expiration`` header as ``ttl:<duration>`` or ``tti:<duration>``; the
duration is written in the current protocol's format (``30d 1h``, spec a.6), not 0.0.9's ``30 days 3600
seconds``, and read back in either.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeVar, cast

from satchel.objectstore._wire import decode_header_value, format_duration, parse_duration

__all__ = [
    "HEADER_EXPIRATION",
    "HEADER_META_PREFIX",
    "Compression",
    "ExpirationPolicy",
    "Metadata",
    "TimeToIdle",
    "TimeToLive",
    "format_expiration",
    "itertools_batched",
    "parse_expiration",
]

Compression = Literal["zstd"] | Literal["none"]

HEADER_EXPIRATION = "x-sn-expiration"
HEADER_META_PREFIX = "x-snme-"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass
class TimeToIdle:
    """Expire the object once it has not been read for ``delta`` (every get counts as a read)."""

    delta: timedelta


@dataclass
class TimeToLive:
    """Expire the object ``delta`` after it was written."""

    delta: timedelta


ExpirationPolicy = TimeToIdle | TimeToLive


@dataclass
class Metadata:
    """What the server says about an object: content type, compression, expiration policy and custom metadata.

    ``compression`` is the encoding of the payload handed to the caller: ``None`` after a transparent
    decompression. ``custom`` names are lowercase (HTTP header names are case-insensitive).
    """

    content_type: str | None
    compression: Compression | None
    expiration_policy: ExpirationPolicy | None
    custom: dict[str, str]

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Metadata:
        """Build the metadata from response headers (names in any case; custom values percent-escaped, a.5).

        Raises:
            ValueError: an expiration header has a duration outside the grammar, or a custom value's escapes
                are not valid UTF-8.
        """
        content_type = _DEFAULT_CONTENT_TYPE
        compression: Compression | None = None
        expiration_policy = None
        custom = {}
        for name, value in headers.items():
            lowered = name.lower()
            if lowered == "content-type":
                content_type = value
            elif lowered == "content-encoding":
                # Any encoding passes through here; get() refuses to decompress what is not zstd.
                compression = cast(Compression, value)
            elif lowered == HEADER_EXPIRATION:
                expiration_policy = parse_expiration(value)
            elif lowered.startswith(HEADER_META_PREFIX):
                custom[lowered[len(HEADER_META_PREFIX) :]] = decode_header_value(value)
        return cls(content_type, compression, expiration_policy, custom)


def format_expiration(expiration_policy: ExpirationPolicy) -> str:
    """Write a policy as its header value: ``tti:30d 1h`` or ``ttl:90s``.

    Raises:
        TypeError: ``expiration_policy`` is neither a TimeToIdle nor a TimeToLive.
        ValueError: its duration is negative.
    """
    if isinstance(expiration_policy, TimeToIdle):
        return f"tti:{format_duration(expiration_policy.delta)}"
    if isinstance(expiration_policy, TimeToLive):
        return f"ttl:{format_duration(expiration_policy.delta)}"
    raise TypeError(f"not an expiration policy: {expiration_policy!r}")


def parse_expiration(value: str) -> ExpirationPolicy | None:
    """Read a policy header value: ``tti:<duration>`` or ``ttl:<duration>``; anything else (``manual``) is None.

    Raises:
        ValueError: the duration is outside the grammar (unknown unit, no number, ...).
    """
    if value.startswith("tti:"):
        return TimeToIdle(parse_duration(value[4:]))
    if value.startswith("ttl:"):
        return TimeToLive(parse_duration(value[4:]))
    return None


_T = TypeVar("_T")


def itertools_batched(iterable: Iterable[_T], n: int, strict: bool = False) -> Iterator[tuple[_T, ...]]:
    """Batch ``iterable`` into tuples of length ``n`` (the last may be shorter): ``itertools.batched`` for 3.11.

    Raises:
        ValueError: ``n`` is below 1, or ``strict`` is set and the last batch is short.
    """
    if n < 1:
        raise ValueError("n must be at least one")
    iterator = iter(iterable)
    while batch := tuple(itertools.islice(iterator, n)):
        if strict and len(batch) < n:
            raise ValueError("final batch is shorter than n")
        yield batch
