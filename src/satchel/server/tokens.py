"""The JWTs of the objectstore protocol (a.8): where a request carries one, and checking it.

A token is an EdDSA JWT whose header names the key (``kid``) and whose claims hold ``res`` (the usecase
under ``os:usecase`` and scope values), ``permissions`` and ``exp``. Every refusal is an
:class:`~satchel.server.errors.ApiError` whose detail never contains the token.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeGuard
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from satchel.server.errors import ApiError

__all__ = ["LEEWAY", "Claims", "find_token", "token_kid", "verify_token"]

LEEWAY = timedelta(seconds=60)
_AUDIENCE = "objectstore"
_ISSUERS = frozenset({"sentry", "relay"})
# Longer than any header a sane HTTP server accepts; bounds the work done on garbage before it is refused.
_MAX_TOKEN_LENGTH = 16 * 1024
# Keeps exp and nbf far inside what a datetime and a float compare exactly.
_MAX_TIME = 1e15


@dataclass(frozen=True)
class Claims:
    """The claims of a verified token that authorization reads."""

    res: dict[str, str]
    permissions: frozenset[str]


def find_token(headers: Mapping[str, str], query_string: str) -> str | None:
    """Return the request's JWT, or None when it carries none.

    The first found wins: ``x-os-auth`` (an optional ``Bearer`` prefix), ``Authorization: Bearer ...`` (another
    scheme counts as absent), then, with neither, the percent-decoded ``os_auth`` query pair.
    """
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), value)  # the first of repeated headers, as Starlette's get() gives
    os_auth = lowered.get("x-os-auth")
    if os_auth is not None:
        return _strip_bearer(os_auth, required=False)
    authorization = lowered.get("authorization")
    if authorization is not None:
        token = _strip_bearer(authorization, required=True)
        if token is not None:
            return token
    for pair in query_string.split("&"):
        name, _, value = pair.partition("=")
        if name == "os_auth":
            return unquote(value) or None
    return None


def token_kid(token: str) -> str:
    """Return the key id in the token's header, checking that the header asks for EdDSA.

    Raises:
        ApiError: 400 when the header has no ``kid``; 401 when the token is not a JWT or not EdDSA.
    """
    if len(token) > _MAX_TOKEN_LENGTH:
        raise ApiError(401, "invalid auth token: too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise ApiError(401, "invalid auth token: not a JWT") from None
    kid = header.get("kid")
    if kid is None:
        raise ApiError(400, "the auth token header has no kid")
    if header.get("alg") != "EdDSA":
        raise ApiError(401, "invalid auth token: the algorithm must be EdDSA")
    if not isinstance(kid, str):
        raise ApiError(401, "invalid auth token: the kid is not a string")
    return kid


def verify_token(token: str, public_keys: Sequence[Ed25519PublicKey], now: datetime) -> Claims:
    """Check the token's signature against each key version, then its claims at time ``now``.

    ``exp`` is required and ``nbf`` honoured, both with 60 s leeway; ``aud``, when present, must include
    ``objectstore``, and ``iss`` must be ``sentry`` or ``relay``. ``res`` must map names to strings and
    ``permissions`` be a list of strings.

    Raises:
        ApiError: 401 for a bad signature, malformed or failing claims.
    """
    payload = _verified_payload(token, public_keys)
    try:
        claims = json.loads(payload)
    except (ValueError, RecursionError):
        raise ApiError(401, "invalid auth token: the claims are not JSON") from None
    if not isinstance(claims, dict):
        raise ApiError(401, "invalid auth token: the claims are not an object")
    current = now.timestamp()
    leeway = LEEWAY.total_seconds()
    exp = claims.get("exp")
    if not _is_time(exp):
        raise ApiError(401, "invalid auth token: exp is missing or not a number")
    if exp < current - leeway:
        raise ApiError(401, "invalid auth token: expired")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_time(nbf) or nbf > current + leeway):
        raise ApiError(401, "invalid auth token: not yet valid")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if aud is not None and not (isinstance(audiences, list) and _AUDIENCE in audiences):
        raise ApiError(401, f"invalid auth token: the audience must be {_AUDIENCE}")
    if "iss" in claims and claims["iss"] not in _ISSUERS:
        raise ApiError(401, "invalid auth token: unknown issuer")
    res = claims.get("res", {})
    if not isinstance(res, dict) or not all(isinstance(value, str) for value in res.values()):
        raise ApiError(401, "invalid auth token: res must map names to strings")
    permissions = claims.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise ApiError(401, "invalid auth token: permissions must be a list of strings")
    return Claims(dict(res), frozenset(permissions))


def _strip_bearer(value: str, *, required: bool) -> str | None:
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    elif required:
        return None
    return value or None


def _verified_payload(token: str, public_keys: Sequence[Ed25519PublicKey]) -> bytes:
    for public in public_keys:
        try:
            payload: bytes = jwt.PyJWS().decode(token, key=public, algorithms=["EdDSA"])
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            raise ApiError(401, "invalid auth token: malformed") from None
        return payload
    raise ApiError(401, "invalid auth token: bad signature")


def _is_time(value: object) -> TypeGuard[float]:
    # bool is an int to Python, and NaN fails every comparison, so both are ruled out explicitly.
    return isinstance(value, int | float) and not isinstance(value, bool) and abs(value) < _MAX_TIME
