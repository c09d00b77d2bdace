"""satchel.objectstore: Sentry's objectstore client API (``objectstore_client`` 0.0.8/0.0.9), spoken over HTTP.

::

    from satchel.objectstore import Client, Usecase

    session = Client("http://127.0.0.1:8888").session(Usecase("attachments"), org=42, project=1337)
    id = session.put(b"hello", content_type="text/plain")
    assert session.get(id).payload.read() == b"hello"

This front door mirrors the API of the 0.0.8/0.0.9 client (``Client``, ``Usecase``, ``Session.put/get/
object_url/delete``, ``Metadata``, ``TimeToIdle``/``TimeToLive``, ``MetricsBackend``, ``RequestError``, with
its names ``id`` and ``compression``), but unlike satchel's other front doors it is not a layer over
:class:`satchel.Store`: the server is the store. It talks HTTP (urllib3) to ``satchel serve`` or any
Objectstore server, in the current protocol generation C (``/v1/objects/{usecase}/{k=v;...}/{key}``,
percent-escaped header values, ``30d 1h`` durations), which every current server speaks; the 0.0.9 client
spoke generation A, which Sentry's own server no longer serves. Differences from the document are listed in
``docs/front-doors.md (satchel.objectstore)``. It needs urllib3 (``pip install 'satchel[objectstore]'``).
"""

from __future__ import annotations

from satchel.objectstore.client import Client, GetResult, RequestError, Session, Usecase
from satchel.objectstore.metadata import (
    Compression,
    ExpirationPolicy,
    Metadata,
    TimeToIdle,
    TimeToLive,
    format_expiration,
    parse_expiration,
)
from satchel.objectstore.metrics import (
    MetricsBackend,
    NoOpMetricsBackend,
    StorageMetricEmitter,
    measure_storage_operation,
)

__all__ = [
    "Client",
    "Compression",
    "ExpirationPolicy",
    "GetResult",
    "Metadata",
    "MetricsBackend",
    "NoOpMetricsBackend",
    "RequestError",
    "Session",
    "StorageMetricEmitter",
    "TimeToIdle",
    "TimeToLive",
    "Usecase",
    "format_expiration",
    "measure_storage_operation",
    "parse_expiration",
]
