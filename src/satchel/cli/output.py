"""What commands print: per-operation lines (or JSON objects) on stdout, notes and summaries on stderr."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

__all__ = ["Output", "human_size", "human_time", "iso_time"]

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: float) -> str:
    """Return ``size`` bytes in binary units: ``512 B``, ``4.0 KiB``, ``1.5 GiB``."""
    if size < 1024:
        return f"{int(size)} B"
    for unit in _UNITS:
        size /= 1024
        if size < 1024 or unit == _UNITS[-1]:
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def human_time(seconds: float) -> str:
    """Return a duration as ``0.4 s``, ``12 s``, ``3m05s`` or ``2h01m``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def iso_time(when: datetime | float) -> str:
    """Return a UTC ISO 8601 timestamp (``2026-01-02T03:04:05.678+00:00``)."""
    moment = datetime.fromtimestamp(when, UTC) if isinstance(when, int | float) else when.astimezone(UTC)
    return moment.isoformat()


class Output:
    """Prints for one command: ``--json`` objects or human lines on stdout; notes on stderr unless ``--quiet``.

    Error lines are printed by :mod:`satchel.cli.errors` whatever ``--quiet`` says.
    """

    def __init__(self, *, json_lines: bool = False, quiet: bool = False, dry_run: bool = False) -> None:
        self.json_lines = json_lines
        self.quiet = quiet
        self.dry_run = dry_run

    def record(self, data: dict[str, Any]) -> None:
        """Print one JSON object on its own line."""
        click.echo(json.dumps(data, ensure_ascii=False, default=str))

    def line(self, text: str) -> None:
        """Print a line on stdout unless ``--quiet`` (used for human listings and per-operation lines)."""
        if not self.quiet:
            click.echo(text)

    def note(self, text: str) -> None:
        """Print ``satchel: TEXT`` on stderr unless ``--quiet``."""
        if not self.quiet:
            click.echo(f"satchel: {text}", err=True)

    def operation(
        self, op: str, source: str, destination: str | None, size: int | None, *, error: str | None = None
    ) -> None:
        """Report one transfer or deletion: a JSON object with ``--json``, else ``op: SRC -> DST`` when it worked.

        Failed operations print no human line here (their error line says it); with ``--json`` they get an
        object with ``"status": "failed"`` and the error.
        """
        status = "failed" if error is not None else ("dry-run" if self.dry_run else "done")
        if self.json_lines:
            data: dict[str, Any] = {"op": op, "source": source}
            if destination is not None:
                data["destination"] = destination
            data["size"] = size
            data["status"] = status
            if error is not None:
                data["error"] = error
            self.record(data)
            return
        if error is not None:
            return
        target = f" -> {destination}" if destination is not None else ""
        self.line(f"{'(dry run) ' if self.dry_run else ''}{op}: {source}{target}")
