"""Object bodies: ranged downloads of one generation, a chunk at a time.

Each chunk is one ranged media download pinned to the generation the head saw (``ifGenerationMatch``), so a
body never mixes two versions of an object: if it is replaced mid-read, the next chunk fails with
``PreconditionFailed``. Downloads are raw (``Accept-Encoding: gzip``): an object stored with
``Content-Encoding: gzip`` comes back as its stored bytes, never decompressed by the SDK or the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from satchel.backends.gcs._errors import translate
from satchel.body import IteratorBody

__all__ = ["download_chunk", "open_body"]


def download_chunk(blob: Any, generation: int, start: int, end: int, *, timeout: float) -> bytes:
    """Download bytes ``start`` to ``end`` (exclusive) of generation ``generation`` of ``blob``."""
    data: bytes = blob.download_as_bytes(
        start=start,
        end=end - 1,
        raw_download=True,
        if_generation_match=generation,
        checksum=None,
        timeout=timeout,
        retry=None,
    )
    return data


def open_body(
    blob: Any, generation: int, start: int, end: int, *, chunk_size: int, timeout: float, location: str
) -> IteratorBody:
    """Return a body over bytes ``start`` to ``end`` of ``blob``; the first chunk is fetched now.

    Fetching the first chunk here makes a missing or replaced object fail in ``get``, not in the first read.

    Raises:
        NotFound, PreconditionFailed, TransientError: as the first download answers.
    """
    first_end = min(end, start + chunk_size)
    with translate("get", blob.name, location=location):
        first = download_chunk(blob, generation, start, first_end, timeout=timeout) if end > start else b""

    def chunks() -> Iterator[bytes]:
        yield first
        position = first_end
        while position < end:
            stop = min(end, position + chunk_size)
            with translate("get", blob.name, location=location):
                chunk = download_chunk(blob, generation, position, stop, timeout=timeout)
            if not chunk:
                return
            position += len(chunk)
            yield chunk

    return IteratorBody(chunks(), size=end - start)
