"""Pre-signed URLs of the objectstore protocol (a.8): the canonical form, making the query, reading it back.

A pre-signed URL carries ``os_kid``, ``os_timestamp``, ``os_duration`` and ``os_sig`` in its query. The
signature is Ed25519 over ``"{METHOD}\\n{raw path}\\n{canonical query}"``, base64url without padding. Both the
encoding and the canonical form match ``objectstore-client`` 0.2.10 byte for byte, so URLs made by the real
client verify here and URLs made here verify on the reference server. Verification against a key ring lives
in :mod:`satchel.server.auth`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satchel.server.errors import ApiError

__all__ = [
    "MAX_PRESIGN_SECONDS",
    "PARAM_DURATION",
    "PARAM_KID",
    "PARAM_SIG",
    "PARAM_TIMESTAMP",
    "PresignedParams",
    "canonical_form",
    "is_presigned",
    "parse_presigned",
    "presign_query",
]

PARAM_KID = "os_kid"
PARAM_TIMESTAMP = "os_timestamp"
PARAM_DURATION = "os_duration"
PARAM_SIG = "os_sig"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
PRESIGNABLE_METHODS = frozenset({"GET", "HEAD", "PUT"})

# The set objectstore-client (and urllib3) leave raw in a query: unreserved, sub-delims, ":@/?".
_QUERY_SAFE = "/:@!$&'()*+,;=?"
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DURATION = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")


@dataclass(frozen=True)
class PresignedParams:
    """The pre-signing parameters read from a query string (values percent-decoded, except the signature)."""

    kid: str
    timestamp: datetime
    duration: timedelta
    signature: bytes


def canonical_form(method: str, raw_path: str, query_string: str) -> str:
    """Return the string a pre-signed URL's signature covers.

    The method is uppercased with HEAD mapped to GET; the query keeps every pair except ``os_sig``, with keys
    lowercased and values raw, sorted as strings and joined by ``&`` (exactly the client's
    ``build_canonical_form``).
    """
    upper = method.upper()
    pairs = []
    for pair in query_string.split("&"):
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        key = key.lower()
        if key == PARAM_SIG:
            continue
        pairs.append(f"{key}={value}" if sep else key)
    pairs.sort()
    return f"{'GET' if upper == 'HEAD' else upper}\n{raw_path}\n{'&'.join(pairs)}"


def presign_query(
    method: str,
    raw_path: str,
    kid: str,
    private_key: Ed25519PrivateKey,
    *,
    now: datetime,
    expires_in: int,
    extra_query: str = "",
) -> str:
    """Return the query string that pre-signs one request, as ``objectstore-client`` builds it.

    Args:
        method: GET or HEAD (interchangeable), or PUT (a satchel extension).
        raw_path: the path exactly as it will be on the wire (already percent-encoded).
        kid: the key id the server knows the public key under.
        private_key: the Ed25519 key that signs.
        now: the signing time (timezone-aware); the URL is valid from 60 s before it.
        expires_in: seconds the URL stays valid, at most 604800 (7 days).
        extra_query: a raw query the URL also carries (signed too); the pre-signing pairs follow it.

    Returns:
        ``[extra_query&]os_kid=..&os_timestamp=..&os_duration=..&os_sig=..``, without a leading ``?``.

    Raises:
        ValueError: the method cannot be pre-signed, ``expires_in`` is out of range, or ``now`` is naive.
    """
    if method.upper() not in PRESIGNABLE_METHODS:
        raise ValueError(f"cannot pre-sign {method!r}; only GET, HEAD and PUT")
    if not 0 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_in must be 0 to {MAX_PRESIGN_SECONDS} seconds, got {expires_in}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    timestamp = now.astimezone(UTC).strftime(_TIMESTAMP_FORMAT)
    query = quote(f"{PARAM_KID}={kid}&{PARAM_TIMESTAMP}={timestamp}&{PARAM_DURATION}={expires_in}", safe=_QUERY_SAFE)
    if extra_query:
        query = f"{extra_query}&{query}"
    signature = private_key.sign(canonical_form(method, raw_path, query).encode())
    return f"{query}&{PARAM_SIG}={base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def is_presigned(query_string: str) -> bool:
    """Return True when the query has a pair whose key is exactly ``os_sig`` (case-sensitive, as a.8 says)."""
    return any(pair.partition("=")[0] == PARAM_SIG for pair in query_string.split("&"))


def parse_presigned(query_string: str) -> PresignedParams:
    """Read the pre-signing parameters from a raw query string.

    Raises:
        ApiError: 400 when a parameter is missing, repeated or malformed, or the duration exceeds 7 days.
    """
    found: dict[str, str] = {}
    for pair in query_string.split("&"):
        key, _, value = pair.partition("=")
        if key in (PARAM_KID, PARAM_TIMESTAMP, PARAM_DURATION, PARAM_SIG):
            if key in found:
                raise ApiError(400, f"pre-signed URL repeats {key}")
            found[key] = unquote(value)
    for name in (PARAM_KID, PARAM_TIMESTAMP, PARAM_DURATION, PARAM_SIG):
        if not found.get(name):
            raise ApiError(400, f"pre-signed URL lacks {name}")
    if not _DURATION.fullmatch(found[PARAM_DURATION]):
        raise ApiError(400, f"pre-signed URL has an invalid {PARAM_DURATION}")
    seconds = int(found[PARAM_DURATION])
    if seconds > MAX_PRESIGN_SECONDS:
        raise ApiError(400, f"pre-signed URL is valid for longer than {MAX_PRESIGN_SECONDS} seconds")
    return PresignedParams(
        kid=found[PARAM_KID],
        timestamp=_parse_timestamp(found[PARAM_TIMESTAMP]),
        duration=timedelta(seconds=seconds),
        signature=_decode_signature(found[PARAM_SIG]),
    )


def _parse_timestamp(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"pre-signed URL has an invalid {PARAM_TIMESTAMP}") from None
    if when.tzinfo is None:
        raise ApiError(400, f"pre-signed URL has an {PARAM_TIMESTAMP} without a time zone")
    return when


def _decode_signature(text: str) -> bytes:
    # An Ed25519 signature is 64 bytes: 86 base64url characters without padding. Anything else is malformed.
    if not _SIGNATURE.fullmatch(text):
        raise ApiError(400, f"pre-signed URL has a malformed {PARAM_SIG}")
    try:
        return base64.urlsafe_b64decode(text + "==")
    except (binascii.Error, ValueError):
        raise ApiError(400, f"pre-signed URL has a malformed {PARAM_SIG}") from None
