"""A MetricsBackend that keeps what it receives, for tests of the metrics layer and of code that uses it."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["RecordingMetrics"]


class RecordingMetrics:
    """A :class:`~satchel.layers.metrics.MetricsBackend` that records every distribution value in order."""

    def __init__(self) -> None:
        self.values: list[tuple[str, float, dict[str, str], str | None]] = []

    def distribution(
        self, name: str, value: int | float, tags: Mapping[str, str] | None = None, unit: str | None = None
    ) -> None:
        """Record one value of the distribution ``name``."""
        self.values.append((name, value, dict(tags or {}), unit))

    def named(self, name: str) -> list[tuple[float, dict[str, str], str | None]]:
        """Return the ``(value, tags, unit)`` recorded for ``name``, oldest first."""
        return [(value, tags, unit) for n, value, tags, unit in self.values if n == name]
