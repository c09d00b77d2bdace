"""Listings: ``objects.list`` pages fetched lazily, in key order, with satchel's exclusive offset.

GCS's ``startOffset`` is inclusive, so the key equal to the offset is skipped here. Keys under the reserved
``.satchel/`` prefix (parts of multipart uploads in flight) never appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from satchel.backends.gcs._errors import translate
from satchel.backends.gcs._meta import meta_of
from satchel.types import ListResult, ObjectMeta

__all__ = ["RESERVED", "list_objects", "list_one_level"]

RESERVED = ".satchel/"
_PAGE = 1000


def list_objects(
    client: Any, bucket: str, prefix: str, offset: str | None, *, timeout: float, location: str
) -> Iterator[ObjectMeta]:
    """Yield every object under ``prefix`` after ``offset``, one page of requests at a time.

    Raises:
        ConfigError: the bucket does not exist.
    """
    start = offset if offset is not None and offset >= prefix else None
    with translate("list", prefix or None, location=location, missing="bucket"):
        blobs = client.list_blobs(
            bucket, prefix=prefix or None, start_offset=start, page_size=_PAGE, timeout=timeout, retry=None
        )
        pages = iter(blobs.pages)
    while True:
        with translate("list", prefix or None, location=location, missing="bucket"):
            page = next(pages, None)
            if page is None:
                return
            batch = list(page)
        for blob in batch:
            name: str = blob.name
            if (start is not None and name <= start) or name.startswith(RESERVED):
                continue
            yield meta_of(blob)


def list_one_level(client: Any, bucket: str, prefix: str, *, timeout: float, location: str) -> ListResult:
    """Return the objects and common prefixes one ``/`` level below ``prefix``.

    Raises:
        ConfigError: the bucket does not exist.
    """
    objects: list[ObjectMeta] = []
    prefixes: set[str] = set()
    with translate("list", prefix or None, location=location, missing="bucket"):
        blobs = client.list_blobs(
            bucket, prefix=prefix or None, delimiter="/", page_size=_PAGE, timeout=timeout, retry=None
        )
        for page in blobs.pages:
            objects.extend(meta_of(blob) for blob in page if not blob.name.startswith(RESERVED))
            prefixes.update(page.prefixes)
    prefixes.discard(RESERVED)
    objects.sort(key=lambda meta: meta.key)
    return ListResult(objects, sorted(prefixes))
