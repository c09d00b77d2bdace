"""GCSConfig: the options of ``gs://`` URLs, and the credentials they name."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import google.auth
from google.auth.credentials import AnonymousCredentials, Signing
from google.oauth2 import service_account

from satchel.backends.gcs._errors import translate
from satchel.errors import ConfigError
from satchel.secret import Secret

__all__ = ["DEFAULT_CHUNK_SIZE", "GCSConfig", "load_credentials"]

_QUANTUM = 256 * 1024
DEFAULT_CHUNK_SIZE = 32 * _QUANTUM  # 8 MiB: one resumable-upload request, and one download range
_SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)


@dataclass(frozen=True)
class GCSConfig:
    """Options of ``gs://bucket/optional/prefix`` URLs; each field is a query option or a keyword.

    Attributes:
        bucket: the bucket (the URL's host part).
        project: the project billed for requests; None lets the credentials decide.
        endpoint_url: another server's base URL (an emulator, ``http://127.0.0.1:9023``); None for Google's.
        anonymous: send unauthenticated requests (emulators, public buckets). A service account key given as
            well is then used only to sign URLs.
        service_account_path: a service account key file (JSON).
        service_account_key: the JSON text of a service account key.
        timeout: seconds one request may take.
        chunk_size: bytes per resumable-upload request and per download range; a multiple of 256 KiB.
    """

    bucket: str
    project: str | None = None
    endpoint_url: str | None = None
    anonymous: bool = False
    service_account_path: str | None = None
    service_account_key: Secret | None = None
    timeout: float = 60.0
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def __post_init__(self) -> None:
        if self.service_account_key is not None and not isinstance(self.service_account_key, Secret):
            object.__setattr__(self, "service_account_key", Secret(self.service_account_key))
        if not self.bucket or "/" in self.bucket:
            raise ConfigError(f"invalid bucket name {self.bucket!r}", backend="gcs")
        if self.service_account_path is not None and self.service_account_key is not None:
            raise ConfigError("give service_account_path or service_account_key, not both", backend="gcs")
        if self.chunk_size <= 0 or self.chunk_size % _QUANTUM:
            raise ConfigError(f"chunk_size must be a positive multiple of {_QUANTUM} bytes", backend="gcs")
        if self.timeout <= 0:
            raise ConfigError("timeout must be positive", backend="gcs")

    @property
    def location(self) -> str:
        """Where the objects live, with no secret: ``gs://bucket @ endpoint``."""
        return f"gs://{self.bucket} @ {self.endpoint_url or 'Google'}"


def _key_info(config: GCSConfig) -> dict[str, Any] | None:
    if config.service_account_key is not None:
        try:
            info = json.loads(config.service_account_key.reveal())
        except ValueError:
            raise ConfigError("service_account_key is not JSON", backend="gcs") from None
    elif config.service_account_path is not None:
        path = Path(config.service_account_path)
        try:
            info = json.loads(path.read_text())
        except OSError:
            raise ConfigError(f"cannot read the service account file {path}", backend="gcs") from None
        except ValueError:
            raise ConfigError(f"the service account file {path} is not JSON", backend="gcs") from None
    else:
        return None
    if not isinstance(info, dict):
        raise ConfigError("the service account key is not a JSON object", backend="gcs")
    return info


def load_credentials(config: GCSConfig) -> tuple[Any, Any]:
    """Return the credentials requests are sent with, and those URLs are signed with (None if none can sign).

    Default credentials (``google.auth.default``) are used when no key is given and ``anonymous`` is False.

    Raises:
        ConfigError: the key is unreadable or not a service account key.
        Unauthenticated: no key was given and the environment has no default credentials.
    """
    info = _key_info(config)
    keyed = None
    if info is not None:
        try:
            keyed = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, scopes=_SCOPES
            )
        except (ValueError, KeyError):
            raise ConfigError("the service account key is missing fields or malformed", backend="gcs") from None
    if config.anonymous:
        requests: Any = AnonymousCredentials()  # type: ignore[no-untyped-call]
    elif keyed is not None:
        requests = keyed
    else:
        with translate("open", None, location=config.location):
            requests, _ = google.auth.default(scopes=_SCOPES)
    signer = keyed if keyed is not None else requests
    return requests, (signer if isinstance(signer, Signing) else None)
