"""``satchel serve``: any Store shared over HTTP with Sentry's Objectstore protocol (see docs/server.md).

from satchel.server import create_app, load_config
app = create_app(load_config(), satchel.open("satchel-data"))   # an ASGI app for any ASGI server
"""

from __future__ import annotations

from satchel.server.app import create_app
from satchel.server.config import ServerConfig, UsecaseConfig, load_config

__all__ = ["ServerConfig", "UsecaseConfig", "create_app", "load_config"]
