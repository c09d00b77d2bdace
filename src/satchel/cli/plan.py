"""From the paths a user typed to jobs: where a single file lands, and the files of a folder or prefix.

The rules are those of ``aws s3 cp``: a destination that is an existing folder, ends with ``/``, or is a
store's root receives the source's name; any other destination is the new name itself. A recursive copy maps
``SRC/rel`` to ``DST/rel`` (the contents of SRC, not SRC itself).
"""

from __future__ import annotations

import os

import click

from satchel.cli.errors import NOT_FOUND, USAGE, CommandError, about
from satchel.cli.filters import Filters
from satchel.cli.listing import Entry, kept, local_entry, local_tree, remote_tree
from satchel.cli.paths import Local, Location, RemotePath, StdStream, Stores
from satchel.cli.transfer import Job
from satchel.errors import NotFound

__all__ = ["destination_for", "object_size", "plan_single", "plan_tree", "tree"]


def destination_for(src: Location, dst: Location) -> Location:
    """Return where the single file ``src`` is written when copied to ``dst``.

    Raises:
        CommandError: the source has no name (stdin) and the destination is a folder or prefix.
    """
    if isinstance(dst, Local):
        folder_like = dst.path.endswith(("/", os.sep)) or os.path.isdir(dst.path)
        if not folder_like:
            return dst
        if not src.name:
            raise CommandError(dst.display, "is a folder: name the file to write", USAGE)
        return Local(os.path.join(dst.path, src.name))
    if isinstance(dst, RemotePath):
        if dst.key and not dst.key.endswith("/"):
            return dst
        if not src.name:
            raise CommandError(dst.display, "is a prefix: name the object to write", USAGE)
        return RemotePath(dst.spec, dst.key + src.name)
    return dst


def plan_single(src: Location, dst: Location, stores: Stores, *, move: bool = False) -> Job:
    """Return the job copying (or moving) one file or object ``src`` to ``dst``.

    Raises:
        CommandError: ``src`` is a folder or prefix (use -r), or the source and destination are the same.
        NotFound, FileNotFoundError: ``src`` does not exist.
    """
    if move and (isinstance(src, StdStream) or isinstance(dst, StdStream)):
        raise CommandError("-", "mv moves files and objects, not standard input or output", USAGE)
    size: int | None = None
    if isinstance(src, Local):
        if os.path.isdir(src.path):
            raise CommandError(src.display, "is a folder (use -r)", USAGE)
        with about(src.display):
            entry = local_entry("", src.path)
            if entry is None and not os.path.exists(src.path):
                raise FileNotFoundError(2, "No such file or directory", src.path)
        size = entry.size if entry is not None else None
    elif isinstance(src, RemotePath):
        size = object_size(src, stores)
    target = destination_for(src, dst)
    if target == src or (isinstance(src, Local) and isinstance(target, Local) and _same_file(src, target)):
        raise CommandError(src.display, "the source and the destination are the same", USAGE)
    return Job(src, target, size, move)


def object_size(src: RemotePath, stores: Stores) -> int:
    """Return the size of the object ``src``.

    Raises:
        CommandError: ``src`` is a prefix (use -r).
        NotFound: there is no such object.
    """
    if not src.key or src.key.endswith("/"):
        raise CommandError(src.display, "is a prefix (use -r)", USAGE)
    store = stores.get(src.spec)
    with about(src.display):
        try:
            return store.head(src.key).size
        except NotFound:
            if next(iter(store.list(src.tree_prefix)), None) is not None:
                raise CommandError(src.display, "is a prefix (use -r)", USAGE) from None
            raise


def _same_file(a: Local, b: Local) -> bool:
    try:
        return os.path.samefile(a.path, b.path)
    except OSError:
        return False


def tree(path: Location, stores: Stores, filters: Filters, *, source: bool) -> dict[str, Entry]:
    """Return the files below a folder or the objects below a prefix that pass ``filters``.

    A source must exist: a missing folder, or a prefix with nothing below it (other than a store's root), is
    NotFound. A missing destination folder has no files.

    Raises:
        CommandError: standard input or output given as a tree, or a missing source.
        NotADirectoryError: a local tree is a file.
        SatchelError: the listing failed.
    """
    if isinstance(path, StdStream):
        raise CommandError("-", "standard input and output are not folders", USAGE)
    with about(path.display):
        if isinstance(path, Local):
            if source and not os.path.exists(path.path):
                raise FileNotFoundError(2, "No such file or directory", path.path)
            return local_tree(path.path, filters)
        entries = remote_tree(stores.get(path.spec), path.tree_prefix)
    if source and not entries and path.tree_prefix:
        raise CommandError(path.display, "no such object or prefix", NOT_FOUND)
    return kept(entries, filters)


def plan_tree(src: Location, dst: Location, stores: Stores, filters: Filters, *, move: bool = False) -> list[Job]:
    """Return the jobs of ``cp -r``/``mv -r``: every file below ``src`` to the same relative path below ``dst``.

    A local file or an object given as the source is copied alone, as without ``-r``.

    Raises:
        CommandError, NotFound, FileNotFoundError: see :func:`tree` and :func:`plan_single`.
    """
    if isinstance(dst, StdStream):
        raise click.UsageError("a recursive copy needs a folder or prefix as its destination, not '-'")
    if isinstance(src, Local) and os.path.exists(src.path) and not os.path.isdir(src.path):
        return [plan_single(src, dst, stores, move=move)]
    if isinstance(src, RemotePath) and src.key and not src.key.endswith("/"):
        try:
            entries = tree(src, stores, filters, source=True)
        except CommandError:
            return [plan_single(src, dst, stores, move=move)]
    else:
        entries = tree(src, stores, filters, source=True)
    if isinstance(src, Local) and isinstance(dst, Local) and _inside(dst.path, src.path):
        raise CommandError(dst.display, f"is inside the source folder {src.display}", USAGE)
    assert not isinstance(src, StdStream)
    return [Job(src.child(rel), dst.child(rel), entry.size, move) for rel, entry in entries.items()]


def _inside(path: str, folder: str) -> bool:
    real_path, real_folder = os.path.realpath(path), os.path.realpath(folder)
    return real_path == real_folder or real_path.startswith(real_folder.rstrip(os.sep) + os.sep)
