"""Descartes Labs-style key-value ``Storage`` over any satchel store.

This module mirrors the ``Storage`` class of the Descartes Labs Python client
(``descarteslabs.client.services.storage.Storage``): ``get``/``set``/``exists``/``delete``/``list``/
``iter_list``/``get_file``/``set_file``/``get_signed_url``/``get_upload_url``, each with a ``storage_type`` of
``"data"``, ``"tmp"`` or ``"result"``, and :class:`NotFoundError` where that API raises it.

>>> from satchel.kv import Storage
>>> storage = Storage("memory://")
>>> storage.set("greeting", "hello")
>>> storage.get("greeting")
'hello'
>>> storage.list()
['greeting']

Each storage type is its own namespace: the store the URL names, opened with the key prefix ``data/``,
``tmp/`` or ``result/``. ``"tmp"`` objects expire (``tmp_ttl``, one day by default). Where this API and
satchel differ, docs/front-doors.md lists how.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from itertools import islice
from types import TracebackType
from typing import Any, Literal, Protocol, get_args
from urllib.parse import parse_qsl, urlsplit

import satchel
from satchel.errors import ConfigError, NotFound
from satchel.types import TTL

__all__ = [
    "DEFAULT_STORAGE_TYPE",
    "LIST_LIMIT",
    "SIGNED_URL_EXPIRES_IN",
    "STORAGE_TYPES",
    "TMP_TTL",
    "NotFoundError",
    "Storage",
    "StorageType",
    "default_url",
]

StorageType = Literal["data", "tmp", "result"]
STORAGE_TYPES: tuple[str, ...] = get_args(StorageType)
DEFAULT_STORAGE_TYPE: StorageType = "data"
LIST_LIMIT = 1000
"""The most keys :meth:`Storage.list` returns; :meth:`Storage.iter_list` yields them all."""
TMP_TTL = timedelta(days=1)
"""How long a ``"tmp"`` object lives unless ``Storage(tmp_ttl=...)`` says otherwise."""
SIGNED_URL_EXPIRES_IN = 3600.0
"""Seconds a URL from :meth:`Storage.get_signed_url` or :meth:`Storage.get_upload_url` stays valid by default."""

_CHUNK = 1 << 20


class NotFoundError(NotFound):
    """No data exists for the given key and storage type.

    The name the Descartes Labs API raises; it is a :class:`satchel.NotFound` (and so a ``FileNotFoundError``),
    so code catching any of the three catches it.
    """


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes | str: ...


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


def default_url() -> str:
    """Return the store :class:`Storage` opens when given no URL.

    ``$SATCHEL_KV_URL`` when set, otherwise the local folder ``$XDG_DATA_HOME/satchel/kv`` (by default
    ``~/.local/share/satchel/kv``).
    """
    configured = os.environ.get("SATCHEL_KV_URL")
    if configured:
        return configured
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data_home, "satchel", "kv")


class Storage:
    """Store arbitrary data and retrieve it later with simple key-value semantics.

    Args:
        url: any satchel URL (``s3://bucket/prefix?...``, ``file:///srv/kv``, a plain path, ``memory://``,
            ``satchel+http://host:port/usecase/scopes``); :func:`default_url` when None.
        auth: None, a token string, or an object with a ``token`` attribute (such as a Descartes Labs
            ``Auth``): the token is passed to the store as its ``token`` option, which ``satchel+http`` stores
            send to the server. Stores without a ``token`` option raise ``ConfigError``.
        retries: how often a failed call is retried: an int, or a ``urllib3.util.retry.Retry`` whose ``total``
            is used (``False`` for none; a ``total`` of None keeps satchel's default). None keeps the URL's
            ``retries`` option or satchel's default.
        tmp_ttl: how long ``"tmp"`` objects live (a timedelta or seconds); one day by default.

    Raises:
        ConfigError: an invalid URL or option (satchel's error, a ``ValueError``).
    """

    TIMEOUT = (9.5, 120)
    """The (connect, read) timeouts of the Descartes Labs client, kept for compatibility; satchel does not apply
    them (a store's timeouts are options of its URL, such as ``timeout`` of ``satchel+http``)."""

    def __init__(
        self,
        url: str | os.PathLike[str] | None = None,
        auth: Any = None,
        retries: Any = None,
        *,
        tmp_ttl: timedelta | float = TMP_TTL,
    ) -> None:
        self.url = os.fspath(url) if url is not None else default_url()
        self.tmp_ttl = TTL(tmp_ttl)
        options: dict[str, Any] = {}
        token = _token(auth)
        if token is not None:
            options["token"] = token
        attempts = _retries(retries)
        if attempts is not None:
            options["retries"] = attempts
        base = _url_prefix(self.url)
        self._stores: dict[str, satchel.Store] = {}
        try:
            for storage_type in STORAGE_TYPES:
                self._stores[storage_type] = satchel.open(self.url, prefix=f"{base}{storage_type}/", **options)
        except BaseException:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"Storage({self._stores[DEFAULT_STORAGE_TYPE]!r})"

    def __enter__(self) -> Storage:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the stores' connections and file handles."""
        for store in self._stores.values():
            store.close()

    def store(self, storage_type: str = DEFAULT_STORAGE_TYPE) -> satchel.Store:
        """Return the satchel :class:`~satchel.Store` holding one storage type, for everything else satchel does.

        Raises:
            ConfigError: an unknown storage type.
        """
        store = self._stores.get(storage_type)
        if store is None:
            raise ConfigError(f"unknown storage_type {storage_type!r}; use one of {', '.join(STORAGE_TYPES)}")
        return store

    # --- the Descartes Labs API ------------------------------------------------------------------------

    def delete(self, key: str, storage_type: str = DEFAULT_STORAGE_TYPE) -> None:
        """Delete the data stored at ``key`` with storage type ``storage_type``.

        Not atomic: two concurrent deletes of one key may both succeed.

        Raises:
            NotFoundError: no data exists for the key and storage type.
        """
        store = self.store(storage_type)
        with _not_found(key, storage_type):
            store.head(key)
        store.delete(key)

    def exists(self, key: str, storage_type: str = DEFAULT_STORAGE_TYPE) -> bool:
        """Return whether there is data stored at ``key`` with storage type ``storage_type``."""
        return self.store(storage_type).exists(key)

    def get(self, key: str, storage_type: str = DEFAULT_STORAGE_TYPE) -> str:
        """Return the data stored at ``key`` with storage type ``storage_type``, as a string.

        The bytes are decoded as UTF-8; bytes that are not UTF-8 are kept as lone surrogates
        (``errors="surrogateescape"``), so ``value.encode("utf-8", "surrogateescape")`` gives back exactly what
        was stored. :meth:`get_file` returns bytes.

        Raises:
            NotFoundError: no data exists for the key and storage type.
        """
        store = self.store(storage_type)
        with _not_found(key, storage_type):
            data = store.get_bytes(key)
        return data.decode("utf-8", "surrogateescape")

    def get_file(
        self, key: str, file_obj: str | os.PathLike[str] | _Writable, storage_type: str = DEFAULT_STORAGE_TYPE
    ) -> None:
        """Write the data stored at ``key`` with storage type ``storage_type`` to a file, streaming it.

        Args:
            file_obj: a file name, or a file-like object that accepts bytes (``open(name, "wb")``). A named file
                is written through a temporary file renamed into place, so a failed download leaves it as it was.

        Raises:
            NotFoundError: no data exists for the key and storage type (a named file is then not created).
        """
        store = self.store(storage_type)
        if isinstance(file_obj, str | os.PathLike):
            with _not_found(key, storage_type):
                store.download_file(key, file_obj)
            return
        with _not_found(key, storage_type):
            result = store.get(key)
        with result.body as body:
            for chunk in body:
                file_obj.write(chunk)

    def get_signed_url(
        self, key: str, storage_type: str = DEFAULT_STORAGE_TYPE, *, expires_in: float = SIGNED_URL_EXPIRES_IN
    ) -> str:
        """Return a temporary URL (``expires_in`` seconds) that downloads the data at ``key`` without credentials.

        No request is made: the URL of a missing key answers 404 when fetched.

        Raises:
            NotSupported: the store cannot sign URLs (a local folder, SFTP or memory used directly; serve it with
                ``satchel serve`` and open it as ``satchel+http`` to sign).
        """
        return self.store(storage_type).sign(key, "GET", expires_in)

    def get_upload_url(self, key: str, storage_type: str = DEFAULT_STORAGE_TYPE, **kwargs: float) -> str:
        """Return a temporary URL that uploads data to ``key`` with an HTTP ``PUT``, without credentials.

        The one keyword satchel knows is ``expires_in`` (seconds, default :data:`SIGNED_URL_EXPIRES_IN`). Data
        uploaded through the URL carries no expiry: a ``"tmp"`` object written this way does not expire.

        Raises:
            NotSupported: the store cannot sign URLs (see :meth:`get_signed_url`).
            TypeError: a keyword other than ``expires_in``.
        """
        expires_in = kwargs.pop("expires_in", SIGNED_URL_EXPIRES_IN)
        if kwargs:
            raise TypeError(f"get_upload_url() got unexpected keyword(s): {', '.join(sorted(kwargs))}")
        return self.store(storage_type).sign(key, "PUT", expires_in)

    def iter_list(self, prefix: str | None = None, storage_type: str = DEFAULT_STORAGE_TYPE) -> Iterator[str]:
        """Yield every key stored under ``storage_type`` that starts with ``prefix`` (all keys when None).

        Keys come in key order, fetched a page at a time as the iteration goes.
        """
        store = self.store(storage_type)
        for meta in store.list(prefix or ""):
            yield meta.key

    def list(self, prefix: str | None = None, storage_type: str = DEFAULT_STORAGE_TYPE) -> builtins.list[str]:
        """Return up to :data:`LIST_LIMIT` (1000) keys stored under ``storage_type`` that start with ``prefix``.

        Use :meth:`iter_list` for more.
        """
        return builtins.list(islice(self.iter_list(prefix, storage_type), LIST_LIMIT))

    def set(self, key: str, value: str | bytes | _Readable, storage_type: str = DEFAULT_STORAGE_TYPE) -> None:
        """Store ``value`` at ``key`` with storage type ``storage_type``, replacing what was there.

        Args:
            value: a string (stored as UTF-8), bytes, or a file-like object read to its end in chunks (a text
                stream's characters are stored as UTF-8).
        """
        store = self.store(storage_type)
        expires = self.tmp_ttl if storage_type == "tmp" else None
        if isinstance(value, str):
            store.put(key, value.encode("utf-8", "surrogateescape"), expires=expires)
        elif isinstance(value, bytes | bytearray | memoryview):
            store.put(key, value, expires=expires)
        elif isinstance(value, io.TextIOBase):
            store.put(key, _encoded_chunks(value), expires=expires)
        else:
            store.put(key, value, expires=expires)  # type: ignore[arg-type]  # a binary stream

    def set_file(
        self, key: str, file_obj: str | os.PathLike[str] | _Readable, storage_type: str = DEFAULT_STORAGE_TYPE
    ) -> None:
        """Store the contents of a file at ``key`` with storage type ``storage_type``, streaming it.

        Args:
            file_obj: a file name, or a file-like object (binary, or text stored as UTF-8).

        Raises:
            FileNotFoundError: the named file does not exist.
        """
        if isinstance(file_obj, str | os.PathLike):
            store = self.store(storage_type)
            store.upload_file(file_obj, key, expires=self.tmp_ttl if storage_type == "tmp" else None)
            return
        self.set(key, file_obj, storage_type)


@contextmanager
def _not_found(key: str, storage_type: str) -> Iterator[None]:
    """Turn satchel's NotFound into the :class:`NotFoundError` the API promises, named by the caller's key."""
    try:
        yield
    except NotFound as exc:
        if isinstance(exc, NotFoundError):
            raise
        raise NotFoundError(
            f"no data at this key with storage type {storage_type!r}",
            key=key,
            operation=exc.operation,
            backend=exc.backend,
        ) from exc


def _encoded_chunks(stream: io.TextIOBase) -> Iterator[bytes]:
    while chunk := stream.read(_CHUNK):
        yield chunk.encode("utf-8", "surrogateescape")


def _token(auth: Any) -> str | None:
    if auth is None or isinstance(auth, str):
        return auth
    token = getattr(auth, "token", None)
    if not isinstance(token, str):
        raise TypeError(f"auth must be None, a token string or have a str 'token' attribute, not {type(auth).__name__}")
    return token


def _retries(retries: Any) -> int | None:
    if retries is None or retries is True:
        return None
    if not isinstance(retries, int) and not hasattr(retries, "total"):
        raise TypeError(f"retries must be None, an int or a urllib3 Retry, not {type(retries).__name__}")
    total = retries if isinstance(retries, int) else retries.total
    if total is None:
        return None
    if total is False:
        return 0
    if not isinstance(total, int):
        raise TypeError(f"retries must be None, an int or a urllib3 Retry, not {type(retries).__name__}")
    return max(0, total)


def _url_prefix(url: str) -> str:
    # A ``prefix`` in the URL's query is kept: each storage type's namespace goes below it.
    query = urlsplit(url).query if "://" in url else ""
    prefix = dict(parse_qsl(query, keep_blank_values=True)).get("prefix", "")
    if prefix and not prefix.endswith("/"):
        raise ConfigError(f"a prefix must end with '/', got {prefix!r}")
    return prefix
