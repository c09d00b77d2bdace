"""Reading objects: open the data file without following symlinks and describe it from one ``fstat``."""

from __future__ import annotations

import errno
import os

from satchel.backend import GetResult
from satchel.body import BytesBody, FileBody
from satchel.errors import NotFound, RangeNotSatisfiable
from satchel.path import Key
from satchel.preconditions import check_get_preconditions
from satchel.types import GetOptions, ObjectMeta

from ._beneath import BeneathOpener
from ._dirs import NOT_AN_OBJECT as _NOT_AN_OBJECT
from ._dirs import Root, Walk, open_dirs, open_file, regular_file
from ._errors import BACKEND_NAME, local_error
from ._meta import object_meta, read_meta

__all__ = ["describe", "get_object", "open_object"]


def open_object(root: Root, opener: BeneathOpener, key: Key, operation: str) -> tuple[int, os.stat_result]:
    """Open the object ``key`` for reading and return its descriptor and ``fstat``.

    Raises:
        NotFound: there is no regular file at ``key`` (missing, a directory, or reached through a symlink).
    """
    if opener.available:
        opened = _open_beneath(opener, key)
    else:
        with open_dirs(root, key.parts[:-1], Walk.READ, fsync=False, key=key, operation=operation) as chain:
            opened = open_file(chain.fd, key.name)
    if opened is None:
        raise local_error(NotFound, "no such object", key=key, operation=operation)
    return opened


def _open_beneath(opener: BeneathOpener, key: Key) -> tuple[int, os.stat_result] | None:
    try:
        fd = opener.open(key)
    except OSError as exc:
        # A symlink on the way (ELOOP), an escape (EXDEV) or a file used as a directory read as "absent".
        if exc.errno in _NOT_AN_OBJECT or exc.errno == errno.EXDEV:
            return None
        raise
    return regular_file(fd)


def describe(key: str, fd: int, st: os.stat_result) -> ObjectMeta:
    """Return the metadata of the open object ``fd``."""
    etag, attributes = read_meta(fd, st)
    return object_meta(key, st, etag, attributes)


def get_object(root: Root, opener: BeneathOpener, key: Key, options: GetOptions) -> GetResult:
    """Open the object ``key`` (or only describe it, with ``head=True``) as ``Backend.get`` does.

    The metadata and the bytes come from the same open file, so they always belong together even while
    writers replace the object.

    Raises:
        NotFound: no such object.
        PreconditionFailed: ``if_match`` / ``if_unmodified_since`` does not hold.
        NotModified: ``if_none_match`` / ``if_modified_since`` says the caller's copy is current.
        RangeNotSatisfiable: the range starts at or past the end.
    """
    fd, st = open_object(root, opener, key, "get")
    try:
        etag, attributes = read_meta(fd, st)
        meta = object_meta(key, st, etag, attributes)
        if options.if_match or options.if_none_match or options.if_modified_since or options.if_unmodified_since:
            check_get_preconditions(meta, options, backend=BACKEND_NAME)
        start, end = (0, meta.size) if options.head else _resolve(options, meta.size, key)
    except BaseException:
        os.close(fd)
        raise
    if options.head:
        os.close(fd)
        return GetResult(meta, (start, end), BytesBody(b""))
    return GetResult(meta, (start, end), FileBody(fd, start, end - start))


def _resolve(options: GetOptions, size: int, key: str) -> tuple[int, int]:
    if options.range is None:
        return 0, size
    try:
        return options.range.resolve(size)
    except RangeNotSatisfiable as exc:
        raise local_error(RangeNotSatisfiable, exc.message, key=key, operation="get") from None
