"""The Azure Blob backend: block blobs in one container, through obstore.

Why obstore
    The same engine as S3 and GCS (see :mod:`satchel.backends.obstore`): one shared core, one error
    translation, native SAS signing, streamed multipart uploads as staged blocks, and its HTTP work in Rust.
    The Azure SDK would add a second engine for a service obstore already covers whole.

URLs
    ``az://container/optional/prefix?account_name=...&account_key=...``; every field of :class:`AzureConfig` is
    a query option or a keyword of :func:`satchel.open`. Credentials are an account key, a SAS token or a
    connection string (``AccountName=...;AccountKey=...;BlobEndpoint=...``); with none, obstore reads the
    environment (``AZURE_STORAGE_*``, managed identity, the Azure CLI). ``use_emulator=True`` fills in
    Azurite's documented development account, key and endpoint. Secrets are :class:`~satchel.secret.Secret`.

What Azurite taught
    - obstore's own ``use_emulator`` ignores a custom endpoint (it always dials ``127.0.0.1:10000``), so the
      emulator is reached as any other endpoint: ``endpoint_url=http://host:port/devstoreaccount1``.
    - Metadata names must be C# identifiers: ``-`` and ``.`` are refused with ``InvalidMetadata``. Names that
      are not plain identifiers (satchel's own ``satchel-...`` names among them) are stored escaped:
      ``_`` + the name with every character outside ``[a-z0-9]`` written as ``_XX`` (hex of its UTF-8 bytes).
    - Listings return etags without the quotes that puts and heads return, and Azure compares ``If-Match``
      literally: listed etags are quoted here so every etag satchel hands out works as a precondition.
    - Azure has no suffix ranges; ``last(n)`` reads are a head followed by a bounded read pinned to the
      headed etag (retried if the object changes in between), so they never mix two versions.
    - A blob stored without a content type reads back as ``application/octet-stream``: reported as none,
      unless the caller set that type (recorded in a reserved metadata entry).
    - ``\\`` in a blob name comes back as ``/`` in listings (the service's rule, which Azurite follows), so
      keys holding a backslash are refused with ``InvalidPath`` instead of aliasing another key.
    - obstore's Azure listing does not start at an offset, and a range at the very end of a blob (or any
      range of an empty one) fails inside obstore before its 416 is seen: both are corrected here.
    - A missing key in a batch delete is reported per key; a missing key is not an error to satchel.
    - SAS signing needs the account key: a store authenticated by a SAS token cannot sign (``signing``
      is declared only with a key). Azurite enforces the SAS method and expiry as Azure does.

Capabilities (and why)
    Conditional create/update are ``If-None-Match: *`` and ``If-Match`` on Put Blob; copy-if-absent is
    ``If-None-Match: *`` on Copy Blob. No conditional deletes (obstore's delete takes no precondition), no
    native rename (copy then delete), no attributes in listings (obstore does not ask for them). A batch
    delete holds at most 256 keys, Azure's limit.
"""

from __future__ import annotations

import binascii
import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from obstore.store import AzureStore

from satchel.backend import GetResult, MultipartUpload, Payload
from satchel.backends.obstore._azure_metadata import (
    escape_attributes,
    unescape_attributes,
)
from satchel.backends.obstore._core import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_SIZE,
    ObstoreBackend,
)
from satchel.errors import (
    ConfigError,
    InvalidPath,
    NotFound,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
)
from satchel.path import Key
from satchel.secret import Secret
from satchel.types import (
    ByteRange,
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutOptions,
    PutResult,
)

if TYPE_CHECKING:
    from obstore.store import AzureConfig as ObAzureConfig
    from obstore.store import ClientConfig, RetryConfig

__all__ = ["AZURE_CAPABILITIES", "AZURITE_ACCOUNT", "AzureBackend", "AzureConfig"]

AZURE_CAPABILITIES = Capabilities(
    conditional_delete=False,
    rename=False,
    signing=True,
    list_attributes=False,
    max_delete_batch=256,
)

# Azurite's development account: public, documented by Microsoft, and accepted by the emulator only.
AZURITE_ACCOUNT = "devstoreaccount1"
_AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_AZURITE_ENDPOINT = "http://127.0.0.1:10000/" + AZURITE_ACCOUNT
_CONTAINER = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}")
_SUFFIX_ATTEMPTS = 3
# Azure answers "application/octet-stream" for a blob stored without a content type: read back as none.
# ... unless the caller asked for it: then this reserved metadata entry says so.
_RANGE_HINTS = ("InvalidRangeRequest", "Wanted range starting at", 'CONTENT_RANGE header: "bytes 0--1/0"')


@dataclass(frozen=True)
class AzureConfig:
    """Options of ``az://`` URLs.

    Attributes:
        container: the container (the URL's host part).
        account_name: the storage account; taken from the connection string or the emulator if not given.
        account_key: the account's shared key (lets the backend sign SAS URLs).
        sas_token: a SAS token (with or without its leading ``?``) instead of a key.
        connection_string: an Azure connection string; its parts fill the fields not given explicitly.
        endpoint_url: the blob service URL, ``http://127.0.0.1:PORT/devstoreaccount1`` for Azurite; None for
            ``https://ACCOUNT.blob.core.windows.net``.
        use_emulator: use Azurite's development account, key and default endpoint where not given.
        anonymous: send unsigned requests (public containers).
        allow_http: permit plain HTTP; None allows it exactly for ``http://`` endpoints.
        multipart_threshold: payloads above this many bytes are uploaded in blocks.
        part_size: bytes per uploaded block (at least 5 MiB).
        max_concurrency: blocks of one upload in flight at once.
        timeout: seconds a request may take in total.
        connect_timeout: seconds a connection may take to open.
        max_retries: retries of obstore itself on connection errors, throttling and 5xx replies.
    """

    container: str
    account_name: str | None = None
    account_key: Secret | None = None
    sas_token: Secret | None = None
    connection_string: Secret | None = None
    endpoint_url: str | None = None
    use_emulator: bool = False
    anonymous: bool = False
    allow_http: bool | None = None
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int = DEFAULT_PART_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    timeout: float = 60.0
    connect_timeout: float = 5.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        for name in ("account_key", "sas_token", "connection_string"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Secret):
                object.__setattr__(self, name, Secret(value))
        if not _CONTAINER.fullmatch(self.container):
            raise ConfigError(
                f"invalid container name {self.container!r}: 3-63 lowercase letters, digits and single hyphens",
                backend="azure",
            )
        if self.connection_string is not None:
            self._fill(_parse_connection_string(self.connection_string.reveal()))
        if self.use_emulator:
            self._fill({"account_name": AZURITE_ACCOUNT, "endpoint_url": _AZURITE_ENDPOINT})
            if self.sas_token is None and not self.anonymous:
                self._fill({"account_key": Secret(_AZURITE_KEY)})
        if self.account_key is not None and self.sas_token is not None:
            raise ConfigError("give an account key or a SAS token, not both", backend="azure")
        if self.account_name is None:
            raise ConfigError("az:// needs account_name (or a connection string, or use_emulator)", backend="azure")
        if self.account_key is not None:
            try:
                binascii.a2b_base64(self.account_key.reveal().encode())
            except binascii.Error:
                raise ConfigError("account_key is not base64", backend="azure") from None

    def _fill(self, values: Mapping[str, object]) -> None:
        for name, value in values.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    @property
    def endpoint(self) -> str:
        """The blob service URL requests go to."""
        return (self.endpoint_url or f"https://{self.account_name}.blob.core.windows.net").rstrip("/")

    @property
    def location(self) -> str:
        """Where the objects live, with no secret: ``az://container @ endpoint``."""
        return f"az://{self.container} @ {self.endpoint}"


def _parse_connection_string(text: str) -> dict[str, object]:
    parts: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, value = item.strip().partition("=")
        if not item.strip():
            continue
        if not sep:
            raise ConfigError("a connection string is NAME=VALUE pairs separated by ';'", backend="azure")
        parts[name.strip().lower()] = value.strip()
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        return {"account_name": AZURITE_ACCOUNT, "account_key": Secret(_AZURITE_KEY), "endpoint_url": _AZURITE_ENDPOINT}
    fields: dict[str, object] = {}
    if "accountname" in parts:
        fields["account_name"] = parts["accountname"]
    if "accountkey" in parts:
        fields["account_key"] = Secret(parts["accountkey"])
    if "sharedaccesssignature" in parts:
        fields["sas_token"] = Secret(parts["sharedaccesssignature"])
    if "blobendpoint" in parts:
        fields["endpoint_url"] = parts["blobendpoint"]
    elif "accountname" in parts:
        protocol = parts.get("defaultendpointsprotocol", "https")
        suffix = parts.get("endpointsuffix", "core.windows.net")
        fields["endpoint_url"] = f"{protocol}://{parts['accountname']}.blob.{suffix}"
    return fields


class AzureBackend(ObstoreBackend):
    """A Backend over one Azure Blob container (see the module docstring for the quirks it smooths)."""

    @classmethod
    def from_config(cls, config: AzureConfig) -> AzureBackend:
        """Build the backend from URL options.

        Raises:
            ConfigError: an inconsistent option, or one obstore refuses.
        """
        options: ObAzureConfig = {"account_name": config.account_name or ""}
        if config.endpoint_url is not None:
            options["endpoint"] = config.endpoint
        if config.anonymous:
            options["skip_signature"] = True
        elif config.account_key is not None:
            options["account_key"] = config.account_key.reveal()
        elif config.sas_token is not None:
            options["sas_key"] = config.sas_token.reveal().lstrip("?")
        allow_http = config.allow_http
        if allow_http is None:
            allow_http = config.endpoint.startswith("http://")
        client: ClientConfig = {
            "allow_http": allow_http,
            "timeout": timedelta(seconds=config.timeout),
            "connect_timeout": timedelta(seconds=config.connect_timeout),
        }
        retry: RetryConfig = {"max_retries": config.max_retries, "retry_timeout": timedelta(seconds=config.timeout)}
        try:
            store = AzureStore(config.container, config=options, client_options=client, retry_config=retry)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"invalid Azure configuration for {config.location}: {exc}", backend="azure") from None
        except Exception as exc:  # obstore's configuration errors are its own BaseError subclasses
            raise ConfigError(f"invalid Azure configuration for {config.location}", backend="azure") from exc
        signs = config.account_key is not None and not config.anonymous
        return cls(
            store,
            name="azure",
            capabilities=dataclasses.replace(AZURE_CAPABILITIES, signing=signs),
            location=config.location,
            multipart_threshold=config.multipart_threshold,
            part_size=config.part_size,
            max_concurrency=config.max_concurrency,
        )

    # Attributes travel with their metadata names escaped (see the module docstring).

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write ``payload`` under ``key`` with Azure-safe metadata names (see :meth:`ObstoreBackend.put`).

        Raises:
            InvalidPath: the key holds a backslash (Azure would store it as ``/``).
        """
        _refuse_backslash(key, "put")
        return super().put(key, payload, _escaped_options(options))

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload in parts with Azure-safe metadata names.

        Raises:
            InvalidPath: the key holds a backslash.
        """
        _refuse_backslash(key, "put_multipart")
        return super().put_multipart(key, _escaped_options(options))

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` (server-side unless new attributes are given).

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        _refuse_backslash(dst, "copy")
        if options.attributes is not None:
            options = dataclasses.replace(options, attributes=escape_attributes(options.attributes))
        super().copy(src, dst, options)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object, serving suffix ranges as a head and a read pinned to its etag.

        Raises:
            NotFound: no such object.
            RangeNotSatisfiable: the range starts at or past the end (any range of an empty object).
            PreconditionFailed / NotModified: a condition did not hold.
        """
        _refuse_backslash(key, "get")
        if options.range is not None and options.range.suffix is not None:
            return self._get_suffix(key, options, options.range.suffix)
        try:
            result = super().get(key, options)
        except SatchelError as error:
            # obstore rejects Azurite's answer to a range at the very end ("bytes 0--1/0" for an empty blob,
            # the whole blob for a start equal to its size) before the status is seen: both mean 416.
            cause = str(error.__cause__ or "")
            if (
                type(error) is SatchelError
                and options.range is not None
                and any(hint in cause for hint in _RANGE_HINTS)
            ):
                raise RangeNotSatisfiable(
                    "the range starts at or past the end of the object", key=key, operation="get", backend=self.name
                ) from error
            raise
        result.meta = _unescaped_meta(result.meta)
        return result

    def _get_suffix(self, key: Key, options: GetOptions, length: int) -> GetResult:
        for _ in range(_SUFFIX_ATTEMPTS):
            seen = self.get(key, dataclasses.replace(options, range=None, head=True)).meta
            if seen.size == 0:
                raise RangeNotSatisfiable(
                    "suffix range of an empty object", key=key, operation="get", backend=self.name
                )
            bounded = ByteRange.bounded(max(0, seen.size - length), seen.size)
            pinned = dataclasses.replace(options, range=bounded, if_match=options.if_match or seen.etag)
            try:
                return self.get(key, pinned)
            except PreconditionFailed:
                if options.if_match is not None:
                    raise
        raise PreconditionFailed(
            "the object kept changing during a suffix read", key=key, operation="get", backend=self.name
        )

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield every object under ``prefix`` in key order, with etags quoted as heads give them."""
        # obstore's Azure listing does not skip to ``offset`` (Azurite has no startFrom): filter here.
        for meta in super().list(prefix, offset):
            if offset is None or meta.key > offset:
                yield _quoted(meta)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one level below ``prefix``, etags quoted."""
        result = super().list_with_delimiter(prefix)
        return ListResult([_quoted(meta) for meta in result.objects], result.common_prefixes)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys``; keys already missing are skipped, as the contract says.

        Raises:
            NotSupported: a conditional delete (obstore's delete takes no precondition).
        """
        try:
            super().delete(keys, options)
        except NotFound:
            # Azure's batch answers per key: the others were deleted; retry once for any reported after.
            remaining = [key for key in keys if self._exists(key)]
            if remaining:
                super().delete(remaining, options)

    def _exists(self, key: Key) -> bool:
        try:
            self.get(key, GetOptions(head=True))
        except NotFound:
            return False
        return True


def _refuse_backslash(key: Key, operation: str) -> None:
    if "\\" in key:
        raise InvalidPath(
            "Azure Blob stores '\\' in blob names as '/': such keys cannot round-trip",
            key=key,
            operation=operation,
            backend="azure",
        )


def _escaped_options(options: PutOptions) -> PutOptions:
    attributes = escape_attributes(options.attributes)
    return options if attributes is options.attributes else dataclasses.replace(options, attributes=attributes)


def _unescaped_meta(meta: ObjectMeta) -> ObjectMeta:
    attributes = unescape_attributes(meta.attributes)
    return meta if attributes is meta.attributes else dataclasses.replace(meta, attributes=attributes)


def _quoted(meta: ObjectMeta) -> ObjectMeta:
    if meta.etag is None or meta.etag.startswith('"'):
        return meta
    return dataclasses.replace(meta, etag=f'"{meta.etag}"')
