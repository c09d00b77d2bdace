"""satchel: one storage API over a local folder, memory, S3, Azure Blob, GCS, SFTP and a satchel server.

>>> import satchel
>>> store = satchel.open("memory://")
>>> store.put("reports/q3.txt", b"hello", content_type="text/plain").etag is not None
True
>>> store.get_bytes("reports/q3.txt")
b'hello'
"""

from __future__ import annotations

import os
from typing import Any

from satchel.backend import Backend, ForwardingBackend, GetResult, MultipartUpload
from satchel.body import Body
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotModified,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
    StorageFull,
    TransientError,
    Unauthenticated,
)
from satchel.layers.metrics import MetricsBackend, NoOpMetricsBackend
from satchel.path import Key
from satchel.registry import open_store as _open_store
from satchel.store import Store
from satchel.store_async import AsyncStore
from satchel.types import (
    TTI,
    TTL,
    Attributes,
    ByteRange,
    Capabilities,
    ListResult,
    ObjectMeta,
    PutMode,
    PutResult,
)

__all__ = [
    "TTI",
    "TTL",
    "AlreadyExists",
    "AsyncStore",
    "Attributes",
    "Backend",
    "Body",
    "ByteRange",
    "Capabilities",
    "ConfigError",
    "ForwardingBackend",
    "GetResult",
    "InvalidPath",
    "Key",
    "ListResult",
    "MetricsBackend",
    "MultipartUpload",
    "NoOpMetricsBackend",
    "NotFound",
    "NotModified",
    "NotSupported",
    "ObjectMeta",
    "PermissionDenied",
    "PreconditionFailed",
    "PutMode",
    "PutResult",
    "RangeNotSatisfiable",
    "SatchelError",
    "StorageFull",
    "Store",
    "TransientError",
    "Unauthenticated",
    "__version__",
    "open",
    "open_async",
]

__version__ = "0.1.0"


def open(url: str | os.PathLike[str], *, metrics: MetricsBackend | None = None, **options: Any) -> Store:
    """Open a store from a URL or a local path, with the default layers around its backend.

    ``file:///srv/blobs`` or a plain path opens a local folder, ``memory://`` a fresh in-memory store
    (``memory://name`` one shared within the process). Backend options come as keywords or in the URL query
    (``file:///data?fsync=false``); so do the stack's options ``prefix``, ``readonly``, ``retries`` and
    ``compression_level``. ``metrics`` receives latency, size and throughput distributions.

    Raises:
        ConfigError: an unknown scheme or option, or an invalid value.
    """
    return _open_store(url, metrics=metrics, **options)


def open_async(
    url: str | os.PathLike[str], *, metrics: MetricsBackend | None = None, limit: int = 16, **options: Any
) -> AsyncStore:
    """Open a store like :func:`open` and return its :class:`AsyncStore` (``limit`` threads at most)."""
    return AsyncStore(_open_store(url, metrics=metrics, **options), limit=limit)
