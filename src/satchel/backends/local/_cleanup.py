"""Removal of what crashed writers left in the reserved area: staging temp files and multipart upload folders.

Every such name starts with the writer's pid. A leftover is stale when that process is gone, or when it has
not been touched for 24 hours and the process now holding that pid started after the last touch (so the pid
was reused). A leftover of a live writer is never removed.

Pids are only meaningful on one machine, in one pid namespace: a root shared by several hosts or containers
would see the others' live writers as dead. Share such folders through one server instead.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

from ._dirs import DIR_FLAGS, lstat_entry

__all__ = ["STALE_AFTER", "is_stale", "remove_stale", "remove_upload_dir"]

STALE_AFTER = 24 * 3600.0
# Process start times come from /proc in whole seconds since boot: leave room for the rounding.
_CLOCK_SLACK = 2.0


def remove_stale(staging_fd: int, multipart_fd: int, now: float | None = None) -> int:
    """Remove stale temp files from staging and stale upload folders from multipart; return how many."""
    now = time.time() if now is None else now
    removed = 0
    for directory, is_upload in ((staging_fd, False), (multipart_fd, True)):
        with os.scandir(directory) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            st = lstat_entry(directory, name)  # None: its writer finished with it meanwhile
            if st is None or not is_stale(name, st.st_mtime, now):
                continue
            if not stat.S_ISDIR(st.st_mode):
                _unlink_quietly(directory, name)
            elif is_upload:
                remove_upload_dir(directory, name)
            else:
                continue  # staging holds files only; a directory there is not ours
            removed += 1
    return removed


def is_stale(name: str, modified: float, now: float) -> bool:
    """Return True if the leftover ``name``, last modified at ``modified``, belongs to no live writer."""
    pid_text = name.partition("-")[0]
    idle = now - modified > STALE_AFTER
    if not pid_text.isdigit() or int(pid_text) <= 0:
        return idle
    pid = int(pid_text)
    if not _alive(pid):
        return True
    if not idle:
        return False
    started = _process_start(pid)
    return started is not None and started > modified + _CLOCK_SLACK


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    return True


def _process_start(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as proc_stat:
            fields = proc_stat.read().rpartition(b")")[2].split()
        with open("/proc/stat", "rb") as system:
            boot = next(int(line.split()[1]) for line in system if line.startswith(b"btime "))
        # Field 22 of /proc/PID/stat (the 20th after the command name): start time in clock ticks since boot.
        ticks = int(fields[19])
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def remove_upload_dir(multipart_fd: int, name: str) -> None:
    """Remove the upload folder ``name`` and its parts; a folder already gone is fine."""
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=multipart_fd)
    except FileNotFoundError:
        return
    try:
        with os.scandir(fd) as entries:
            names = [entry.name for entry in entries]
        for part in names:
            _unlink_quietly(fd, part)
    finally:
        os.close(fd)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(name, dir_fd=multipart_fd)


def _unlink_quietly(dir_fd: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
