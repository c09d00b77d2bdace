"""The S3 backend: Amazon S3 and S3-compatible services (MinIO, Ceph RGW, R2, moto, ...) through obstore.

URLs
    ``s3://bucket/optional/prefix?endpoint_url=http://127.0.0.1:9000&region=us-east-1``; every field of
    :class:`S3Config` is a query option or a keyword of :func:`satchel.open`.

Credentials
    Explicit ``access_key_id``/``secret_access_key``/``session_token`` win. Otherwise obstore reads the
    environment as the AWS SDKs do (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
    ``AWS_REGION``, web identity and container credentials, instance metadata). Profiles of
    ``~/.aws/config`` are not read by obstore itself: ``profile=NAME`` asks boto3 (if installed) to resolve
    the profile, refreshing its credentials as boto3 does. ``skip_signature=True`` sends anonymous requests
    (public buckets). Secrets are :class:`~satchel.secret.Secret`: reprs and errors show ``***``.

Addressing
    With an ``endpoint_url`` requests are path-style (``endpoint/bucket/key``) unless
    ``virtual_hosted_style=True``; without one, AWS's virtual-hosted style. ``allow_http`` defaults to True for
    ``http://`` endpoints.

Capabilities (and why)
    Conditional create and update are S3's ``If-None-Match: *`` and ``If-Match`` on PutObject. Conditional
    deletes are not declared: obstore's delete takes no precondition. ``copy_if_not_exists`` is not declared:
    S3 has no atomic copy-if-absent that obstore can use on every S3-compatible service. ``rename`` is not
    declared: S3 has none (the Store moves by copy then delete). Listings carry no attributes
    (``list_attributes=False``), so the expiration layer heads every listed object: one extra request per
    object listed under an expiration policy. A missing bucket raises ``ConfigError`` (it is a configuration
    mistake, not a missing object).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from obstore.store import S3Store

from satchel.backends.obstore._core import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    ObstoreBackend,
)
from satchel.errors import ConfigError
from satchel.secret import Secret
from satchel.types import Capabilities

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig
    from obstore.store import S3Config as ObS3Config

__all__ = ["S3_CAPABILITIES", "S3Backend", "S3Config"]

S3_CAPABILITIES = Capabilities(
    conditional_delete=False,
    copy_if_not_exists=False,
    rename=False,
    signing=True,
    list_attributes=False,
    max_delete_batch=1000,
)


_CHECKSUMS = ("sha256", "crc64nvme", "none")


@dataclass(frozen=True)
class S3Config:
    """Options of ``s3://`` URLs.

    Attributes:
        bucket: the bucket (the URL's host part).
        endpoint_url: the service's URL for S3-compatible services; None for AWS.
        region: the bucket's region (``us-east-1`` when neither this nor the environment gives one).
        access_key_id: the access key; None to use the environment.
        secret_access_key: the secret key.
        session_token: a temporary session token.
        profile: a profile of ``~/.aws/config`` resolved through boto3.
        virtual_hosted_style: ``bucket.endpoint`` addressing; None picks path-style when an endpoint is given.
        allow_http: permit plain HTTP; None allows it exactly for ``http://`` endpoints.
        skip_signature: send unsigned (anonymous) requests.
        multipart_threshold: payloads above this many bytes are uploaded in parts.
        part_size: bytes per uploaded part (at least 5 MiB).
        max_concurrency: parts of one upload in flight at once.
        timeout: seconds a request may take in total.
        connect_timeout: seconds a connection may take to open.
        max_retries: retries of obstore itself on connection errors, throttling and 5xx replies.
        checksum: the checksum sent with every upload (each part of a multipart one) for the service to verify
            before it stores the bytes: ``sha256`` (the default), ``crc64nvme``, or ``none`` for S3-compatible
            services that refuse checksum headers.
    """

    bucket: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    profile: str | None = None
    virtual_hosted_style: bool | None = None
    allow_http: bool | None = None
    skip_signature: bool = False
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int = DEFAULT_PART_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 3
    checksum: str = "sha256"

    def __post_init__(self) -> None:
        checksum = self.checksum.lower()
        if checksum not in _CHECKSUMS:
            raise ConfigError(f"checksum must be one of {', '.join(_CHECKSUMS)}, got {self.checksum!r}", backend="s3")
        object.__setattr__(self, "checksum", checksum)
        for name in ("secret_access_key", "session_token"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Secret):
                object.__setattr__(self, name, Secret(value))
        if (self.secret_access_key is None) != (self.access_key_id is None):
            raise ConfigError("access_key_id and secret_access_key go together")

    @property
    def location(self) -> str:
        """Where the objects live, with no secret: ``s3://bucket @ endpoint``."""
        return f"s3://{self.bucket} @ {self.endpoint_url or 'AWS'}"


class S3Backend(ObstoreBackend):
    """A Backend over an S3 bucket (see the module docstring for credentials and capabilities)."""

    # S3 answers this for objects written without a content type; reading it back as None keeps "no content
    # type" round-tripping (an object explicitly given exactly this type reads back as None too).
    default_content_type = "binary/octet-stream"

    @classmethod
    def from_config(cls, config: S3Config) -> S3Backend:
        """Build the backend from URL options.

        Raises:
            ConfigError: an inconsistent or unknown option, or a profile that cannot be resolved.
        """
        options: ObS3Config = {}
        endpoint = config.endpoint_url
        if endpoint is not None:
            options["endpoint"] = endpoint.rstrip("/")
            options["virtual_hosted_style_request"] = bool(config.virtual_hosted_style)
        elif config.virtual_hosted_style is not None:
            options["virtual_hosted_style_request"] = config.virtual_hosted_style
        if config.region is not None:
            options["region"] = config.region
        if config.access_key_id is not None and config.secret_access_key is not None:
            options["access_key_id"] = config.access_key_id
            options["secret_access_key"] = config.secret_access_key.reveal()
        if config.session_token is not None:
            options["session_token"] = config.session_token.reveal()
        if config.skip_signature:
            options["skip_signature"] = True
        if config.checksum != "none":
            options["checksum_algorithm"] = config.checksum.upper()
        allow_http = config.allow_http
        if allow_http is None:
            allow_http = endpoint is not None and endpoint.startswith("http://")
        client: ClientConfig = {
            "allow_http": allow_http,
            "timeout": timedelta(seconds=config.timeout),
            "connect_timeout": timedelta(seconds=config.connect_timeout),
        }
        retry: RetryConfig = {"max_retries": config.max_retries, "retry_timeout": timedelta(seconds=config.timeout)}
        extra: dict[str, Any] = {}
        if config.profile is not None:
            extra["credential_provider"] = _profile_credentials(config.profile)
        try:
            store = S3Store(config.bucket, config=options, client_options=client, retry_config=retry, **extra)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid S3 configuration for {config.location}: {exc}", backend="s3") from None
        except Exception as exc:  # obstore's configuration errors are its own BaseError subclasses
            raise ConfigError(f"invalid S3 configuration for {config.location}", backend="s3") from exc
        return cls(
            store,
            name="s3",
            capabilities=S3_CAPABILITIES,
            location=config.location,
            multipart_threshold=config.multipart_threshold,
            part_size=config.part_size,
            max_concurrency=config.max_concurrency,
        )


def _profile_credentials(profile: str) -> Any:
    # boto3 is optional: imported only by those who name a profile.
    try:
        boto3 = importlib.import_module("boto3")
        provider = importlib.import_module("obstore.auth.boto3").Boto3CredentialProvider
    except ImportError as exc:
        raise ConfigError("profile= needs boto3 installed (pip install boto3)", backend="s3") from exc
    try:
        return provider(boto3.Session(profile_name=profile))
    except Exception as exc:  # botocore's ProfileNotFound and friends
        raise ConfigError(f"AWS profile {profile!r} cannot be used", backend="s3") from exc
