"""Build the served app from a configuration: open the Store it names and wrap it in the server."""

from __future__ import annotations

from starlette.types import ASGIApp

import satchel
from satchel.server.app import create_app
from satchel.server.config import ServerConfig

__all__ = ["build_app"]


def build_app(config: ServerConfig) -> ASGIApp:
    """Open the Store of ``config`` (``store`` URL, else the ``data`` folder) and return the ASGI app.

    Raises:
        ConfigError: the store URL or a key file is invalid.
    """
    store = satchel.open(config.store or config.data)
    return create_app(config, store)
