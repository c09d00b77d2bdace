"""A batch of operations as a command runs it: transfers in parallel, deletions in bulk, every result reported.

Each operation prints a line (``upload: SRC -> DST``) or a JSON object on stdout; each failure prints one error
line on stderr naming the path at fault. The batch's exit code follows :func:`satchel.cli.errors.batch_exit_code`.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass

from satchel.cli.attributes import ObjectAttributes
from satchel.cli.errors import Settings, batch_exit_code, describe, exit_code, report
from satchel.cli.listing import TEMP_SUFFIX
from satchel.cli.output import Output, human_size, human_time
from satchel.cli.paths import Local, Location, RemotePath, Stores, StoreSpec
from satchel.cli.progress import Meter, Mode
from satchel.cli.transfer import Cancelled, Job, Outcome, Transfers, operation_name
from satchel.errors import SatchelError

__all__ = ["Batch", "blame"]

_DELETE_BATCH = 1000


def blame(job: Job, error: BaseException) -> str:
    """Return the path a failed job's error concerns: the side whose key or file the error names, else the source."""
    sides = [side for side in (job.src, job.dst) if side is not None]
    if isinstance(error, SatchelError):
        remote = [side for side in sides if isinstance(side, RemotePath)]
        for named in remote:
            if error.key and (named.key == error.key or named.key.endswith("/" + error.key)):
                return named.display
        if len(remote) == 1:
            return remote[0].display
    elif isinstance(error, OSError) and error.filename:
        name = os.path.abspath(os.fspath(error.filename))
        for side in sides:
            if isinstance(side, Local) and name == os.path.abspath(side.path):
                return side.display
        if isinstance(job.dst, Local) and name.endswith(TEMP_SUFFIX):
            return job.dst.display
    return job.src.display


@dataclass
class Tally:
    """What a batch did: operations done, their bytes, and the exit codes of the failures."""

    done: int = 0
    size: int = 0
    failures: list[int] | None = None

    def failed(self) -> int:
        """Return the number of failed operations."""
        return len(self.failures or [])


class Batch:
    """Runs and reports the operations of one command."""

    def __init__(
        self,
        stores: Stores,
        output: Output,
        settings: Settings,
        *,
        attributes: ObjectAttributes | None = None,
        transfers: int = 1,
        progress: Mode = "off",
        label: str = "transfer",
    ) -> None:
        self.stores = stores
        self.output = output
        self.settings = settings
        self.meter = Meter(progress, label)
        self.transfers = Transfers(stores, self.meter, attributes or ObjectAttributes(), transfers)
        self.tally = Tally(failures=[])
        self.started = time.monotonic()

    def run(self, jobs: list[Job]) -> None:
        """Run (or with ``--dry-run`` print) the transfers ``jobs``; report each one as it ends.

        Raises:
            KeyboardInterrupt: Ctrl-C; the transfers in flight were stopped and cleaned up.
        """
        if self.output.dry_run:
            for job in jobs:
                self._reported(Outcome(job))
            return
        sizes = [job.size for job in jobs]
        total = None if any(size is None for size in sizes) else sum(size or 0 for size in sizes)
        self.meter.start(len(jobs), total)
        try:
            self.transfers.run(jobs, self._reported)
        finally:
            self.meter.stop()

    def delete(self, paths: list[Location]) -> None:
        """Delete local files one by one and objects in bulk, reporting each path."""
        if self.output.dry_run:
            for path in paths:
                self._reported(Outcome(Job(path, None)))
            return
        by_store: dict[StoreSpec, list[RemotePath]] = defaultdict(list)
        for path in paths:
            if isinstance(path, RemotePath):
                by_store[path.spec].append(path)
                continue
            try:
                self.transfers.delete(path)
            except OSError as error:
                self._reported(Outcome(Job(path, None), error))
            else:
                self._reported(Outcome(Job(path, None)))
        for spec, remote in by_store.items():
            store = self.stores.get(spec)
            for start in range(0, len(remote), _DELETE_BATCH):
                chunk = remote[start : start + _DELETE_BATCH]
                failure: Exception | None = None
                try:
                    store.delete_many([path.key for path in chunk])
                except Exception as error:  # noqa: BLE001 - reported per path; the other batches go on
                    failure = error
                for path in chunk:
                    self._reported(Outcome(Job(path, None), failure))

    def _reported(self, outcome: Outcome) -> None:
        job, error = outcome.job, outcome.error
        if isinstance(error, Cancelled):
            return
        source, destination = job.src.display, job.dst.display if job.dst is not None else None
        op = operation_name(job)
        if error is None:
            self.tally.done += 1
            self.tally.size += job.size or 0
            self.output.operation(op, source, destination, job.size)
            return
        assert self.tally.failures is not None
        self.tally.failures.append(exit_code(error))
        report(blame(job, error), error, self.settings)
        self.output.operation(op, source, destination, job.size, error=describe(error))

    def exit_code(self) -> int:
        """Return the batch's exit code."""
        return batch_exit_code(self.tally.failures or [], self.tally.done)

    def elapsed(self) -> float:
        """Return the seconds since the batch was made."""
        return time.monotonic() - self.started

    def summary(self, verb: str) -> str:
        """Return ``copied 3 files (12.0 KiB) in 0.4 s`` (with the failures, if any)."""
        done, failed = self.tally.done, self.tally.failed()
        files = "file" if done == 1 else "files"
        would = "would have " if self.output.dry_run else ""
        text = f"{would}{verb} {done} {files} ({human_size(self.tally.size)})"
        if not self.output.dry_run:
            text += f" in {human_time(self.elapsed())}"
        if failed:
            text += f"; {failed} failed"
        return text
