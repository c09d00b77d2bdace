"""What the benchmark reads about a server process from ``/proc``: its process tree, peak RSS and CPU time."""

from __future__ import annotations

import os
import socket

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def listening(host: str, port: int) -> bool:
    """Return whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def tree(pid: int) -> list[int]:
    """Return ``pid`` and all its living descendants (workers a server forked or spawned)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # it exited while we looked
        # The command name in parentheses may hold spaces; the parent pid is the second field after it.
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss_mib(pid: int) -> list[float]:
    """Return the peak resident size (``VmHWM``) of ``pid`` and of each living descendant, in MiB.

    Their sum over-counts pages the processes share and peaks reached at different moments, so it is an upper
    bound on what the tree held at once; for a single process it is exact.
    """
    peaks = []
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
                        break
        except OSError:
            continue
    return peaks


def cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time of ``pid`` and its living descendants, and of the children they reaped."""
    ticks = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14-17 of stat(5); fields[0] here is field 3.
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS
