"""keg-storage's StorageBackend over a :class:`satchel.Store`: files, listings, progress, and links.

Every backend of this front door is this class over a store built from a satchel URL; the per-service classes
in :mod:`satchel.flask_ext._services` only build the URL.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any, Literal, Protocol

import flask

from satchel.errors import ConfigError, NotFound, NotSupported
from satchel.flask_ext._remote_file import RemoteFile
from satchel.flask_ext._tokens import sign_token, verify_token
from satchel.flask_ext._values import (
    FileMode,
    FileNotFoundInStorageError,
    InternalLinkTokenData,
    ListEntry,
    ShareLinkOperation,
)
from satchel.store import Store

__all__ = ["LINK_ENDPOINT", "Expire", "InternalLinksStorageBackend", "ProgressCallback", "StorageBackend"]

LINK_ENDPOINT = "keg_storage.link"
"""The endpoint :class:`satchel.flask.Storage` registers to serve token links (``/<profile>?token=...``)."""

ProgressCallback = Callable[[int], object]
"""Called with the number of bytes transferred so far."""


class _ArrowLike(Protocol):
    @property
    def datetime(self) -> datetime: ...


Expire = datetime | timedelta | _ArrowLike
"""When a link expires: an aware datetime (naive ones are UTC), an ``arrow.Arrow``, or a delay from now."""


def _deadline(expire: Expire) -> float:
    if isinstance(expire, timedelta):
        return time.time() + expire.total_seconds()
    moment = expire if isinstance(expire, datetime) else expire.datetime
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class _ProgressStream:
    """Reports the bytes read so far from a stream. Not seekable, so a failed upload is never replayed and
    the counts only grow."""

    def __init__(self, stream: IO[bytes], callback: ProgressCallback) -> None:
        self._stream = stream
        self._callback = callback
        self._done = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        if data:
            self._done += len(data)
            self._callback(self._done)
        return data


class StorageBackend:
    """A keg-storage backend over a satchel :class:`~satchel.Store`.

    Links (``link_to``) are signed by the store where it can sign natively (S3, Azure with a key, GCS, a satchel
    server); otherwise they are HMAC-signed tokens served by the endpoint :class:`satchel.flask.Storage`
    registers, or by ``linked_endpoint`` (a view of the app, see :class:`satchel.flask.LinkViewMixin`).
    Tokens are signed with ``secret_key``, or with the app's ``SECRET_KEY`` when it is None.
    """

    native_links = True

    def __init__(
        self,
        store: Store,
        *,
        name: str | None,
        linked_endpoint: str | None = None,
        secret_key: str | bytes | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.linked_endpoint = linked_endpoint
        self.secret_key = secret_key

    def __str__(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, store={self.store!r})"

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    @contextlib.contextmanager
    def _keg_errors(self, path: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundInStorageError:
            raise
        except NotFound as exc:
            raise FileNotFoundInStorageError(self, path) from exc

    # --- files ----------------------------------------------------------------------------------------

    def list(self, path: str) -> list[ListEntry]:
        """Return every object whose key starts with ``path`` (a plain prefix, as on S3), in key order."""
        return [ListEntry(meta.key, meta.last_modified, meta.size) for meta in self.store.list(path)]

    def open(self, path: str, mode: FileMode | str) -> RemoteFile:
        """Open the remote file ``path`` for reading (``"r"``) or writing (``"w"``).

        Raises:
            FileNotFoundInStorageError: reading a file that does not exist.
            NotSupported: reading and writing at once.
            ValueError: an invalid mode.
        """
        file_mode = FileMode.as_mode(mode)
        if file_mode == FileMode.read | FileMode.write:
            raise NotSupported("remote files open for reading or for writing, not both", key=path, operation="open")
        if file_mode == FileMode.write:
            return RemoteFile(file_mode, self.store.open(path, "wb"))
        with self._keg_errors(path):
            return RemoteFile(file_mode, self.store.open(path, "rb"))

    def delete(self, path: str) -> None:
        """Delete the remote file ``path``; a missing file is not an error."""
        self.store.delete(path)

    def copy(self, path: str, new_path: str) -> None:
        """Copy the remote file ``path`` to ``new_path`` (inside the store where it can).

        Raises:
            FileNotFoundInStorageError: ``path`` does not exist.
        """
        with self._keg_errors(path):
            self.store.copy(path, new_path)

    def get(self, path: str, dest: str | os.PathLike[str]) -> None:
        """Copy the remote file ``path`` to the local file ``dest`` (written whole or not at all).

        Raises:
            FileNotFoundInStorageError: ``path`` does not exist.
        """
        with self._keg_errors(path):
            self.store.download_file(path, dest)

    def put(self, path: str | os.PathLike[str], dest: str) -> None:
        """Copy the local file ``path`` to the remote file ``dest``.

        Raises:
            FileNotFoundError: the local file does not exist.
        """
        self.store.upload_file(path, dest)

    def download(self, path: str, file_obj: IO[bytes], *, progress_callback: ProgressCallback | None = None) -> None:
        """Stream the remote file ``path`` into the binary file-like ``file_obj``.

        ``progress_callback(bytes_so_far)`` is called after every chunk written.

        Raises:
            FileNotFoundInStorageError: ``path`` does not exist.
        """
        with self._keg_errors(path):
            result = self.store.get(path)
        done = 0
        with result.body as body:
            for chunk in body:
                file_obj.write(chunk)
                done += len(chunk)
                if progress_callback is not None:
                    progress_callback(done)

    def upload(self, file_obj: IO[bytes], path: str, *, progress_callback: ProgressCallback | None = None) -> None:
        """Stream the binary file-like ``file_obj`` to the remote file ``path``.

        ``progress_callback(bytes_so_far)`` is called as the store reads ``file_obj``.
        """
        if progress_callback is None:
            self.store.put(path, file_obj)
            return
        self.store.put(path, _ProgressStream(file_obj, progress_callback))

    # --- links ----------------------------------------------------------------------------------------

    def link_to(
        self,
        path: str,
        operation: ShareLinkOperation | str,
        expire: Expire,
        output_path: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Return a URL that allows ``operation`` on ``path`` without credentials until ``expire``.

        A plain download or upload is signed by the store where it signs natively. Anything else (a link
        without native signing, ``remove``, several operations, a download offered as ``output_path``) is a
        token link to the app's link endpoint; making one needs a Flask app context (a request context, or
        ``SERVER_NAME``). ``content_type`` is accepted and ignored (see the front door's notes).

        Raises:
            ConfigError: ``expire`` is not in the future, or no key to sign tokens with.
            ValueError: an invalid operation.
        """
        del content_type  # neither native signatures nor tokens bind a content type
        operations = ShareLinkOperation.as_operation(operation)
        expires_at = _deadline(expire)
        remaining = expires_at - time.time()
        if remaining <= 0:
            raise ConfigError("a link's expiry must be in the future", key=path, operation="link_to")
        if self.native_links and output_path is None:
            method = _NATIVE_METHODS.get(operations)
            if method is not None:
                try:
                    return self.store.sign(path, method, remaining)
                except NotSupported:
                    pass
        token = self._sign(InternalLinkTokenData(path, operations, output_path), expires_at)
        if self.linked_endpoint is not None:
            return flask.url_for(self.linked_endpoint, token=token, _external=True)
        if self.name is None:
            raise ConfigError("token links to the storage endpoint need a backend with a name", key=path)
        return flask.url_for(LINK_ENDPOINT, profile=self.name, token=token, _external=True)

    def create_link_token(self, *, path: str, operation: ShareLinkOperation | str, expire: Expire) -> str:
        """Return a token allowing ``operation`` on ``path`` until ``expire`` (which may be past: the token is
        then already expired).

        Raises:
            ConfigError: no ``secret_key`` and no app ``SECRET_KEY``.
        """
        return self._sign(InternalLinkTokenData(path, ShareLinkOperation.as_operation(operation)), _deadline(expire))

    def deserialize_link_token(self, token: str) -> InternalLinkTokenData:
        """Verify ``token`` and return the path and operations it grants.

        Raises:
            InvalidLinkToken: malformed, altered, signed with another key or for another backend, or expired.
            ConfigError: no ``secret_key`` and no app ``SECRET_KEY``.
        """
        return verify_token(self._secret(), self.name or "", token, time.time())

    def _sign(self, data: InternalLinkTokenData, expires_at: float) -> str:
        return sign_token(self._secret(), self.name or "", data, expires_at)

    def _secret(self) -> str | bytes:
        if self.secret_key:
            return self.secret_key
        secret: Any = flask.current_app.config.get("SECRET_KEY") if flask.has_app_context() else None
        if not secret or not isinstance(secret, str | bytes):
            raise ConfigError("link tokens need the backend's secret_key or the app's SECRET_KEY")
        return secret


_NATIVE_METHODS: dict[ShareLinkOperation, Literal["GET", "PUT"]] = {
    ShareLinkOperation.download: "GET",
    ShareLinkOperation.upload: "PUT",
}


class InternalLinksStorageBackend(StorageBackend):
    """A backend whose links are always token links, never the store's own signatures (keg's base class of the
    local folder and SFTP backends)."""

    native_links = False
