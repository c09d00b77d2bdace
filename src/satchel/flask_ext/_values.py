"""keg-storage's small value types: file modes, link operations, list entries, link-token data and errors."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import NamedTuple

from satchel.errors import NotFound, PermissionDenied

__all__ = [
    "FileMode",
    "FileNotFoundInStorageError",
    "InternalLinkTokenData",
    "InvalidLinkToken",
    "ListEntry",
    "ShareLinkOperation",
]


class ListEntry(NamedTuple):
    """One object of a listing: its full key, when it last changed (aware, UTC) and its size in bytes."""

    name: str
    last_modified: datetime
    size: int


class FileMode(enum.Flag):
    """How :meth:`StorageBackend.open` opens a remote file: ``read``, ``write`` (never both in satchel)."""

    read = enum.auto()
    write = enum.auto()

    def __str__(self) -> str:
        text = "r" if self & FileMode.read else ""
        text += "w" if self & FileMode.write else ""
        return f"{text}b"

    @classmethod
    def as_mode(cls, obj: FileMode | str) -> FileMode:
        """Return ``obj`` as a FileMode; a string is made of ``r``, ``w`` and ``b`` (``"rb"``, ``"w"``).

        Raises:
            ValueError: a string with other characters or neither ``r`` nor ``w``, or another type.
        """
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, str):
            raise ValueError("as_mode() accepts only FileMode or str arguments")  # noqa: TRY004 - as keg-storage
        if set(obj) - set("rwb"):
            raise ValueError(f"invalid file mode {obj!r}; use r, w and b")
        mode = cls(0)
        if "r" in obj:
            mode |= cls.read
        if "w" in obj:
            mode |= cls.write
        if not mode:
            raise ValueError(f"file mode {obj!r} has neither r nor w")
        return mode


_OPERATION_NAMES = {"download": "d", "upload": "u", "remove": "r", "delete": "r"}


class ShareLinkOperation(enum.Flag):
    """What a link made by ``link_to`` allows: ``download``, ``upload``, ``remove`` (combinable with ``|``)."""

    download = enum.auto()
    upload = enum.auto()
    remove = enum.auto()

    def __str__(self) -> str:
        return "".join(code for code, member in _CODES if self & member)

    @classmethod
    def as_operation(cls, obj: ShareLinkOperation | str) -> ShareLinkOperation:
        """Return ``obj`` as an operation: a member, a member's name (``"delete"`` names ``remove``), or a string
        of the codes ``d``, ``u`` and ``r`` (``"dr"`` is download and remove).

        Raises:
            ValueError: an unknown name or code, an empty string, or another type.
        """
        if isinstance(obj, cls):
            return obj
        if not isinstance(obj, str):
            raise ValueError(f"as_operation() accepts only {cls.__name__} or str arguments")  # noqa: TRY004
        codes = _OPERATION_NAMES.get(obj.lower(), obj)
        if not codes or set(codes) - set("dur"):
            raise ValueError(f"invalid link operation {obj!r}; use download, upload, remove or the codes d, u, r")
        operation = cls(0)
        for code, member in _CODES:
            if code in codes:
                operation |= member
        return operation


_CODES = (("d", ShareLinkOperation.download), ("u", ShareLinkOperation.upload), ("r", ShareLinkOperation.remove))


class InternalLinkTokenData(NamedTuple):
    """What a verified link token grants: the object's ``path`` and the allowed ``operations``.

    ``output_path``, when set, is the file name a download is offered under (``Content-Disposition``).
    """

    path: str
    operations: ShareLinkOperation
    output_path: str | None = None

    @property
    def allow_download(self) -> bool:
        """True when the token allows reading the object."""
        return bool(self.operations & ShareLinkOperation.download)

    @property
    def allow_upload(self) -> bool:
        """True when the token allows writing the object."""
        return bool(self.operations & ShareLinkOperation.upload)

    @property
    def allow_remove(self) -> bool:
        """True when the token allows deleting the object."""
        return bool(self.operations & ShareLinkOperation.remove)


class FileNotFoundInStorageError(NotFound):
    """keg-storage's "not found": the file ``filename`` does not exist in ``storage_type`` (a backend).

    A :class:`satchel.NotFound`, so also a ``FileNotFoundError``.
    """

    def __init__(self, storage_type: object, filename: str) -> None:
        super().__init__(f"File {filename} not found in {storage_type}.", key=filename)
        self.storage_type = storage_type
        self.filename = filename

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self.storage_type), self.filename))


class InvalidLinkToken(PermissionDenied):
    """A link token is malformed, was signed with another key or for another profile, was altered, or expired.

    The message says which, and never contains the token.
    """
