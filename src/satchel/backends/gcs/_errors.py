"""The one place google-cloud-storage's exceptions become satchel's.

``google.api_core`` raises one class per HTTP status; the transport (``requests``, ``google.auth``) raises its
own on connection and credential failures. Messages are built here from the status, the operation, the key and
the bucket's location: never from request headers, so no token or key can leak into an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import google.auth.exceptions as auth
import requests
from google.api_core import exceptions as api
from google.cloud.storage.exceptions import (  # type: ignore[import-untyped]  # the SDK ships no py.typed
    DataCorruption,
    InvalidResponse,
)

from satchel.errors import (
    AlreadyExists,
    ConfigError,
    NotFound,
    NotModified,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
    TransientError,
    Unauthenticated,
)

__all__ = ["Conflict", "Missing", "translate"]

BACKEND = "gcs"
Missing = Literal["object", "bucket"]
"""What a 404 means for the call: the object is absent, or (for writes and listings) the bucket is."""
Conflict = Literal["precondition", "exists"]
"""What a 412 means for the call: a generic precondition failed, or a create-only write found an object."""


@contextmanager
def translate(
    operation: str,
    key: str | None,
    *,
    location: str,
    missing: Missing = "object",
    conflict: Conflict = "precondition",
) -> Iterator[None]:
    """Turn the SDK's exceptions raised in the block into satchel errors, the original kept as ``__cause__``.

    Args:
        operation: the satchel operation, for the error.
        key: the key concerned, if any.
        location: ``gs://bucket @ endpoint``, named in connection and missing-bucket errors.
        missing: whether a 404 means the object or the bucket is missing.
        conflict: whether a 412 means a generic precondition failed or a create-only write found an object.

    Raises:
        SatchelError: the most specific subclass for what went wrong.
    """
    try:
        yield
    except SatchelError:
        raise
    except Exception as exc:
        error = _convert(exc, operation, key, location, missing, conflict)
        if error is None:
            raise
        raise error from exc


def _convert(
    exc: Exception, operation: str, key: str | None, location: str, missing: Missing, conflict: Conflict
) -> SatchelError | None:
    def error(cls: type[SatchelError], message: str) -> SatchelError:
        return cls(message, key=key, operation=operation, backend=BACKEND)

    code = getattr(exc, "code", None)
    if isinstance(exc, InvalidResponse):  # a raw media error that escaped the SDK's own translation
        code = getattr(exc.response, "status_code", None)
    reason = f"HTTP {code}" if isinstance(code, int) else type(exc).__name__
    if isinstance(exc, api.NotFound) or code == 404:
        if missing == "bucket":
            return error(ConfigError, f"the bucket of {location} does not exist")
        return error(NotFound, "no such object")
    if isinstance(exc, api.PreconditionFailed) or code == 412:
        if conflict == "exists":
            return error(AlreadyExists, "object already exists")
        return error(PreconditionFailed, "the object's generation does not match")
    if isinstance(exc, api.NotModified) or code == 304:
        return error(NotModified, "object not modified")
    if isinstance(exc, api.RequestRangeNotSatisfiable) or code == 416:
        return error(RangeNotSatisfiable, "range not satisfiable")
    if isinstance(exc, api.Unauthorized | auth.RefreshError | auth.DefaultCredentialsError) or code == 401:
        return error(Unauthenticated, f"credentials missing, wrong or expired for {location} ({reason})")
    if isinstance(exc, api.Forbidden) or code == 403:
        return error(PermissionDenied, f"access denied on {location}")
    transient = (
        api.TooManyRequests,
        api.InternalServerError,
        api.BadGateway,
        api.ServiceUnavailable,
        api.GatewayTimeout,
        api.RetryError,
        requests.ConnectionError,
        requests.Timeout,
        auth.TransportError,
        ConnectionError,
        TimeoutError,
        DataCorruption,
    )
    if isinstance(exc, transient) or (isinstance(code, int) and (code == 429 or code >= 500)):
        return error(TransientError, f"{location} did not answer in time or failed ({reason})")
    if isinstance(exc, api.BadRequest) or code == 400:
        return error(ConfigError, f"the request was refused as invalid by {location} ({reason})")
    if isinstance(exc, api.GoogleAPICallError):
        return error(SatchelError, f"unexpected answer from {location} ({reason})")
    return None
