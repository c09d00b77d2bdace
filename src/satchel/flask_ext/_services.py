"""keg-storage's per-service backends: each builds a satchel URL (and options) and opens it.

These constructors are the only place in the front door that knows URL schemes; everything they return is a
:class:`StorageBackend` over a plain :class:`satchel.Store`.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import satchel
from satchel.errors import ConfigError, NotSupported
from satchel.flask_ext._backend import InternalLinksStorageBackend, StorageBackend

__all__ = ["AzureStorage", "LocalFSStorage", "S3Storage", "SFTPStorage", "SatchelStorage"]


def _options(**given: Any) -> dict[str, Any]:
    return {name: value for name, value in given.items() if value is not None}


class SatchelStorage(StorageBackend):
    """A backend over any satchel URL (``memory://``, ``gs://bucket``, ``satchel+http://...``, a path, ...).

    ``name`` defaults to the URL's scheme (``file`` for a plain path); ``options`` go to :func:`satchel.open`.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        name: str | None = None,
        linked_endpoint: str | None = None,
        secret_key: str | bytes | None = None,
        **options: Any,
    ) -> None:
        text = os.fspath(url)
        default_name = urlsplit(text).scheme if "://" in text else "file"
        super().__init__(
            satchel.open(text, **options),
            name=default_name if name is None else name,
            linked_endpoint=linked_endpoint,
            secret_key=secret_key,
        )
        self.url = text


class S3Storage(StorageBackend):
    """keg's S3 backend: ``s3://bucket`` in ``aws_region``; ``endpoint_url`` (a satchel addition) reaches an
    S3-compatible service. Links are presigned by S3."""

    def __init__(
        self,
        bucket: str,
        aws_region: str,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_profile: str | None = None,
        name: str = "s3",
        *,
        endpoint_url: str | None = None,
    ) -> None:
        self.url = f"s3://{quote(bucket, safe='')}"
        options = _options(
            region=aws_region,
            access_key_id=aws_access_key_id,
            secret_access_key=aws_secret_access_key,
            profile=aws_profile,
            endpoint_url=endpoint_url,
        )
        super().__init__(satchel.open(self.url, **options), name=name)

    def copy(self, current_file: str, new_file: str) -> None:
        """Copy the remote file ``current_file`` to ``new_file`` inside the bucket.

        Raises:
            FileNotFoundInStorageError: ``current_file`` does not exist.
        """
        super().copy(current_file, new_file)


_AZURE_HOST_SUFFIX = ".blob.core.windows.net"


def _azure_sas_url(url: str) -> tuple[str, dict[str, Any]]:
    # https://ACCOUNT.blob.core.windows.net/container[/blob]?SAS, or path style for emulators and custom
    # endpoints: http://host:port/ACCOUNT/container[/blob]?SAS
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if not parts.scheme or not parts.netloc or not parts.query:
        raise ConfigError("an Azure SAS URL needs a scheme, a host, a container and a SAS query")
    options: dict[str, Any] = {"sas_token": parts.query}
    if parts.hostname is not None and parts.hostname.endswith(_AZURE_HOST_SUFFIX):
        options["account_name"] = parts.hostname[: -len(_AZURE_HOST_SUFFIX)]
        container_index = 0
    else:
        if not segments:
            raise ConfigError("a path-style Azure SAS URL needs /account/container")
        options["account_name"] = segments[0]
        options["endpoint_url"] = f"{parts.scheme}://{parts.netloc}/{segments[0]}"
        container_index = 1
    if len(segments) <= container_index:
        raise ConfigError("an Azure SAS URL needs a container")
    if not dict(parse_qsl(parts.query)).get("sig"):
        raise ConfigError("an Azure SAS URL needs a signed query (sig=...)")
    return f"az://{quote(segments[container_index], safe='')}", options


class AzureStorage(StorageBackend):
    """keg's Azure Block Blob backend: an account and key with a container (``bucket``), or a SAS URL of a
    container or of one blob. ``endpoint_url`` (a satchel addition) reaches Azurite or a custom endpoint.

    Links are SAS URLs where the store has the account key; with a SAS token they are token links.
    ``chunk_size`` is the block size of uploads (at least 5 MiB).
    """

    def __init__(
        self,
        account: str | None = None,
        key: str | None = None,
        bucket: str | None = None,
        sas_container_url: str | None = None,
        sas_blob_url: str | None = None,
        chunk_size: int = 5242880,
        name: str = "azure",
        *,
        endpoint_url: str | None = None,
    ) -> None:
        sas_url = sas_container_url or sas_blob_url
        if sas_url is not None:
            self.url, options = _azure_sas_url(sas_url)
        elif bucket is None:
            raise ConfigError("AzureStorage needs a bucket (container) with account and key, or a SAS URL")
        else:
            self.url = f"az://{quote(bucket, safe='')}"
            options = _options(account_name=account, account_key=key, endpoint_url=endpoint_url)
        options["part_size"] = chunk_size
        super().__init__(satchel.open(self.url, **options), name=name)


class LocalFSStorage(InternalLinksStorageBackend):
    """keg's local folder backend: the objects are files under ``root`` (which must exist). Links are token
    links to ``linked_endpoint``, or to the storage extension's endpoint when it is None."""

    def __init__(
        self,
        root: str | pathlib.Path,
        linked_endpoint: str | None = None,
        secret_key: str | bytes | None = None,
        name: str | None = None,
    ) -> None:
        self.root = pathlib.Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigError(f"storage root {str(root)!r} does not exist or is not a directory")
        self.url = self.root.as_uri()
        store = satchel.open(self.url, create=False)
        super().__init__(
            store,
            name=name if name is not None else f"fs-{self.root.name}",
            linked_endpoint=linked_endpoint,
            secret_key=secret_key,
        )


class SFTPStorage(InternalLinksStorageBackend):
    """keg's SFTP backend: paths are relative to the login folder; the host key must be in
    ``known_hosts_fpath``. Links are token links, as for the local folder."""

    def __init__(
        self,
        host: str,
        username: str,
        key_filename: str | None,
        known_hosts_fpath: str | None,
        port: int = 22,
        allow_agent: bool = False,
        look_for_keys: bool = False,
        linked_endpoint: str | None = None,
        secret_key: str | bytes | None = None,
        name: str = "sftp",
    ) -> None:
        if look_for_keys:
            raise NotSupported("satchel's SFTP does not search ~/.ssh for keys; give key_filename", operation="open")
        netloc_host = f"[{host}]" if ":" in host else host
        self.url = f"sftp://{quote(username, safe='')}@{netloc_host}:{int(port)}"
        options = _options(key_filename=key_filename, known_hosts=known_hosts_fpath, allow_agent=allow_agent)
        super().__init__(
            satchel.open(self.url, **options), name=name, linked_endpoint=linked_endpoint, secret_key=secret_key
        )
