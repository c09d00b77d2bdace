"""Durations, expiration policies and timestamps as the Objectstore protocol writes them (spec a.6).

The server parses the humantime grammar the Rust server accepts (old clients send ``30 days 3600 seconds``, new
ones ``30d 1h``) but only ever emits ``d``/``h``/``m``/``s`` components, the one format every client reads back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from satchel.errors import ConfigError
from satchel.server.errors import ApiError
from satchel.types import TTI, TTL

__all__ = [
    "format_duration",
    "format_policy",
    "format_timestamp",
    "parse_duration",
    "parse_policy",
    "parse_timestamp",
]

_NANOS_PER_SECOND = 1_000_000_000

# Each unit's length in nanoseconds, so that ns/us/ms add up exactly before rounding to timedelta's microseconds.
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

# ASCII digits only: ``\d`` would also take other scripts' digits, which humantime does not.
_COMPONENT = re.compile(r"\s*([0-9]+)\s*([A-Za-z]+)")
_TRAILING_SPACE = re.compile(r"\s*")
# humantime counts in u64 nanoseconds; 20 digits is past that already, and it keeps int() cheap.
_MAX_DIGITS = 20

_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
)


def parse_duration(text: str) -> timedelta:
    """Parse a humantime duration such as ``30d 1h``, ``1 days`` or ``90 seconds``.

    The grammar is ``<int>`` optional whitespace ``<unit>``, repeated with optional whitespace; units are
    case-sensitive (``M`` is months of 2 630 016 s, ``m`` minutes). Fractions below a microsecond are dropped.

    Raises:
        ApiError: 400 when the text is empty, has an unknown unit, a sign, a fraction or anything else outside
            the grammar, or is too long for a timedelta.
    """
    total = 0
    position = 0
    while (match := _COMPONENT.match(text, position)) is not None:
        number, unit = match.groups()
        nanos = _UNIT_NANOS.get(unit)
        if nanos is None:
            raise ApiError(400, f"invalid duration {text!r}: unknown unit {unit!r}")
        if len(number) > _MAX_DIGITS:
            raise ApiError(400, f"invalid duration {text!r}: number too large")
        total += int(number) * nanos
        position = match.end()
    if position == 0 or _TRAILING_SPACE.fullmatch(text, position) is None:
        raise ApiError(400, f"invalid duration {text!r}: expected '<number><unit>' components such as '30d 1h'")
    try:
        return timedelta(microseconds=total // 1_000)
    except OverflowError:
        raise ApiError(400, f"invalid duration {text!r}: too long") from None


def format_duration(delta: timedelta) -> str:
    """Write a duration as ``d``/``h``/``m``/``s`` components, largest first (``400d``, ``30d 1h``, ``0s``).

    Zero components are left out and sub-second parts truncated; weeks, months and years are never used.

    Raises:
        ValueError: the duration is negative.
    """
    if delta < timedelta(0):
        raise ValueError(f"cannot format a negative duration: {delta}")
    seconds = delta.days * 86_400 + delta.seconds
    parts = [
        (seconds // 86_400, "d"),
        (seconds % 86_400 // 3_600, "h"),
        (seconds % 3_600 // 60, "m"),
        (seconds % 60, "s"),
    ]
    return " ".join(f"{value}{unit}" for value, unit in parts if value) or "0s"


def parse_policy(text: str) -> TTL | TTI | None:
    """Parse an ``x-sn-expiration`` value: ``manual`` (None), ``ttl:<duration>`` or ``tti:<duration>``.

    Raises:
        ApiError: 400 for any other form, an unparsable duration, or a duration of zero.
    """
    if text == "manual":
        return None
    kind, colon, duration = text.partition(":")
    if not colon or kind not in ("ttl", "tti"):
        raise ApiError(400, f"invalid expiration policy {text!r}: expected 'manual', 'ttl:<dur>' or 'tti:<dur>'")
    delta = parse_duration(duration)
    try:
        return TTL(delta) if kind == "ttl" else TTI(delta)
    except ConfigError:
        raise ApiError(400, f"invalid expiration policy {text!r}: the duration must be positive") from None


def format_policy(policy: TTL | TTI | None) -> str | None:
    """Write a policy as ``ttl:<duration>`` or ``tti:<duration>``; manual (None) gives None: the header is omitted."""
    if policy is None:
        return None
    kind = "ttl" if isinstance(policy, TTL) else "tti"
    return f"{kind}:{format_duration(policy.delta)}"


def format_timestamp(moment: datetime) -> str:
    """Write an instant as RFC 3339 UTC with microseconds and ``Z`` (``2026-07-23T14:50:02.123456Z``).

    A naive datetime is taken to be UTC already.
    """
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with ``Z`` or a numeric offset, returning an aware UTC datetime.

    Fractional digits past microseconds are truncated.

    Raises:
        ApiError: 422 when the text is not an RFC 3339 date-time with an offset, or names an impossible instant.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ApiError(422, f"invalid timestamp {text!r}: expected RFC 3339 such as '2030-01-01T00:00:00Z'")
    offset = timedelta(0)
    if match["utc"] is None:
        offset = timedelta(hours=int(match["offset_hour"]), minutes=int(match["offset_minute"]))
        if match["sign"] == "-":
            offset = -offset
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        local = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=timezone(offset),
        )
        return local.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ApiError(422, f"invalid timestamp {text!r}: no such instant") from None
