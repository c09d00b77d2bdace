"""Front door 3: a Qarnot-style :class:`Bucket` over any satchel store.

It mirrors ``qarnot.storage.Storage`` (the storage prototype behind ``qarnot.bucket.Bucket``, qarnot-sdk-python):
``list_files``, ``get_file``, ``get_all_files``, ``add_file``, ``add_directory``, ``copy_file``, ``delete_file``,
``update``, ``flush`` and the dict protocol (``b[remote] = local``, ``b[remote]``, ``del b[remote]``, ``in``,
``iter``, ``==``). Files added with a local path upload in the background, on a thread pool; :meth:`Bucket.flush`
waits for them and raises the first failure. Every transfer streams through :meth:`satchel.Store.upload_file`,
:meth:`satchel.Store.put` and :meth:`satchel.Store.download_file` (a temporary file renamed into place), so
memory stays flat whatever the file size. The differences from Qarnot are listed in docs/front-doors.md.

>>> import satchel.bucket
>>> bucket = satchel.bucket.Bucket("memory://", "inputs")
>>> import io
>>> bucket.add_file(io.BytesIO(b"hello"), "greeting.txt")
>>> [f.key for f in bucket.list_files()]
['greeting.txt']
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import os
import stat
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, BinaryIO

import satchel
from satchel.errors import InvalidPath, NotFound
from satchel.path import Key
from satchel.store import Store
from satchel.transfer import Progress
from satchel.types import ObjectMeta

__all__ = ["Bucket", "FileProgress", "NoSuchFile"]

FileProgress = Callable[[int, int | None, str], object]
"""Called as ``progress(read, total, filename)``; ``total`` is None only when the size is not known in advance."""

ProgressArg = bool | FileProgress | None


class NoSuchFile(NotFound, ValueError):
    """The remote file does not exist: Qarnot's ``ValueError`` ("no such file"), also a satchel ``NotFound``."""


class Bucket:
    """A Qarnot-style bucket: files in a satchel store, with background uploads and a dict protocol.

    ``Bucket(url_or_store, name=None)`` maps Qarnot's ``Bucket(connection, name)``: the satchel URL (or an
    opened :class:`~satchel.Store`) plays the connection, and ``name``, when given, is a namespace inside that
    store (the bucket's files live under ``name/``), so one store holds several buckets as one Qarnot connection
    does. ``options`` go to :func:`satchel.open` (``readonly=True``, backend options). Buckets are equal when
    they are over the same URL (or the same Store object) and have the same name.

    Raises:
        ConfigError: the URL or an option is invalid.
        InvalidPath: ``name`` is not a valid key prefix.
    """

    def __init__(
        self,
        url: str | os.PathLike[str] | Store,
        name: str | None = None,
        *,
        max_workers: int = 8,
        **options: Any,
    ) -> None:
        if isinstance(url, Store):
            if options:
                raise TypeError("options are for a URL; this Store is already open")
            self.store, self._owns_store, self._where = url, False, f"store@{id(url):x}"
        else:
            self.store, self._owns_store, self._where = satchel.open(url, **options), True, os.fspath(url)
        self.name = name
        self._prefix = "" if name is None else _valid_name(name) + "/"
        self._max_workers = max_workers
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, concurrent.futures.Future[None]] = {}  # the newest upload of each remote key
        # Running, queued or failed uploads, in the order they were added (a dict: O(1) removal, kept order).
        self._unflushed: dict[concurrent.futures.Future[None], None] = {}

    def __repr__(self) -> str:
        return f"Bucket({self._where!r}, name={self.name!r})"

    # --- reading ---------------------------------------------------------------------------------------

    def list_files(self) -> list[ObjectMeta]:
        """List the files in the bucket, after its pending uploads have finished.

        Returns:
            One :class:`~satchel.ObjectMeta` per file; its ``key`` is the name inside the bucket.
        """
        return list(self)

    def get_file(self, remote: str, local: str | os.PathLike[str] | None = None, progress: ProgressArg = None) -> str:
        """Download ``remote`` to ``local`` (defaults to ``remote``), creating the needed folders.

        When ``local`` is an existing directory the file goes inside it, under its base name. The download
        goes through a temporary file renamed into place, so a failure leaves ``local`` as it was.
        ``progress`` is ``True`` for a progress bar or a callback ``(read, total, filename)``.

        Returns:
            The name of the output file.

        Raises:
            NoSuchFile: no such file (a ``ValueError``, as in Qarnot).
        """
        key = self._key(remote)
        self._wait([key])
        target = os.fspath(remote.lstrip("/") if local is None else local)
        if os.path.isdir(target):
            target = os.path.join(target, os.path.basename(key))
        folder = os.path.dirname(target)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with _reporter(progress) as report:
            try:
                self.store.download_file(key, target, progress=report(key[len(self._prefix) :]))
            except NotFound as missing:
                raise NoSuchFile("no such file", key=remote, operation="get_file") from missing
        return target

    def get_all_files(self, output_dir: str | os.PathLike[str], progress: ProgressArg = None) -> None:
        """Download every file of the bucket under ``output_dir``, keeping the hierarchy; overrides its content.

        ``progress`` is ``True`` for one progress bar per file or a callback ``(read, total, filename)``.
        """
        with _reporter(progress) as report:
            for meta in self:
                target = os.path.join(output_dir, *meta.key.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                try:
                    self.store.download_file(self._prefix + meta.key, target, progress=report(meta.key))
                except NotFound:
                    continue  # deleted since the listing: not one of "all files" any more

    # --- writing ---------------------------------------------------------------------------------------

    def add_file(self, local_or_file: str | os.PathLike[str] | BinaryIO, remote: str | None = None) -> None:
        """Add a local file or an opened binary file to the bucket under ``remote``.

        A path uploads in the background: errors (a missing file, a read-only store) are raised by
        :meth:`flush`, not here. An opened file is read from its current position, now, because its owner may
        close it as soon as this returns. ``remote`` defaults to the path (or the file's ``name``).

        Raises:
            InvalidPath: ``remote`` is not a valid key (an opened file: also any error of the upload).
        """
        if remote is None:
            remote = _default_remote(local_or_file)
        key = self._key(remote)
        if isinstance(local_or_file, str | os.PathLike):
            path = os.fspath(local_or_file)
            self._submit(key, lambda: self.store.upload_file(path, key))
            return
        self._wait([key])
        self.store.put(key, local_or_file)

    def add_directory(self, local: str | os.PathLike[str], remote: str | None = None) -> None:
        """Add the regular files under ``local`` to the bucket under ``remote``, keeping the hierarchy.

        Symbolic links are not followed: neither linked files nor linked directories are uploaded. Files upload
        in the background like :meth:`add_file`. ``remote`` defaults to ``local``.

        Raises:
            NotADirectoryError: ``local`` is not a directory (an ``IOError``, as in Qarnot).
            PermissionError: a folder under ``local`` cannot be listed (it is not skipped silently).
        """
        root = os.fspath(local)
        if not os.path.isdir(root):
            raise NotADirectoryError(f"not a valid directory: {root!r}")
        base = _default_remote(root) if remote is None else remote.strip("/")
        # followlinks=False: linked folders are not entered. An unreadable folder raises rather than being skipped.
        for dirpath, _dirnames, filenames in os.walk(root, onerror=_raise):
            relative = os.path.relpath(dirpath, root)
            parts = [] if relative == os.curdir else relative.split(os.sep)
            for filename in filenames:
                path = os.path.join(dirpath, filename)
                try:
                    mode = os.lstat(path).st_mode
                except FileNotFoundError:
                    continue  # deleted since the walk listed it
                if not stat.S_ISREG(mode):
                    continue  # a symbolic link, a socket or a pipe
                key = self._key("/".join([base, *parts, filename]) if base else "/".join([*parts, filename]))
                self._submit(key, functools.partial(self._upload_no_follow, path, key))

    def copy_file(self, source: str, dest: str) -> None:
        """Copy the file ``source`` to ``dest`` inside the bucket (server-side where the store can).

        Raises:
            NoSuchFile: ``source`` does not exist.
        """
        source_key, dest_key = self._key(source), self._key(dest)
        self._wait([source_key, dest_key])
        try:
            self.store.copy(source_key, dest_key)
        except NotFound as missing:
            raise NoSuchFile("no such file", key=source, operation="copy_file") from missing

    def delete_file(self, remote: str) -> None:
        """Delete ``remote`` from the bucket; deleting a missing file is not an error (as on S3)."""
        key = self._key(remote)
        self._wait([key])
        self.store.delete(key)

    # --- background uploads ----------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait for every background upload and raise the first failure among them.

        Failures are reported once: a second ``flush`` after a failed one does not raise them again. When several
        uploads failed, the raised error carries a note naming the others.
        """
        with self._lock:
            futures, self._unflushed = list(self._unflushed), {}
        concurrent.futures.wait(futures)
        errors = [error for future in futures if (error := future.exception()) is not None]
        if not errors:
            return
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more background upload(s) failed: {errors[1:]!r}")
        raise first

    def update(self, flush: bool | None = None) -> None:
        """Refresh the bucket: the bucket caches nothing, so this only matters with ``flush=True``, which
        completes the background uploads first (see :meth:`flush`, whose errors it raises)."""
        if flush:
            self.flush()

    def close(self) -> None:
        """Flush, stop the upload threads, and close the store if this bucket opened it."""
        try:
            self.flush()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> Bucket:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the error already leaving the block is the one to see
            self.close()

    # --- the dict protocol -----------------------------------------------------------------------------

    def __getitem__(self, filename: str) -> str:
        """``b[remote]`` downloads ``remote`` as :meth:`get_file` does and returns the output file's name.

        Raises:
            KeyError: no such file.
        """
        try:
            return self.get_file(filename)
        except NoSuchFile as missing:
            raise KeyError(filename) from missing

    def __setitem__(self, remote: str, filename: str | os.PathLike[str] | BinaryIO) -> None:
        """``b[remote] = local`` adds a directory (:meth:`add_directory`) or a file (:meth:`add_file`)."""
        if isinstance(filename, str | os.PathLike) and os.path.isdir(filename):
            self.add_directory(filename, remote)
        else:
            self.add_file(filename, remote)

    def __delitem__(self, filename: str) -> None:
        """``del b[remote]`` deletes ``remote``.

        Raises:
            KeyError: no such file (checked first, so not atomic with the delete).
        """
        if filename not in self:
            raise KeyError(filename)
        self.delete_file(filename)

    def __contains__(self, item: object) -> bool:
        """``remote in b``: True if the bucket has that file; takes a name or an item of :meth:`list_files`."""
        name = getattr(item, "key", item)
        if not isinstance(name, str):
            return False
        try:
            key = self._key(name)
        except InvalidPath:
            return False
        self._wait([key])
        return self.store.exists(key)

    def __iter__(self) -> Iterator[ObjectMeta]:
        """Iterate lazily over the files, as :meth:`list_files` lists them."""
        self._wait(None)
        prefix = self._prefix
        for meta in self.store.list(prefix):
            yield dataclasses.replace(meta, key=meta.key[len(prefix) :]) if prefix else meta

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Bucket):
            return NotImplemented
        return (self._where, self._prefix) == (other._where, other._prefix)

    def __hash__(self) -> int:
        return hash((self._where, self._prefix))

    # --- internals -------------------------------------------------------------------------------------

    def _key(self, remote: str) -> str:
        # Qarnot sanitizes remote paths by dropping their leading slashes; the Store validates the rest.
        if not isinstance(remote, str):
            raise InvalidPath(f"a remote file name must be a str, not {type(remote).__name__}")
        return Key.parse(self._prefix + remote.lstrip("/"))

    def _submit(self, key: str, upload: Callable[[], object]) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(self._max_workers, thread_name_prefix="bucket")
            previous = self._latest.get(key)

            def run() -> None:
                # Two uploads of one key land in the order they were added. The pool starts tasks in order, so
                # the previous one is running or done by now and waiting for it cannot deadlock.
                if previous is not None:
                    concurrent.futures.wait([previous])
                upload()

            future = self._pool.submit(run)
            self._latest[key] = future
            self._unflushed[future] = None
        future.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: str, done: concurrent.futures.Future[None]) -> None:
        with self._lock:
            if self._latest.get(key) is done:
                del self._latest[key]
            if done.exception() is None:
                self._unflushed.pop(done, None)  # only failures wait for flush; successes need no bookkeeping

    def _wait(self, keys: Iterable[str] | None) -> None:
        # Reads see the bucket's own pending writes; their errors stay for flush.
        with self._lock:
            if keys is None:
                futures = list(self._latest.values())
            else:
                futures = [future for key in keys if (future := self._latest.get(key)) is not None]
        concurrent.futures.wait(futures)

    def _upload_no_follow(self, path: str, key: str) -> None:
        # O_NOFOLLOW: a file swapped for a symbolic link after the walk is refused, not followed.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as source:
            self.store.put(key, source)


def _valid_name(name: str) -> str:
    return Key.parse(name.strip("/"))


def _raise(error: OSError) -> None:
    raise error


def _default_remote(local: str | os.PathLike[str] | BinaryIO) -> str:
    # Qarnot: "remote defaults to local_or_file"; a path becomes a key with "/" separators and no leading "/".
    if isinstance(local, str | os.PathLike):
        name: object = os.fspath(local)
    else:
        name = getattr(local, "name", None)
    if not isinstance(name, str):
        raise TypeError("remote is required for a file object without a name")
    normalized = os.path.normpath(name).replace(os.sep, "/").lstrip("/")
    return "" if normalized == "." else normalized


@contextlib.contextmanager
def _reporter(progress: ProgressArg) -> Iterator[Callable[[str], Progress | None]]:
    """Yield a function that turns a file name into a satchel progress callback (or None for no progress)."""
    if progress is None or progress is False:
        yield lambda filename: None
        return
    if progress is True:
        from rich import progress as rich  # noqa: PLC0415 - only those who ask for a bar need rich

        columns = (rich.TextColumn("{task.description}"), rich.BarColumn(), rich.DownloadColumn())
        with rich.Progress(*columns, rich.TransferSpeedColumn(), rich.TimeRemainingColumn()) as bar:

            def to_bar(filename: str) -> Progress:
                task = bar.add_task(filename, total=None)
                return lambda done, total: bar.update(task, completed=done, total=total)

            yield to_bar
        return
    if not callable(progress):
        raise TypeError("progress is True, None or a callback (read, total, filename)")
    callback = progress

    def to_callback(filename: str) -> Progress:
        return lambda done, total: callback(done, total, filename)

    yield to_callback
