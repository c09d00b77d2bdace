"""Removal of what crashed writers left in the reserved area: staging temp files and multipart upload folders.

Every such name starts with the writer's host and pid. A leftover is stale when it was made on this host by
a process that is gone, or when nothing has touched it for 24 hours (a writer on another host cannot be asked
whether it is alive; a live writer's temp file is touched by every write).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

import paramiko

from ._meta import this_host
from ._multipart import remove_upload_dir
from ._paths import MULTIPART, STAGING, Layout

__all__ = ["STALE_AFTER", "is_stale", "remove_stale"]

STALE_AFTER = 24 * 3600.0


def remove_stale(sftp: paramiko.SFTPClient, layout: Layout, now: float | None = None) -> int:
    """Remove stale temp files from staging and stale upload folders from multipart; return how many."""
    now = time.time() if now is None else now
    removed = 0
    for area, is_upload in ((STAGING, False), (MULTIPART, True)):
        folder = layout.internal(area)
        for attrs in sftp.listdir_attr(folder):
            if not is_stale(attrs.filename, attrs.st_mtime or 0, now):
                continue
            path = f"{folder}/{attrs.filename}"
            mode = attrs.st_mode or 0
            if is_upload and stat.S_ISDIR(mode):
                remove_upload_dir(sftp, path)
            elif stat.S_ISREG(mode):
                with contextlib.suppress(FileNotFoundError):
                    sftp.remove(path)
            else:
                continue
            removed += 1
    return removed


def is_stale(name: str, modified: float, now: float) -> bool:
    """Return True if the leftover ``name``, last modified at ``modified``, belongs to no live writer."""
    if now - modified > STALE_AFTER:
        return True
    host, _, rest = name.partition("-")
    pid_text = rest.partition("-")[0]
    if host != this_host() or not pid_text.isdigit() or int(pid_text) <= 0:
        return False
    return not _alive(int(pid_text))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
