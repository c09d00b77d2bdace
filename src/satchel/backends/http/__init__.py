"""The backend over a satchel server: ``satchel+http://HOST:PORT/USECASE/SCOPES[/prefix]`` (and ``satchel+https``).

It speaks the Objectstore protocol that ``satchel serve`` serves (spec a.2 to a.8) plus satchel's extensions
(listing, copy, signing, conditional requests, the attributes the protocol has no header for), so a Store over
a satchel server behaves as a Store over the store the server shares.

Why urllib3
    The protocol is plain HTTP/1.1, one request per operation, and satchel's core is synchronous. urllib3 gives
    exactly that with no event loop: a thread-safe pool of keep-alive connections, chunked request bodies read
    from any iterator, and answers read from the socket as the caller reads them (``preload_content=False``),
    so memory stays flat whatever the object size. It is the engine under ``requests`` and so under
    objectstore-client. httpx would add an async stack the sync core does not use; a
    hand-written ``http.client`` loop would re-implement the pool.

URLs and options
    The URL's first path segment is the usecase, the second the scopes (``org=42;project=1337``, or ``_`` for
    none); further segments become a key prefix (the prefix layer), as a bucket URL's path does. The query (or
    keywords of :func:`satchel.open`) sets :class:`HttpConfig`: ``token`` (a static JWT), or ``key_id`` and
    ``private_key`` (an Ed25519 PEM file: the store signs its own short-lived tokens), ``timeout``,
    ``connect_timeout``, ``pool_size``, ``ca_certs``. Tokens are :class:`~satchel.secret.Secret`; reprs and
    errors never show them.

Expiration and compression
    The server enforces expiry itself, so ``satchel.open`` builds these stores without the expiration layer:
    ``expires=TTL(...)``/``TTI(...)`` travels as ``x-sn-expiration`` and the server stamps, hides and sweeps.
    ``Store.sweep`` is the server's business (NotSupported here). Compression stays the client's compression
    layer: compressed objects travel with ``Content-Encoding: zstd`` and are stored verbatim.

Layout
    ``_backend.HttpBackend`` implements the contract; ``_transport`` holds the urllib3 pool and the streaming
    bodies; ``_wire`` maps keys, attributes, durations and timestamps to the wire; ``_errors`` is the one place
    exceptions and error answers become satchel errors; ``_multipart`` holds the server's multipart upload and
    the staged one of conditional uploads; ``_auth`` gives each request its token; ``_config`` the options.
"""

from satchel.backends.http._backend import HTTP_CAPABILITIES, HttpBackend
from satchel.backends.http._config import HttpConfig

__all__ = ["HTTP_CAPABILITIES", "HttpBackend", "HttpConfig"]
