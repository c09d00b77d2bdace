"""The ``satchel`` command (needs the ``cli`` extra: ``pip install 'satchel[cli]'``)."""

from __future__ import annotations

from satchel.cli.main import main

__all__ = ["main"]
