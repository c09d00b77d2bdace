"""``Container`` and ``Object``: libcloud's value classes, each method forwarding to its driver."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from satchel.body import ReadableStream

if TYPE_CHECKING:
    from satchel.drivers._driver import StorageDriver

__all__ = ["Container", "Object"]


class Object:
    """An object (BLOB) of a container, as ``libcloud.storage.base.Object``.

    ``hash`` is the store's etag without quotes (the MD5 of the bytes on S3 for single-part uploads), ``extra``
    holds ``etag``, ``last_modified`` (an aware datetime) and the content attributes that are set
    (``content_type``, ``content_encoding``, ...), and ``meta_data`` the object's custom metadata.
    """

    def __init__(
        self,
        name: str,
        size: int,
        hash: str | None,
        extra: dict[str, Any] | None,
        meta_data: dict[str, str] | None,
        container: Container,
        driver: StorageDriver,
    ) -> None:
        self.name = name
        self.size = size
        self.hash = hash
        self.container = container
        self.extra = extra or {}
        self.meta_data = meta_data or {}
        self.driver = driver

    def get_cdn_url(self) -> str:
        """Return a signed URL of this object; see :meth:`StorageDriver.get_object_cdn_url`."""
        return self.driver.get_object_cdn_url(obj=self)

    def enable_cdn(self) -> bool:
        """Raise ``NotSupported``: satchel has no CDN to enable (signed URLs need none)."""
        return self.driver.enable_object_cdn(obj=self)

    def download(self, destination_path: str, overwrite_existing: bool = False, delete_on_failure: bool = True) -> bool:
        """Download this object to a local path; see :meth:`StorageDriver.download_object`."""
        return self.driver.download_object(
            obj=self,
            destination_path=destination_path,
            overwrite_existing=overwrite_existing,
            delete_on_failure=delete_on_failure,
        )

    def as_stream(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Return an iterator of this object's bytes; see :meth:`StorageDriver.download_object_as_stream`."""
        return self.driver.download_object_as_stream(obj=self, chunk_size=chunk_size)

    def download_range(
        self,
        destination_path: str,
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
    ) -> bool:
        """Download part of this object; see :meth:`StorageDriver.download_object_range`."""
        return self.driver.download_object_range(
            obj=self,
            destination_path=destination_path,
            start_bytes=start_bytes,
            end_bytes=end_bytes,
            overwrite_existing=overwrite_existing,
            delete_on_failure=delete_on_failure,
        )

    def range_as_stream(
        self, start_bytes: int, end_bytes: int | None = None, chunk_size: int | None = None
    ) -> Iterator[bytes]:
        """Return an iterator of part of this object; see :meth:`StorageDriver.download_object_range_as_stream`."""
        return self.driver.download_object_range_as_stream(
            obj=self, start_bytes=start_bytes, end_bytes=end_bytes, chunk_size=chunk_size
        )

    def delete(self) -> bool:
        """Delete this object; see :meth:`StorageDriver.delete_object`."""
        return self.driver.delete_object(self)

    def __repr__(self) -> str:
        return f"<Object: name={self.name}, size={self.size}, hash={self.hash}, provider={self.driver.name} ...>"


class Container:
    """A container (bucket) holding objects, as ``libcloud.storage.base.Container``: a top-level prefix of the store."""

    def __init__(self, name: str, extra: dict[str, Any] | None, driver: StorageDriver) -> None:
        self.name = name
        self.extra = extra or {}
        self.driver = driver

    def iterate_objects(self, prefix: str | None = None, ex_prefix: str | None = None) -> Iterator[Object]:
        """Iterate over this container's objects; see :meth:`StorageDriver.iterate_container_objects`."""
        return self.driver.iterate_container_objects(container=self, prefix=prefix, ex_prefix=ex_prefix)

    def list_objects(self, prefix: str | None = None, ex_prefix: str | None = None) -> list[Object]:
        """List this container's objects; see :meth:`StorageDriver.list_container_objects`."""
        return self.driver.list_container_objects(container=self, prefix=prefix, ex_prefix=ex_prefix)

    def get_cdn_url(self) -> str:
        """Raise ``NotSupported``: satchel signs objects, not containers."""
        return self.driver.get_container_cdn_url(container=self)

    def enable_cdn(self) -> bool:
        """Raise ``NotSupported``: satchel has no CDN to enable."""
        return self.driver.enable_container_cdn(container=self)

    def get_object(self, object_name: str) -> Object:
        """Return an object of this container; see :meth:`StorageDriver.get_object`."""
        return self.driver.get_object(container_name=self.name, object_name=object_name)

    def upload_object(
        self,
        file_path: str,
        object_name: str,
        extra: dict[str, Any] | None = None,
        verify_hash: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Object:
        """Upload a local file into this container; see :meth:`StorageDriver.upload_object`."""
        return self.driver.upload_object(
            file_path, self, object_name, extra=extra, verify_hash=verify_hash, headers=headers
        )

    def upload_object_via_stream(
        self,
        iterator: Iterable[bytes | str] | ReadableStream,
        object_name: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Object:
        """Upload a stream into this container; see :meth:`StorageDriver.upload_object_via_stream`."""
        return self.driver.upload_object_via_stream(iterator, self, object_name, extra=extra, headers=headers)

    def download_object(
        self, obj: Object, destination_path: str, overwrite_existing: bool = False, delete_on_failure: bool = True
    ) -> bool:
        """Download an object to a local path; see :meth:`StorageDriver.download_object`."""
        return self.driver.download_object(
            obj, destination_path, overwrite_existing=overwrite_existing, delete_on_failure=delete_on_failure
        )

    def download_object_as_stream(self, obj: Object, chunk_size: int | None = None) -> Iterator[bytes]:
        """Return an iterator of an object's bytes; see :meth:`StorageDriver.download_object_as_stream`."""
        return self.driver.download_object_as_stream(obj, chunk_size)

    def download_object_range(
        self,
        obj: Object,
        destination_path: str,
        start_bytes: int,
        end_bytes: int | None = None,
        overwrite_existing: bool = False,
        delete_on_failure: bool = True,
    ) -> bool:
        """Download part of an object; see :meth:`StorageDriver.download_object_range`."""
        return self.driver.download_object_range(
            obj=obj,
            destination_path=destination_path,
            start_bytes=start_bytes,
            end_bytes=end_bytes,
            overwrite_existing=overwrite_existing,
            delete_on_failure=delete_on_failure,
        )

    def download_object_range_as_stream(
        self, obj: Object, start_bytes: int, end_bytes: int | None = None, chunk_size: int | None = None
    ) -> Iterator[bytes]:
        """Return an iterator of part of an object; see :meth:`StorageDriver.download_object_range_as_stream`."""
        return self.driver.download_object_range_as_stream(
            obj=obj, start_bytes=start_bytes, end_bytes=end_bytes, chunk_size=chunk_size
        )

    def delete_object(self, obj: Object) -> bool:
        """Delete an object; see :meth:`StorageDriver.delete_object`."""
        return self.driver.delete_object(obj)

    def delete(self) -> bool:
        """Delete this (empty) container; see :meth:`StorageDriver.delete_container`."""
        return self.driver.delete_container(self)

    def __repr__(self) -> str:
        return f"<Container: name={self.name}, provider={self.driver.name}>"
