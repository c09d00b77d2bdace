"""What ``sync`` transfers: the files that are new or changed at the source, and the extras ``--delete`` removes.

By default a file is unchanged when both sides have the same size and, as ``aws s3 sync`` decides:

* for a local destination (a download), the same modification time — downloads set the local file's time to
  the object's, so a second sync finds it so;
* for a store destination (an upload or a copy), an object at least as new as the source, since a store sets
  an object's time itself when it is written.

Times within one second count as equal, because some stores and HTTP dates keep whole seconds. ``--size-only``
compares sizes alone. ``--checksum`` compares sizes and then content: the MD5 of both sides, taken from an S3
etag where it is one (an object uploaded in one part) and otherwise by reading the bytes. An object stored
compressed has a stored size unlike its content's, so its size is not compared.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from satchel.body import CHUNK_SIZE, ReadableStream
from satchel.cli.listing import Entry, md5_etag
from satchel.cli.paths import Local, RemotePath, Stores
from satchel.cli.transfer import Cancelled

__all__ = ["Comparison", "SyncPlan", "compare_contents", "content_md5", "plan_sync", "quick_verdict"]

MODIFY_WINDOW = 1.0
Comparison = Literal["time", "size", "checksum"]


@dataclass
class SyncPlan:
    """The relative paths to copy (with their source entries), to delete at the destination, and left alone."""

    copies: list[Entry] = field(default_factory=list)
    deletes: list[Entry] = field(default_factory=list)
    unchanged: int = 0


def quick_verdict(src: Entry, dst: Entry, comparison: Comparison, local_destination: bool) -> bool | None:
    """Return True to transfer, False to skip, or None when only the content can tell."""
    if not (src.compressed or dst.compressed) and src.size != dst.size:
        return True
    if comparison == "size":
        return False
    if comparison == "checksum":
        return None
    if local_destination:
        return abs(dst.mtime - src.mtime) >= MODIFY_WINDOW
    return dst.mtime < src.mtime - MODIFY_WINDOW


def plan_sync(
    sources: dict[str, Entry],
    destinations: dict[str, Entry],
    *,
    comparison: Comparison,
    local_destination: bool,
    delete: bool,
    same_content: Callable[[list[tuple[Entry, Entry]]], list[bool]],
) -> SyncPlan:
    """Decide what to copy and delete; ``same_content`` compares the pairs whose content must be read."""
    plan = SyncPlan()
    to_check: list[tuple[Entry, Entry]] = []
    for rel, src in sources.items():
        dst = destinations.get(rel)
        verdict = True if dst is None else quick_verdict(src, dst, comparison, local_destination)
        if verdict is None and dst is not None:
            to_check.append((src, dst))
        elif verdict:
            plan.copies.append(src)
        else:
            plan.unchanged += 1
    for (src, _), same in zip(to_check, same_content(to_check), strict=True):
        if same:
            plan.unchanged += 1
        else:
            plan.copies.append(src)
    plan.copies.sort(key=lambda entry: entry.rel)
    if delete:
        plan.deletes = [entry for rel, entry in destinations.items() if rel not in sources]
    return plan


def content_md5(path: Local | RemotePath, entry: Entry, stores: Stores, cancel: threading.Event) -> str:
    """Return the MD5 of a file's or object's content (an S3 object's etag when it is one).

    Raises:
        Cancelled: ``cancel`` was set while reading.
        SatchelError, OSError: the content could not be read.
    """
    digest = hashlib.md5(usedforsecurity=False)
    if isinstance(path, Local):
        with open(path.path, "rb") as source:
            _feed(digest.update, source, cancel)
        return digest.hexdigest()
    store = stores.get(path.spec)
    etag = md5_etag(store, entry)
    if etag is not None:
        return etag
    with store.get(path.key).body as body:
        _feed(digest.update, body, cancel)
    return digest.hexdigest()


def _feed(update: Callable[[bytes], object], source: ReadableStream, cancel: threading.Event) -> None:
    while chunk := source.read(CHUNK_SIZE):
        if cancel.is_set():
            raise Cancelled("interrupted")
        update(chunk)


def compare_contents(
    pairs: list[tuple[Local | RemotePath, Entry, Local | RemotePath, Entry]],
    stores: Stores,
    workers: int,
    cancel: threading.Event,
) -> list[bool]:
    """Return, for each pair of paths, whether their contents are the same, reading ``workers`` at a time.

    Raises:
        KeyboardInterrupt: Ctrl-C; the reads in flight stop at their next chunk.
    """
    if not pairs:
        return []

    def same(pair: tuple[Local | RemotePath, Entry, Local | RemotePath, Entry]) -> bool:
        src, src_entry, dst, dst_entry = pair
        return content_md5(src, src_entry, stores, cancel) == content_md5(dst, dst_entry, stores, cancel)

    pool = ThreadPoolExecutor(max_workers=max(1, min(workers, len(pairs))), thread_name_prefix="satchel-checksum")
    try:
        return list(pool.map(same, pairs))
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
