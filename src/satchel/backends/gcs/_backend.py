"""GCSBackend: the Backend contract over one bucket, through google-cloud-storage's JSON API."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any, Literal

from google.api_core.exceptions import NotFound as SDKNotFound
from google.cloud import storage  # type: ignore[import-untyped]  # the SDK ships no py.typed

from satchel.backend import BYTES_LIKE, GetResult, MultipartUpload, Payload, refuse_layer_options, refuse_reserved_key
from satchel.backends.gcs._config import GCSConfig, load_credentials
from satchel.backends.gcs._errors import BACKEND, Conflict, translate
from satchel.backends.gcs._lister import list_objects, list_one_level
from satchel.backends.gcs._meta import apply_attributes, etag_of, meta_of, parse_etag, validate_attributes
from satchel.backends.gcs._multipart import GCSUpload
from satchel.backends.gcs._reader import open_body
from satchel.backends.gcs._writer import FullReads
from satchel.body import BytesBody
from satchel.errors import AlreadyExists, ConfigError, NotFound, NotSupported, PreconditionFailed
from satchel.path import Key
from satchel.preconditions import check_get_preconditions
from satchel.types import (
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutMode,
    PutOptions,
    PutResult,
)

__all__ = ["GCS_CAPABILITIES", "GCSBackend"]

GCS_CAPABILITIES = Capabilities(rename=False, signing=False, max_delete_batch=100, max_parts=1024)
_ATTEMPTS = 3  # reads and metadata patches retry a lost race with a concurrent writer this many times
_MAX_SIGNED_SECONDS = 7 * 24 * 3600


class GCSBackend:
    """A Backend over one GCS bucket (see :mod:`satchel.backends.gcs` for credentials and capabilities)."""

    name = "gcs"

    def __init__(self, client: Any, config: GCSConfig, signer: Any = None) -> None:
        """Wrap a ``google.cloud.storage.Client``; ``signer`` is credentials that can sign URLs, if any."""
        self._client = client
        self._config = config
        self._bucket = client.bucket(config.bucket)
        self._signer = signer
        self._location = config.location
        self._capabilities = Capabilities(**{**GCS_CAPABILITIES.__dict__, "signing": signer is not None})

    @classmethod
    def from_config(cls, config: GCSConfig) -> GCSBackend:
        """Build the backend from URL options; no request is sent.

        Raises:
            ConfigError: an unreadable or malformed service account key.
            Unauthenticated: no credentials given and none in the environment.
        """
        credentials, signer = load_credentials(config)
        options = {"api_endpoint": config.endpoint_url.rstrip("/")} if config.endpoint_url else None
        with translate("open", None, location=config.location):
            client = storage.Client(project=config.project, credentials=credentials, client_options=options)
        return cls(client, config, signer)

    @property
    def capabilities(self) -> Capabilities:
        """Everything but native rename; signing only with credentials that can sign."""
        return self._capabilities

    def __repr__(self) -> str:
        return f"GCSBackend({self._location!r})"

    # --- writes -----------------------------------------------------------------------------------------------

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Upload ``payload`` in one request (bytes) or as a resumable upload in chunks (streams).

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the object is missing or changed.
            ConfigError: the bucket does not exist, or the metadata is invalid.
        """
        self._check_write(key, options, "put")
        preconditions = self._write_preconditions(key, options, "put")
        blob = self._bucket.blob(key, chunk_size=self._config.chunk_size)
        apply_attributes(blob, options.attributes)
        if isinstance(payload, BYTES_LIKE):
            stream: Any = io.BytesIO(payload)
            size: int | None = len(memoryview(payload).cast("B"))
        else:
            stream, size = FullReads(payload), None
        conflict: Conflict = "exists" if options.mode is PutMode.CREATE else "precondition"
        with translate("put", key, location=self._location, missing="bucket", conflict=conflict):
            blob.upload_from_file(
                stream,
                size=size,
                content_type=blob.content_type,
                timeout=self._config.timeout,
                retry=None,
                **preconditions,
            )
        return PutResult(etag_of(blob), str(blob.generation))

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose parts are temporary objects composed on complete (see ``_multipart``)."""
        self._check_write(key, options, "put_multipart")
        return GCSUpload(
            self._bucket,
            key,
            options,
            preconditions=self._write_preconditions(key, options, "put_multipart"),
            delete=self._delete_names,
            chunk_size=self._config.chunk_size,
            timeout=self._config.timeout,
            location=self._location,
        )

    def _check_write(self, key: Key, options: PutOptions, operation: str) -> None:
        _check_key(key, operation)
        refuse_layer_options(options, key=key, operation=operation, backend=self.name)
        validate_attributes(options.attributes, key, operation)

    def _write_preconditions(self, key: Key, options: PutOptions, operation: str) -> dict[str, int]:
        if options.mode is PutMode.CREATE:
            return {"if_generation_match": 0}
        if options.mode is PutMode.UPDATE and options.if_match is not None:
            return self._match(key, options.if_match, operation)
        return {}

    def _match(self, key: Key, if_match: str, operation: str) -> dict[str, int]:
        # "*" means "whatever exists now": pin the generation the service reports.
        names = parse_etag(self._head(key, operation).etag or "") if if_match.strip() == "*" else parse_etag(if_match)
        if names is None:
            raise PreconditionFailed(
                "the etag names no GCS generation", key=key, operation=operation, backend=self.name
            )
        return {"if_generation_match": names[0], "if_metageneration_match": names[1]}

    # --- reads ------------------------------------------------------------------------------------------------

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Return the object's metadata and a body streaming (a range of) one generation of its bytes.

        Raises:
            NotFound: no such object.
            RangeNotSatisfiable: the range starts at or past the end.
            PreconditionFailed, NotModified: a condition of ``options`` says so.
        """
        _check_key(key, "get")
        for attempt in range(_ATTEMPTS):
            meta = self._head(key, "get")
            check_get_preconditions(meta, options, backend=self.name)
            size = meta.size
            if options.head:
                return GetResult(meta, (0, size), BytesBody(b""))
            start, end = options.range.resolve(size) if options.range is not None else (0, size)
            blob = self._bucket.blob(key)
            try:
                body = open_body(
                    blob,
                    int(meta.version or 0),
                    start,
                    end,
                    chunk_size=self._config.chunk_size,
                    timeout=self._config.timeout,
                    location=self._location,
                )
            except (PreconditionFailed, NotFound):
                # Replaced or deleted between the head and the download: look again.
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return GetResult(meta, (start, end), body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _head(self, key: str, operation: str) -> ObjectMeta:
        with translate(operation, key, location=self._location):
            blob = self._bucket.get_blob(key, timeout=self._config.timeout, retry=None)
        if blob is None:
            self._check_bucket(key, operation)
            raise NotFound("no such object", key=key, operation=operation, backend=self.name)
        return meta_of(blob)

    def _check_bucket(self, key: str, operation: str) -> None:
        with translate(operation, key, location=self._location):
            exists = self._bucket.exists(timeout=self._config.timeout, retry=None)
        if not exists:
            raise ConfigError(
                f"the bucket of {self._location} does not exist", key=key, operation=operation, backend=self.name
            )

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects under ``prefix`` in key order, after ``offset`` if given, a page at a time."""
        return list_objects(
            self._client, self._config.bucket, prefix, offset, timeout=self._config.timeout, location=self._location
        )

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return the objects and common prefixes one ``/`` level below ``prefix``."""
        return list_one_level(
            self._client, self._config.bucket, prefix, timeout=self._config.timeout, location=self._location
        )

    # --- deletes ----------------------------------------------------------------------------------------------

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` in batches of 100; missing keys are ignored, except by a conditional delete.

        Raises:
            PreconditionFailed: ``if_match`` was given and the object is missing or has another etag.
        """
        for key in keys:
            _check_key(key, "delete")
        if options is not None and options.if_match is not None:
            if len(keys) != 1:
                raise ConfigError("a conditional delete takes exactly one key", backend=self.name)
            (key,) = keys
            try:
                preconditions = self._match(key, options.if_match, "delete")
            except NotFound:
                raise PreconditionFailed("object missing", key=key, operation="delete", backend=self.name) from None
            with translate("delete", key, location=self._location):
                try:
                    self._bucket.blob(key).delete(timeout=self._config.timeout, retry=None, **preconditions)
                except Exception as exc:
                    if getattr(exc, "code", None) == 404:  # satchel's rule: a missing object fails the condition
                        raise PreconditionFailed(
                            "object missing", key=key, operation="delete", backend=self.name
                        ) from exc
                    raise
            return
        self._delete_names(list(keys))

    def _delete_names(self, names: Sequence[str]) -> None:
        for i in range(0, len(names), self._capabilities.max_delete_batch):
            chunk = names[i : i + self._capabilities.max_delete_batch]
            if len(chunk) > 1:
                with translate("delete", None, location=self._location):
                    try:
                        with self._client.batch():
                            for name in chunk:
                                self._bucket.delete_blob(name, timeout=self._config.timeout, retry=None)
                        continue
                    except SDKNotFound:
                        pass  # some were missing: the batch reports only one error, so check each alone
            for name in chunk:
                with translate("delete", name, location=self._location), contextlib.suppress(SDKNotFound):
                    self._bucket.delete_blob(name, timeout=self._config.timeout, retry=None)

    # --- copies -----------------------------------------------------------------------------------------------

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` server-side; onto itself with new attributes, patch them in place.

        Raises:
            NotFound: ``src`` does not exist.
            AlreadyExists: ``overwrite=False`` and ``dst`` exists.
        """
        _check_key(src, "copy")
        _check_key(dst, "copy")
        if options.attributes is not None:
            validate_attributes(options.attributes, dst, "copy")
        if src == dst:
            if options.attributes is not None and options.overwrite:
                self._patch_attributes(src, options)
                return
            self._head(src, "copy")
            if not options.overwrite:
                raise AlreadyExists("destination exists", key=dst, operation="copy", backend=self.name)
            return
        preconditions = {} if options.overwrite else {"if_generation_match": 0}
        source = self._bucket.blob(src)
        try:
            with translate("copy", dst, location=self._location, conflict="exists"):
                if options.attributes is None:
                    self._bucket.copy_blob(
                        source, self._bucket, dst, timeout=self._config.timeout, retry=None, **preconditions
                    )
                else:
                    target = self._bucket.blob(dst)
                    apply_attributes(target, options.attributes)
                    token = None
                    while True:
                        token, _, _ = target.rewrite(
                            source, token=token, timeout=self._config.timeout, retry=None, **preconditions
                        )
                        if token is None:
                            break
        except NotFound:
            self._check_bucket(src, "copy")
            raise NotFound("no such object", key=src, operation="copy", backend=self.name) from None

    def _patch_attributes(self, key: Key, options: CopyOptions) -> None:
        assert options.attributes is not None
        for attempt in range(_ATTEMPTS):
            with translate("copy", key, location=self._location):
                blob = self._bucket.get_blob(key, timeout=self._config.timeout, retry=None)
            if blob is None:
                self._check_bucket(key, "copy")
                raise NotFound("no such object", key=key, operation="copy", backend=self.name)
            apply_attributes(blob, options.attributes, previous=dict(blob.metadata or {}))
            try:
                with translate("copy", key, location=self._location):
                    blob.patch(
                        if_generation_match=blob.generation,
                        if_metageneration_match=blob.metageneration,
                        timeout=self._config.timeout,
                        retry=None,
                    )
                return
            except PreconditionFailed:
                if attempt == _ATTEMPTS - 1:
                    raise

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """GCS has no rename; the Store copies and deletes instead (``capabilities.rename`` is False).

        Raises:
            NotSupported: always.
        """
        raise NotSupported("GCS has no native rename", key=src, operation="rename", backend=self.name)

    # --- signing and closing ----------------------------------------------------------------------------------

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        """Return a V4 signed URL for ``method`` on ``key``, valid for ``expires_in`` seconds.

        Raises:
            NotSupported: the credentials cannot sign (anonymous, or default credentials without a key).
            ConfigError: ``expires_in`` is not between one second and seven days.
        """
        _check_key(key, "sign")
        if self._signer is None:
            raise NotSupported("these credentials cannot sign URLs", key=key, operation="sign", backend=self.name)
        if not 1 <= expires_in <= _MAX_SIGNED_SECONDS:
            raise ConfigError("expires_in must be between 1 second and 7 days", key=key, operation="sign")
        endpoint = self._config.endpoint_url.rstrip("/") if self._config.endpoint_url else None
        with translate("sign", key, location=self._location):
            url: str = self._bucket.blob(key).generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=int(expires_in)),
                method=method,
                credentials=self._signer,
                api_access_endpoint=endpoint,
            )
        return url

    def close(self) -> None:
        """Close the client's connection pool."""
        self._client.close()


def _check_key(key: str, operation: str) -> None:
    refuse_reserved_key(key, operation=operation, backend=BACKEND)
