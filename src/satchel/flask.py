"""keg-storage's API for Flask apps, over satchel: ``satchel.flask`` is a drop-in for ``keg_storage``.

It mirrors keg-storage (level12/keg-storage): storage profiles in the ``KEG_STORAGE_PROFILES`` setting, the
``Storage`` extension (``Storage(app)`` / ``init_app``), the backends ``S3Storage``, ``AzureStorage``,
``LocalFSStorage`` and ``SFTPStorage`` with copy/delete/get/put/list/open/download/upload and ``link_to``,
``LinkViewMixin`` and the ``StorageOperations`` mixin. Each backend is a thin constructor of a satchel URL; all
work goes through :class:`satchel.Store`. ``SatchelStorage`` opens any other satchel URL.

Links are signed by the store where it signs natively; otherwise they are HMAC-SHA256 tokens served by the
endpoint the extension registers. The differences from keg-storage are listed in docs/front-doors.md.

This module is the ``flask`` extra: ``pip install 'satchel[flask]'``.
"""

from __future__ import annotations

try:
    import flask  # noqa: F401 - the extra's dependency, checked here so the error names the extra
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test without flask
    raise ImportError("satchel.flask needs Flask: pip install 'satchel[flask]'") from exc

from satchel.flask_ext._backend import (
    LINK_ENDPOINT,
    Expire,
    InternalLinksStorageBackend,
    ProgressCallback,
    StorageBackend,
)
from satchel.flask_ext._extension import LinkViewMixin, Storage, StorageOperations
from satchel.flask_ext._remote_file import RemoteFile
from satchel.flask_ext._services import AzureStorage, LocalFSStorage, S3Storage, SatchelStorage, SFTPStorage
from satchel.flask_ext._values import (
    FileMode,
    FileNotFoundInStorageError,
    InternalLinkTokenData,
    InvalidLinkToken,
    ListEntry,
    ShareLinkOperation,
)

__all__ = [
    "LINK_ENDPOINT",
    "AzureStorage",
    "Expire",
    "FileMode",
    "FileNotFoundInStorageError",
    "InternalLinkTokenData",
    "InternalLinksStorageBackend",
    "InvalidLinkToken",
    "LinkViewMixin",
    "ListEntry",
    "LocalFSStorage",
    "ProgressCallback",
    "RemoteFile",
    "S3Storage",
    "SFTPStorage",
    "SatchelStorage",
    "ShareLinkOperation",
    "Storage",
    "StorageBackend",
    "StorageOperations",
]
