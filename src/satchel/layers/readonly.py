"""ReadOnlyLayer: reads pass through, every write is refused before any I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NoReturn

from satchel.backend import ForwardingBackend, MultipartUpload, Payload
from satchel.errors import PermissionDenied
from satchel.path import Key
from satchel.types import CopyOptions, DeleteOptions, PutOptions, PutResult

__all__ = ["ReadOnlyLayer"]


class ReadOnlyLayer(ForwardingBackend):
    """A layer that refuses put, put_multipart, delete, copy, rename and signing PUT URLs.

    Capabilities are reported as the inner backend's: they say what the service can do, and this layer
    refuses writes by policy, with ``PermissionDenied``.
    """

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Refuse.

        Raises:
            PermissionDenied: always.
        """
        self._refuse("put", key)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Refuse.

        Raises:
            PermissionDenied: always.
        """
        self._refuse("put_multipart", key)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Refuse.

        Raises:
            PermissionDenied: always.
        """
        self._refuse("delete", keys[0] if keys else None)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Refuse.

        Raises:
            PermissionDenied: always.
        """
        self._refuse("copy", dst)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Refuse.

        Raises:
            PermissionDenied: always.
        """
        self._refuse("rename", src)

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Sign a GET URL through the inner backend; refuse a PUT URL, which would grant a write.

        Raises:
            PermissionDenied: ``method`` is ``"PUT"``.
            NotSupported: the inner backend cannot sign.
        """
        if method != "GET":
            self._refuse("sign", key)
        return super().sign(key, method, expires_in)

    def _refuse(self, operation: str, key: str | None) -> NoReturn:
        raise PermissionDenied("this store is read-only", key=key, operation=operation, backend=self.name)
