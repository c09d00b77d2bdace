"""The errors of ``libcloud.common.types`` and ``libcloud.storage.types``, as satchel errors too.

Each class keeps libcloud's constructor (``value, driver, container_name`` / ``object_name``) and attributes,
and also inherits the satchel error that means the same thing, so ``except satchel.NotFound`` and
``except FileNotFoundError`` catch :class:`ObjectDoesNotExistError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from satchel.errors import AlreadyExists, InvalidPath, NotFound, SatchelError

if TYPE_CHECKING:
    from satchel.drivers._driver import StorageDriver

__all__ = [
    "ContainerAlreadyExistsError",
    "ContainerDoesNotExistError",
    "ContainerError",
    "ContainerIsNotEmptyError",
    "InvalidContainerNameError",
    "LibcloudError",
    "ObjectDoesNotExistError",
    "ObjectError",
    "ObjectHashMismatchError",
]


class LibcloudError(SatchelError):
    """The base class of the driver's errors (libcloud's ``LibcloudError(value, driver=None)``)."""

    error_type = "LibcloudError"

    def __init__(self, value: str, driver: StorageDriver | None = None, *, key: str | None = None) -> None:
        super().__init__(str(value), key=key)
        self.value = value
        self.driver = driver

    def __str__(self) -> str:
        return self.__repr__()

    def __repr__(self) -> str:
        return f"<{self.error_type} in {self.driver!r} {self.value!r}>"

    def __reduce__(self) -> tuple[object, ...]:
        # The driver (an open store) does not cross process boundaries; the message and names do.
        return (type(self), (self.value, None))


class ContainerError(LibcloudError):
    """An error about a container; ``container_name`` names it."""

    error_type = "ContainerError"

    def __init__(self, value: str, driver: StorageDriver | None, container_name: str) -> None:
        super().__init__(value, driver, key=container_name)
        self.container_name = container_name

    def __repr__(self) -> str:
        return f"<{self.error_type} in {self.driver!r}, container={self.container_name}, value={self.value}>"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.value, None, self.container_name))


class ObjectError(LibcloudError):
    """An error about an object; ``object_name`` names it (without its container)."""

    error_type = "ObjectError"

    def __init__(self, value: str, driver: StorageDriver | None, object_name: str) -> None:
        super().__init__(value, driver, key=object_name)
        self.object_name = object_name

    def __repr__(self) -> str:
        return f"<{self.error_type} in {self.driver!r}, value={self.value}, object = {self.object_name}>"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.value, None, self.object_name))


class ContainerAlreadyExistsError(ContainerError, AlreadyExists):
    """``create_container`` found the container already there."""

    error_type = "ContainerAlreadyExistsError"


class ContainerDoesNotExistError(ContainerError, NotFound):
    """The container does not exist."""

    error_type = "ContainerDoesNotExistError"


class ContainerIsNotEmptyError(ContainerError):
    """``delete_container`` found objects in the container."""

    error_type = "ContainerIsNotEmptyError"


class ObjectDoesNotExistError(ObjectError, NotFound):
    """The object does not exist."""

    error_type = "ObjectDoesNotExistError"


class ObjectHashMismatchError(ObjectError):
    """The stored object's MD5 differs from the MD5 of the bytes uploaded (``verify_hash=True``)."""

    error_type = "ObjectHashMismatchError"


class InvalidContainerNameError(ContainerError, InvalidPath):
    """The container name cannot name a container: empty, with a ``/``, or not a valid key segment."""

    error_type = "InvalidContainerNameError"
