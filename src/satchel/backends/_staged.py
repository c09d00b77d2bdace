"""Multipart uploads whose parts arrive in any order, staged locally and committed as one streaming write.

Several engines cannot take satchel's multipart contract as it is: obstore exposes multipart uploads as a
stream written front to back (it runs the service's native multipart protocol, several parts in flight), and
the Objectstore protocol's multipart upload takes no precondition. Satchel's contract lets parts arrive in any
order and be replaced. So each part is staged in one local temporary file (an unnamed file, gone when closed,
even after a crash) and on :meth:`StagedUpload.complete` the parts are streamed from it, in order, into the
backend's own streaming write. Memory stays at one part; disk holds the parts until then. Nothing reaches the
service before ``complete``, so :meth:`StagedUpload.abort` leaves nothing billable behind.

A shared helper of the backends that need it, not a backend itself.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from satchel.errors import ConfigError, NotFound, PreconditionFailed
from satchel.types import Part, PutResult
from satchel.unique import unique_token

__all__ = ["StagedUpload"]

_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class _Staged:
    offset: int
    size: int
    etag: str


class StagedUpload:
    """A multipart upload staging its parts in a temporary file until :meth:`complete` streams them in order.

    ``commit(chunks, size)`` writes the assembled object; it is the backend's streaming put. ``check_part(number,
    size)``, when given, refuses a part the backend could not commit (raising before anything is staged).
    """

    def __init__(
        self,
        key: str,
        backend: str,
        commit: Callable[[Iterator[bytes], int], PutResult],
        spool_dir: str | None = None,
        check_part: Callable[[int, int], None] | None = None,
    ) -> None:
        self._key = key
        self._check_part = check_part
        self._backend = backend
        self._commit = commit
        self._file = tempfile.TemporaryFile(dir=spool_dir)  # noqa: SIM115 - lives until complete or abort
        self._end = 0
        self._parts: dict[int, _Staged] = {}
        self._lock = threading.Lock()
        self._done = False

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Stage part ``number`` (1-based); staging a number again replaces that part.

        Raises:
            ConfigError: ``number`` is below 1, or ``check_part`` refuses the part.
            NotFound: the upload was completed or aborted.
        """
        if number < 1:
            raise ConfigError("part numbers start at 1")
        size = len(data)
        if self._check_part is not None:
            self._check_part(number, size)
        with self._lock:
            self._check_open()
            offset = self._end
            self._end += size
        # Each part owns its own region of the file, so parts may be written by several threads at once.
        written = 0
        view = memoryview(data).cast("B")
        while written < size:
            written += os.pwrite(self._file.fileno(), view[written:], offset + written)
        etag = unique_token()
        with self._lock:
            self._check_open()
            self._parts[number] = _Staged(offset, size, etag)
        return Part(number, etag, size)

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Stream ``parts`` in order of their numbers into the backend's write; the object appears at once.

        A failed commit keeps the staged parts, so ``complete`` may be tried again (or the upload aborted).

        Raises:
            PreconditionFailed: a part was not staged, or not with that etag.
            SatchelError: what the backend's write raises (``AlreadyExists`` for a create-only upload, ...).
        """
        with self._lock:
            self._check_open()
            chosen: list[_Staged] = []
            for part in sorted(parts, key=lambda p: p.number):
                staged = self._parts.get(part.number)
                if staged is None or staged.etag != part.etag:
                    raise PreconditionFailed(
                        f"part {part.number} was not uploaded with that etag",
                        key=self._key,
                        operation="complete",
                        backend=self._backend,
                    )
                chosen.append(staged)
        result = self._commit(self._read(chosen), sum(staged.size for staged in chosen))
        self.abort()
        return result

    def abort(self) -> None:
        """Drop every staged part; nothing was sent to the service, so nothing remains."""
        with self._lock:
            self._done = True
            self._parts.clear()
        self._file.close()

    def _read(self, chosen: list[_Staged]) -> Iterator[bytes]:
        fd = self._file.fileno()
        for staged in chosen:
            position, left = staged.offset, staged.size
            while left > 0:
                chunk = os.pread(fd, min(_READ_SIZE, left), position)
                if not chunk:
                    return
                position += len(chunk)
                left -= len(chunk)
                yield chunk

    def _check_open(self) -> None:
        if self._done:
            raise NotFound(
                "the upload was completed or aborted", key=self._key, operation="multipart", backend=self._backend
            )
