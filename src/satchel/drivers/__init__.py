"""Front door 4: Apache libcloud's storage API (``libcloud.storage.base`` and ``libcloud.storage.types``).

:class:`StorageDriver`, :class:`Container` and :class:`Object` mirror libcloud's classes of the same names,
with their signatures, defaults and return values, over one satchel :class:`~satchel.Store`; the error classes
mirror ``libcloud.storage.types`` (and ``LibcloudError``) and also inherit the matching satchel errors.

>>> from satchel.drivers import StorageDriver
>>> driver = StorageDriver("memory://")
>>> photos = driver.create_container("photos")
>>> obj = photos.upload_object_via_stream(iter([b"hello ", b"world"]), "greeting.txt")
>>> (obj.name, obj.size, b"".join(obj.as_stream()))
('greeting.txt', 11, b'hello world')
>>> [container.name for container in driver.list_containers()]
['photos']

Containers are the store's top-level prefixes: container ``photos`` holds the keys ``photos/...``. An empty
container exists through an empty marker object, ``photos/.satchel-container`` (:data:`CONTAINER_MARKER`),
that ``create_container`` writes, ``delete_container`` removes and listings hide. The differences from
libcloud are listed in ``docs/front-doors.md``.
"""

from __future__ import annotations

from ._driver import StorageDriver
from ._errors import (
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerError,
    ContainerIsNotEmptyError,
    InvalidContainerNameError,
    LibcloudError,
    ObjectDoesNotExistError,
    ObjectError,
    ObjectHashMismatchError,
)
from ._objects import Container, Object
from ._rules import CONTAINER_MARKER

__all__ = [
    "CONTAINER_MARKER",
    "Container",
    "ContainerAlreadyExistsError",
    "ContainerDoesNotExistError",
    "ContainerError",
    "ContainerIsNotEmptyError",
    "InvalidContainerNameError",
    "LibcloudError",
    "Object",
    "ObjectDoesNotExistError",
    "ObjectError",
    "ObjectHashMismatchError",
    "StorageDriver",
]
