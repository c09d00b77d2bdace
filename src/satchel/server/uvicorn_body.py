"""uvicorn's HTTP protocol, handing each request body chunk to the app without copying it twice.

uvicorn's httptools protocol appends every body chunk to a ``bytearray`` and gives the app ``bytes`` of it:
two copies of every byte on top of the parser's. A chunk that arrives while the app has nothing pending (how
almost every chunk arrives: uvicorn stops reading once 64 KiB wait) is passed as it is instead; ``bytes`` of a
``bytes`` object is the object itself. On a 256 MiB upload that is a quarter of the server's CPU.
"""

from __future__ import annotations

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["BodyChunkProtocol"]


class BodyChunkProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, keeping a body chunk as it is when no other chunk waits for the app."""

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        waiting: bytes | bytearray = cycle.body
        if waiting or cycle.response_complete or (self.parser.should_upgrade() and self._should_upgrade()):
            if type(waiting) is bytes:
                # More chunks before the app read the first: append to a bytearray as uvicorn does, so that
                # many small chunks cost linear time, not a new bytes object each.
                cycle.body = bytearray(waiting)
            super().on_body(body)
            return
        cycle.body = body  # type: ignore[assignment]  # uvicorn reads it back with bytes(), which takes bytes too
        if len(body) > HIGH_WATER_LIMIT:
            self.flow.pause_reading()
        cycle.message_event.set()
