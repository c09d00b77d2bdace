"""Running transfers in parallel: uploads, downloads, copies and moves between local files, stores and stdio.

Each job runs in a worker thread; results come back to the main thread, which prints them. Uploads stream
the file into :meth:`satchel.Store.put` (multipart for large files happens inside the store). Downloads and
local copies are written to ``.NAME.RANDOM.satchel-part`` beside the destination and renamed into place with
the source's modification time, so the next ``sync`` sees them as current. A copy between two stores streams
through this process, or is one ``Store.copy`` when both paths are in the same store.

Ctrl-C sets a cancel flag that every transfer checks at each chunk: the transfer raises, its temporary file is
removed, an upload in progress is aborted by the store, and the batch ends with KeyboardInterrupt. A worker
stuck in a blocking read (a silent pipe) cannot be stopped from outside; after a grace period the process
removes the temporary files it knows of and exits with 130 at once.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, BinaryIO

import click

from satchel.body import CHUNK_SIZE
from satchel.cli.attributes import ObjectAttributes
from satchel.cli.errors import INTERRUPTED
from satchel.cli.listing import TEMP_SUFFIX
from satchel.cli.paths import Local, Location, RemotePath, StdStream, Stores
from satchel.cli.progress import Meter

__all__ = ["Cancelled", "Job", "Outcome", "Transfers", "operation_name"]

GRACE_SECONDS = 5.0


class Cancelled(Exception):
    """The batch was interrupted: the transfer stopped and removed what it had written."""


@dataclass(frozen=True)
class Job:
    """One operation: copy ``src`` to ``dst`` (then delete ``src`` with ``move``), or delete ``src`` (no ``dst``)."""

    src: Location
    dst: Location | None
    size: int | None = None
    move: bool = False


def operation_name(job: Job) -> str:
    """Return what the job does, in the words of ``aws s3``: upload, download, copy, move or delete."""
    if job.dst is None:
        return "delete"
    if job.move:
        return "move"
    if isinstance(job.dst, RemotePath) and not isinstance(job.src, RemotePath):
        return "upload"
    if isinstance(job.src, RemotePath) and not isinstance(job.dst, RemotePath):
        return "download"
    return "copy"


@dataclass
class Outcome:
    """The result of one job: ``error`` is None when it worked."""

    job: Job
    error: BaseException | None = None


class Transfers:
    """Runs jobs on ``workers`` threads, counting bytes on ``meter``, with ``attributes`` for written objects."""

    def __init__(self, stores: Stores, meter: Meter, attributes: ObjectAttributes, workers: int) -> None:
        self.stores = stores
        self.meter = meter
        self.attributes = attributes
        self.workers = max(1, workers)
        self.cancel = threading.Event()
        self._temps: set[str] = set()
        self._lock = threading.Lock()

    def run(self, jobs: Iterable[Job], on_done: Callable[[Outcome], None]) -> None:
        """Run every job, calling ``on_done`` in this thread as each one ends.

        Raises:
            KeyboardInterrupt: Ctrl-C; the transfers in flight were stopped and cleaned up first.
        """
        queue = iter(jobs)
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="satchel-transfer")
        running: dict[Future[Outcome], Job] = {}
        try:
            for job in itertools.islice(queue, self.workers * 2):
                running[pool.submit(self._one, job)] = job
            while running:
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    del running[future]
                    self.meter.file_done()
                    on_done(future.result())
                    following = next(queue, None)
                    if following is not None:
                        running[pool.submit(self._one, following)] = following
        except KeyboardInterrupt:
            self._interrupt(pool, running)
            raise
        pool.shutdown(wait=True)

    def _interrupt(self, pool: ThreadPoolExecutor, running: Mapping[Future[Outcome], Job]) -> None:
        self.cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
        # Futures cancelled before they started never count as done for wait(): leave them out.
        started = [future for future in running if not future.cancelled()]
        with contextlib.suppress(KeyboardInterrupt):
            wait(started, timeout=GRACE_SECONDS)
        self._remove_temps()
        if not all(future.done() for future in started):
            # The interpreter joins worker threads at exit, so a worker blocked in a read would hang it.
            click.echo("satchel: interrupted", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED)

    def _one(self, job: Job) -> Outcome:
        try:
            self.execute(job)
        except Exception as error:  # noqa: BLE001 - one failed file is reported; the batch goes on
            return Outcome(job, error)
        return Outcome(job)

    def tick(self, count: int) -> None:
        """Count ``count`` bytes moved; raise :class:`Cancelled` once the batch is interrupted."""
        if self.cancel.is_set():
            raise Cancelled("interrupted")
        self.meter.advance(count)

    # --- one job ----------------------------------------------------------------------------------------

    def execute(self, job: Job) -> None:
        """Do one job in the calling thread.

        Raises:
            Cancelled: the batch was interrupted.
            SatchelError, OSError: the transfer failed; the destination is left as it was.
        """
        src, dst = job.src, job.dst
        if dst is None:
            self.delete(src)
            return
        if isinstance(src, RemotePath) and isinstance(dst, RemotePath):
            if self._same_store_copy(src, dst, job):
                return
            self._stream_between_stores(src, dst)
        elif isinstance(dst, RemotePath):
            self._upload(src, dst)
        elif isinstance(dst, Local):
            if self._to_local(src, dst, job):
                return
        else:
            self._to_stdout(src)
        if job.move:
            self.delete(src)

    def delete(self, path: Location) -> None:
        """Delete a local file or an object (a missing object is not an error)."""
        if isinstance(path, Local):
            os.unlink(path.path)
        elif isinstance(path, RemotePath):
            self.stores.get(path.spec).delete(path.key)

    def _same_store_copy(self, src: RemotePath, dst: RemotePath, job: Job) -> bool:
        store = self.stores.get(src.spec)
        if src.spec != dst.spec or self.attributes.given() or not store.backend.capabilities.copy:
            return False
        self.tick(0)
        if job.move:
            store.move(src.key, dst.key)
        else:
            store.copy(src.key, dst.key)
        self.tick(job.size or 0)
        return True

    def _stream_between_stores(self, src: RemotePath, dst: RemotePath) -> None:
        result = self.stores.get(src.spec).get(src.key)
        attributes = result.meta.attributes
        inherited: dict[str, Any] = {
            name: value
            for name in ("content_type", "content_encoding", "content_disposition", "content_language", "cache_control")
            if (value := getattr(attributes, name)) is not None
        }
        if attributes.metadata:
            inherited["metadata"] = dict(attributes.metadata)
        with result.body as body:
            reader = _CountingReader(body, self.tick)
            self.stores.get(dst.spec).put(dst.key, reader, **self.attributes.put_options(dst.name, inherited))

    def _upload(self, src: Location, dst: RemotePath) -> None:
        store = self.stores.get(dst.spec)
        options = self.attributes.put_options(dst.name)
        if isinstance(src, StdStream):
            store.put(dst.key, _CountingReader(sys.stdin.buffer, self.tick), **options)
            return
        assert isinstance(src, Local)
        # Unbuffered, as every local read here: a read returns what a pipe holds, so progress and Ctrl-C are seen
        # while a slow source trickles in.
        with open(src.path, "rb", buffering=0) as source:
            store.put(dst.key, _CountingReader(source, self.tick), **options)

    def _to_local(self, src: Location, dst: Local, job: Job) -> bool:
        """Write ``src`` to the local file ``dst``; return True when a move renamed the source into place."""
        folder = os.path.dirname(os.path.abspath(dst.path))
        os.makedirs(folder, exist_ok=True)
        if isinstance(src, Local) and job.move:
            try:
                os.rename(src.path, dst.path)
            except OSError:
                pass  # another filesystem, most likely: copy, then the caller deletes the source
            else:
                self.tick(job.size or 0)
                return True
        if isinstance(src, RemotePath):
            result = self.stores.get(src.spec).get(src.key)
            with result.body as body:
                self._write_local(body, dst.path, result.meta.last_modified.timestamp())
        elif isinstance(src, Local):
            with open(src.path, "rb", buffering=0) as source:
                self._write_local(source, dst.path, os.fstat(source.fileno()).st_mtime)
        else:
            self._write_local(_stdin(), dst.path, None)
        return False

    def _write_local(self, source: Any, target: str, mtime: float | None) -> None:
        temp = os.path.join(
            os.path.dirname(os.path.abspath(target)),
            f".{os.path.basename(target)}.{secrets.token_hex(6)}{TEMP_SUFFIX}",
        )
        # O_EXCL with a random name rather than mkstemp, so the file gets the usual umask-based permissions.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with self._lock:
            self._temps.add(temp)
        try:
            with open(fd, "wb", buffering=0, closefd=True) as out:
                while chunk := source.read(CHUNK_SIZE):
                    self.tick(0)
                    out.write(chunk)
                    self.tick(len(chunk))
            if mtime is not None:
                os.utime(temp, (mtime, mtime))
            # A source cut short by the interrupt (a pipe whose writer died) ends like a complete one.
            self.tick(0)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        finally:
            with self._lock:
                self._temps.discard(temp)

    def _to_stdout(self, src: Location) -> None:
        out = sys.stdout.buffer
        if isinstance(src, RemotePath):
            with self.stores.get(src.spec).get(src.key).body as body:
                _pump(body, out, self.tick)
        elif isinstance(src, Local):
            with open(src.path, "rb", buffering=0) as source:
                _pump(source, out, self.tick)
        else:
            _pump(_stdin(), out, self.tick)
        out.flush()

    def _remove_temps(self) -> None:
        with self._lock:
            temps, self._temps = self._temps, set()
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)


def _stdin() -> _CountingReader:
    """Standard input read a pipe's worth at a time (not a full buffer), with nothing counted."""
    return _CountingReader(sys.stdin.buffer, lambda count: None)


def _pump(source: Any, out: BinaryIO, tick: Callable[[int], None]) -> None:
    while chunk := source.read(CHUNK_SIZE):
        tick(0)
        out.write(chunk)
        tick(len(chunk))


class _CountingReader:
    """A binary stream that reports each read to ``tick`` (which raises once the batch is cancelled).

    Every read ticks, the last empty one too: a pipe cut short by the interrupt must not end a transfer as if it
    were complete. Seeking is passed through where the stream can, so a retry can replay the payload.
    """

    def __init__(self, stream: Any, tick: Callable[[int], None]) -> None:
        self._stream = stream
        self._tick = tick
        self._position = 0

    def read(self, size: int = -1, /) -> bytes:
        """Read from the wrapped stream (at most one read of a buffered one, such as stdin), counting the bytes."""
        self._tick(0)
        read1 = getattr(self._stream, "read1", None) if size > 0 else None
        data: bytes = read1(size) if read1 is not None else self._stream.read(size)
        self._position += len(data)
        self._tick(len(data))
        return data

    def seekable(self) -> bool:
        """Report whether the wrapped stream can seek."""
        seekable = getattr(self._stream, "seekable", None)
        return bool(seekable()) if seekable is not None else False

    def tell(self) -> int:
        """Return the wrapped stream's position."""
        position: int = self._stream.tell()
        return position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Seek the wrapped stream, taking back from the progress what a replay will read again."""
        position: int = self._stream.seek(offset, whence)
        self._tick(position - self._position)
        self._position = position
        return position
