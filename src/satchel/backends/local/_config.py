"""The configuration of a local folder backend."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LocalConfig"]


@dataclass(frozen=True)
class LocalConfig:
    """Options of ``file://`` URLs and plain paths, as the URL registry reads them.

    Attributes:
        root: the folder that holds the objects.
        fsync: flush every write to the disk before it is acknowledged (``False`` for caches and tests).
        create: create the folder if it does not exist.
    """

    root: str
    fsync: bool = True
    create: bool = True
