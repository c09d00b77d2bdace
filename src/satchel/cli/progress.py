"""The progress of a batch of transfers: a rich display on a terminal, a plain line every few seconds otherwise.

Workers only add to counters under a lock; one display thread reads them, so progress costs the transfers
almost nothing whatever the number of chunks. Progress goes to stderr. On a terminal it shows bytes, rate,
ETA and files done; elsewhere it prints ``satchel: progress: 3/10 files, 12.0 MiB of 50.0 MiB, 3.1 MiB/s,
ETA 12 s`` every ``SATCHEL_PROGRESS_INTERVAL`` seconds (default 5).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Literal

import click

from satchel.cli.output import human_size, human_time

__all__ = ["Meter", "choose_mode"]

Mode = Literal["rich", "lines", "off"]
DEFAULT_INTERVAL = 5.0


def choose_mode(progress: bool | None, quiet: bool) -> Mode:
    """Pick the display: off with ``--quiet`` or ``--no-progress``; rich on a terminal; plain lines elsewhere."""
    if quiet or progress is False:
        return "off"
    return "rich" if sys.stderr.isatty() else "lines"


def _interval() -> float:
    try:
        return max(0.05, float(os.environ.get("SATCHEL_PROGRESS_INTERVAL", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


class Meter:
    """Counts the bytes and files of one batch (thread-safe) and shows them while it runs."""

    def __init__(self, mode: Mode, label: str = "transfer") -> None:
        self.mode = mode
        self.label = label
        self._lock = threading.Lock()
        self._bytes = 0
        self._total_bytes: int | None = 0
        self._files = 0
        self._total_files = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- counters (any thread) -------------------------------------------------------------------------

    def advance(self, count: int) -> None:
        """Add ``count`` bytes moved (negative when a retry rewinds)."""
        with self._lock:
            self._bytes += count

    def file_done(self) -> None:
        """Count one file finished (done, failed or skipped)."""
        with self._lock:
            self._files += 1

    def snapshot(self) -> tuple[int, int | None, int, int, float]:
        """Return bytes done, total bytes (None if unknown), files done, total files and seconds elapsed."""
        with self._lock:
            return self._bytes, self._total_bytes, self._files, self._total_files, time.monotonic() - self._started

    # --- display (the main thread) ---------------------------------------------------------------------

    def start(self, files: int, total_bytes: int | None) -> None:
        """Start showing progress of ``files`` transfers of ``total_bytes`` bytes (None if unknown)."""
        with self._lock:
            self._total_files = files
            self._total_bytes = total_bytes
            self._started = time.monotonic()
        if self.mode == "off":
            return
        target = self._rich_loop if self.mode == "rich" else self._lines_loop
        self._thread = threading.Thread(target=target, name="satchel-progress", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the display (the rich display leaves its final state on screen)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def line(self) -> str:
        """Return the plain progress line of the current counters."""
        done, total, files, total_files, elapsed = self.snapshot()
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [f"{files}/{total_files} files", human_size(done) + (f" of {human_size(total)}" if total else "")]
        parts.append(f"{human_size(rate)}/s")
        if total and rate > 0 and done < total:
            parts.append(f"ETA {human_time((total - done) / rate)}")
        return f"satchel: {self.label}: " + ", ".join(parts)

    def _lines_loop(self) -> None:
        interval = _interval()
        while not self._stop.wait(interval):
            click.echo(self.line(), err=True)

    def _rich_loop(self) -> None:
        # rich is imported only when a terminal shows progress: it costs startup time every other run.
        from rich.console import Console  # noqa: PLC0415
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(stderr=True)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[files]}"),
        )
        # stdout is redirected into the display only when it is the same terminal; otherwise rich would move
        # the per-file lines a script reads from stdout over to stderr.
        with Progress(*columns, console=console, redirect_stdout=sys.stdout.isatty(), refresh_per_second=10) as bar:
            _, total, _, total_files, _ = self.snapshot()
            task = bar.add_task(self.label, total=total or None, files=f"0/{total_files} files")
            while True:
                stopping = self._stop.wait(0.1)
                done, total, files, total_files, _ = self.snapshot()
                bar.update(task, completed=done, total=total or None, files=f"{files}/{total_files} files")
                if stopping:
                    break
