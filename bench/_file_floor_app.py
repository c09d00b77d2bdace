"""The file floor of ``bench/server.py``: satchel's local-folder system calls per request, and nothing else.

A PUT writes the body to a new file in a staging folder, fingerprints it into a ``user.satchel`` extended
attribute, opens the object's folder, locks it, checks what the key names, renames the file into place and
unlocks; a GET opens the file without following symlinks, reads its status, attribute and bytes, and answers
with the headers of a satchel answer (the protocol's, ``etag``, both modification times). These are the steps
satchel's local backend takes to be crash-safe and race-free (``docs/core.md``), with no validation, no layers,
no metrics and no error handling. Its ratios show how much of a target a Python server with that design can
reach under uvicorn; the distance from it to satchel is satchel's own Python.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import time
from typing import Any

from _floor_app import answer, lifespan, read_body

_ROOT = os.path.abspath("data")  # in the folder the server runs in
os.makedirs(f"{_ROOT}/.staging", exist_ok=True)
_STAGING = os.open(f"{_ROOT}/.staging", os.O_RDONLY | os.O_DIRECTORY)
_ROOT_FD = os.open(_ROOT, os.O_RDONLY | os.O_DIRECTORY)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_LAST_MODIFIED = b"Sun, 22 Nov 2026 00:00:00 GMT"
_tokens = itertools.count()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer ``/health``, PUT and GET of any path below the root; lifespan events are acknowledged."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    path, method = scope["path"], scope["method"]
    if path == "/health":
        await answer(send, 200, b"text/plain", b"OK")
        return
    key = path.lstrip("/")
    if method == "PUT":
        _put(key, await read_body(receive))
        await answer(send, 200, b"application/json", b'{"key":"%s"}' % key.rpartition("/")[2].encode())
        return
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=_ROOT_FD)
    except OSError:
        await answer(send, 404, b"application/json", b'{"detail":"no such object"}')
        return
    try:
        st = os.fstat(fd)
        record = os.getxattr(fd, "user.satchel")
        data = os.pread(fd, st.st_size, 0)
    finally:
        os.close(fd)
    t = time.gmtime(st.st_mtime)
    stamp = b"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (*t[:6], st.st_mtime_ns // 1000 % 1_000_000)
    headers = [
        (b"x-sn-time-created", stamp),
        (b"x-sn-size", b"%d" % st.st_size),
        (b"content-disposition", b"attachment"),
        (b"last-modified", _LAST_MODIFIED),
        (b"x-satchel-last-modified", stamp),
        (b"accept-ranges", b"bytes"),
        (b"etag", record[6 : record.index(b'"', 6)]),
    ]
    await answer(send, 200, b"application/octet-stream", data, headers)


def _put(key: str, body: bytes) -> None:
    name = f"{os.getpid()}-{next(_tokens):x}.tmp"
    fd = os.open(name, _NEW_FLAGS, 0o666, dir_fd=_STAGING)
    try:
        os.write(fd, body)
        st = os.fstat(fd)
        os.setxattr(fd, "user.satchel", b'{"e":"%x","s":%d,"m":%d}' % (st.st_ino, st.st_size, st.st_mtime_ns))
        parent, _, name_in_parent = key.rpartition("/")
        try:
            folder = os.open(parent, _DIR_FLAGS, dir_fd=_ROOT_FD)
        except FileNotFoundError:
            os.makedirs(f"{_ROOT}/{parent}", exist_ok=True)
            folder = os.open(parent, _DIR_FLAGS, dir_fd=_ROOT_FD)
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            with contextlib.suppress(FileNotFoundError):
                os.stat(name_in_parent, dir_fd=folder, follow_symlinks=False)
            os.rename(name, name_in_parent, src_dir_fd=_STAGING, dst_dir_fd=folder)
            fcntl.flock(folder, fcntl.LOCK_UN)
        finally:
            os.close(folder)
    finally:
        os.close(fd)
