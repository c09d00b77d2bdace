"""Durations as the Objectstore protocol writes them (spec a.6), shared by the server, its clients and the CLI.

``parse_duration`` reads the humantime grammar the Rust server accepts (old clients send
``30 days 3600 seconds``, new ones ``30d 1h``); ``format_duration`` writes only ``d``/``h``/``m``/``s``
components, the one format every client reads back.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

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


def parse_duration(text: str) -> timedelta:
    """Parse a humantime duration such as ``30d 1h``, ``1 days`` or ``90 seconds``.

    The grammar is ``<int>`` optional whitespace ``<unit>``, repeated with optional whitespace; units are
    case-sensitive (``M`` is months of 2 630 016 s, ``m`` minutes). Fractions below a microsecond are dropped.

    Raises:
        ValueError: the text is empty, has an unknown unit, a sign, a fraction or anything else outside the
            grammar, or is too long for a timedelta.
    """
    total = 0
    position = 0
    while (match := _COMPONENT.match(text, position)) is not None:
        number, unit = match.groups()
        nanos = _UNIT_NANOS.get(unit)
        if nanos is None:
            raise ValueError(f"invalid duration {text!r}: unknown unit {unit!r}")
        if len(number) > _MAX_DIGITS:
            raise ValueError(f"invalid duration {text!r}: number too large")
        total += int(number) * nanos
        position = match.end()
    if position == 0 or _TRAILING_SPACE.fullmatch(text, position) is None:
        raise ValueError(f"invalid duration {text!r}: expected '<number><unit>' components such as '30d 1h'")
    try:
        return timedelta(microseconds=total // 1_000)
    except OverflowError:
        raise ValueError(f"invalid duration {text!r}: too long") from None


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
