"""Authentication and authorization of the objectstore protocol (a.8): Ed25519 JWTs and pre-signed URLs.

An :class:`Authenticator` holds the key ring (one :class:`AuthKey` per ``kid``, several public keys for
rotation, each capped by ``max_permissions``) and answers, for one request, what it may do (a :class:`Grant`)
or why not (an :class:`~satchel.server.errors.ApiError` of 400, 401 or 403, as a.7 lists them). Error details
and log lines never carry a token, a signature or key material.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from satchel.errors import ConfigError
from satchel.server.errors import ApiError
from satchel.server.presign import canonical_form, is_presigned, parse_presigned, presign_query
from satchel.server.tokens import LEEWAY, find_token, token_kid, verify_token

__all__ = [
    "ALL_PERMISSIONS",
    "DELETE",
    "READ",
    "WRITE",
    "AuthKey",
    "Authenticator",
    "Grant",
    "LinkSigner",
    "mint_token",
    "presign_query",
    "utcnow",
]

READ = "object.read"
WRITE = "object.write"
DELETE = "object.delete"
ALL_PERMISSIONS = frozenset({READ, WRITE, DELETE})

_ORDER = (READ, WRITE, DELETE)
_USECASE_CLAIM = "os:usecase"
_log = logging.getLogger("satchel.server.auth")


def utcnow() -> datetime:
    """Return the current time in UTC (the default clock of :class:`Authenticator`)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class AuthKey:
    """One ``kid`` of the key ring: its public keys (several while rotating) and the most it may grant."""

    kid: str
    public_keys: tuple[Ed25519PublicKey, ...]
    max_permissions: frozenset[str] = ALL_PERMISSIONS

    @classmethod
    def from_pem_files(
        cls, kid: str, paths: Iterable[str | Path], max_permissions: frozenset[str] = ALL_PERMISSIONS
    ) -> AuthKey:
        """Load the Ed25519 public keys of ``kid`` from PEM files (``SubjectPublicKeyInfo``), one per file.

        Raises:
            ConfigError: there is no file, or one cannot be read, is not a PEM public key, or is not Ed25519.
        """
        if isinstance(paths, str | Path):
            paths = [paths]
        keys = tuple(_load_public_key(Path(path)) for path in paths)
        if not keys:
            raise ConfigError(f"auth key {kid!r} has no key files")
        return cls(kid, keys, frozenset(max_permissions))


@dataclass(frozen=True)
class Grant:
    """What a verified request may do.

    ``usecase`` None (a pre-signed URL, whose signature pins the path instead) or ``"*"`` matches any usecase;
    a scope value ``"*"`` matches any value of that scope.
    """

    permissions: frozenset[str]
    usecase: str | None
    scopes: Mapping[str, str] = field(hash=False)
    presigned: bool
    kid: str | None

    def check(self, usecase: str, scopes: Sequence[tuple[str, str]], permission: str) -> None:
        """Check that this grant covers ``permission`` on the objects of ``usecase`` under ``scopes``.

        Raises:
            ApiError: 403 naming what is not granted.
        """
        if permission not in self.permissions:
            raise ApiError(403, f"not permitted: {permission} is not granted")
        if self.presigned:
            return
        if self.usecase not in (None, "*", usecase):
            raise ApiError(403, f"not permitted: the token is not valid for usecase {usecase!r}")
        for name, value in scopes:
            if self.scopes.get(name) not in (value, "*"):
                raise ApiError(403, f"not permitted: the token is not valid for scope {name}={value}")


class Authenticator:
    """Verifies requests against a key ring.

    Args:
        keys: the configured keys; two entries with one ``kid`` are merged (rotation).
        enforce: refuse what fails verification. Without it, failures are logged and allowed.
        clock: the current time, for token expiry and pre-signed windows.
        signer: the server's own link signer; its public half joins the ring for reads and writes, without
            making auth active on its own.

    Raises:
        ConfigError: one ``kid`` is given with different ``max_permissions``, or collides with the signer's.
    """

    def __init__(
        self,
        keys: Sequence[AuthKey],
        *,
        enforce: bool,
        clock: Callable[[], datetime] = utcnow,
        signer: LinkSigner | None = None,
    ) -> None:
        self._enforce = enforce
        self._clock = clock
        self._keys: dict[str, AuthKey] = {}
        for key in keys:
            seen = self._keys.get(key.kid)
            if seen is not None and seen.max_permissions != key.max_permissions:
                raise ConfigError(f"auth key {key.kid!r} is configured twice with different max_permissions")
            merged = key.public_keys if seen is None else seen.public_keys + key.public_keys
            self._keys[key.kid] = AuthKey(key.kid, merged, key.max_permissions)
        self._active = enforce or bool(self._keys)
        if signer is not None:
            if signer.kid in self._keys:
                raise ConfigError(f"the server signing key id {signer.kid!r} is also a configured auth key")
            self._keys[signer.kid] = signer.auth_key()

    @property
    def active(self) -> bool:
        """True when auth is enforced or any key is configured (a.8)."""
        return self._active

    def authorize(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: Mapping[str, str],
        usecase: str,
        scopes: Sequence[tuple[str, str]],
        permission: str,
    ) -> Grant | None:
        """Decide whether a request may do ``permission`` on ``usecase``/``scopes``.

        A query key exactly ``os_sig`` makes it a pre-signed request; otherwise the JWT comes from
        ``x-os-auth``, then ``Authorization: Bearer``, then (with neither header) the ``os_auth`` query pair.

        Args:
            method: the HTTP method.
            raw_path: the path as on the wire, not decoded.
            query_string: the raw query, without ``?``.
            headers: the request headers (any case).
            usecase, scopes: the object's address.
            permission: what the operation needs (:data:`READ`, :data:`WRITE` or :data:`DELETE`).

        Returns:
            The grant when auth is enforced and the request passes; None when everything is allowed (auth
            inactive, or not enforced: failures are then logged at warning level and let through).

        Raises:
            ApiError: 400 (missing token or parameters, no ``kid``), 401 (bad, expired or unknown credentials),
                403 (not permitted), only when auth is enforced.
        """
        if not self._active:
            return None
        try:
            grant = self._verify(method, raw_path, query_string, headers)
            grant.check(usecase, scopes, permission)
        except ApiError as err:
            if self._enforce:
                raise
            _log.warning("auth not enforced; allowing %s %s refused with %d: %s", method, raw_path, err.status, err)
            return None
        return grant if self._enforce else None

    def _verify(self, method: str, raw_path: str, query_string: str, headers: Mapping[str, str]) -> Grant:
        if is_presigned(query_string):
            return self._verify_presigned(method, raw_path, query_string)
        token = find_token(headers, query_string)
        if token is None:
            raise ApiError(400, "missing auth token")
        kid = token_kid(token)
        key = self._keys.get(kid)
        if key is None:
            raise ApiError(401, "invalid auth token: unknown kid")
        claims = verify_token(token, key.public_keys, self._clock())
        res = dict(claims.res)
        usecase = res.pop(_USECASE_CLAIM, None)
        if usecase is None:
            raise ApiError(403, f"not permitted: the token has no {_USECASE_CLAIM}")
        # Unknown permission names fall out here rather than failing the token, so a newer client's tokens work.
        permissions = claims.permissions & key.max_permissions & ALL_PERMISSIONS
        return Grant(permissions, usecase, MappingProxyType(res), presigned=False, kid=kid)

    def _verify_presigned(self, method: str, raw_path: str, query_string: str) -> Grant:
        upper = method.upper()
        needed = {"GET": READ, "HEAD": READ, "PUT": WRITE}.get(upper)
        if needed is None:
            raise ApiError(403, f"not permitted: {upper} cannot be pre-signed")
        params = parse_presigned(query_string)
        key = self._keys.get(params.kid)
        if key is None:
            raise ApiError(401, "invalid pre-signed URL: unknown os_kid")
        # Differences, not sums: a timestamp near datetime.max must not overflow.
        elapsed = self._clock() - params.timestamp
        if elapsed < -LEEWAY or elapsed > params.duration:
            raise ApiError(401, "invalid pre-signed URL: outside its validity window")
        signed = canonical_form(upper, raw_path, query_string).encode()
        if not any(_signature_ok(public, params.signature, signed) for public in key.public_keys):
            raise ApiError(401, "invalid pre-signed URL: bad signature")
        if needed not in key.max_permissions:
            raise ApiError(403, f"not permitted: key {params.kid!r} may not grant {needed}")
        return Grant(frozenset({needed}), None, MappingProxyType({}), presigned=True, kid=params.kid)


class LinkSigner:
    """The server's own Ed25519 key, for pre-signed links it hands out. Its repr never shows the key."""

    __slots__ = ("_private_key", "kid")

    def __init__(self, kid: str, private_key: Ed25519PrivateKey) -> None:
        self.kid = kid
        self._private_key = private_key

    @classmethod
    def generate(cls, kid: str = "satchel-server") -> LinkSigner:
        """Make a signer with a fresh key that lives as long as the process."""
        return cls(kid, Ed25519PrivateKey.generate())

    @classmethod
    def from_pem_file(cls, kid: str, path: str | Path) -> LinkSigner:
        """Load the signer's Ed25519 private key from an unencrypted PEM file.

        Raises:
            ConfigError: the file cannot be read or holds no unencrypted Ed25519 private key.
        """
        try:
            key = load_pem_private_key(Path(path).read_bytes(), password=None)
        except OSError as err:
            raise ConfigError(f"cannot read signing key file {str(path)!r}: {err.strerror}") from None
        except (ValueError, TypeError):
            raise ConfigError(f"signing key file {str(path)!r} holds no unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"signing key file {str(path)!r} does not hold an Ed25519 key")
        return cls(kid, key)

    def auth_key(self, max_permissions: frozenset[str] = frozenset({READ, WRITE})) -> AuthKey:
        """Return the public half as a key-ring entry that grants at most ``max_permissions``."""
        return AuthKey(self.kid, (self._private_key.public_key(),), frozenset(max_permissions))

    def sign(self, method: str, raw_path: str, expires_in: int, now: datetime | None = None) -> str:
        """Return the query string pre-signing ``method`` on ``raw_path`` for ``expires_in`` seconds.

        Raises:
            ValueError: as :func:`~satchel.server.presign.presign_query`.
        """
        return presign_query(method, raw_path, self.kid, self._private_key, now=now or utcnow(), expires_in=expires_in)

    def __repr__(self) -> str:
        return f"LinkSigner(kid={self.kid!r})"


def mint_token(
    kid: str,
    private_key: Ed25519PrivateKey,
    *,
    usecase: str,
    scopes: Mapping[str, object] | Iterable[tuple[str, object]],
    permissions: Iterable[str],
    expires_in: int = 60,
    now: datetime | None = None,
) -> str:
    """Return a JWT for ``usecase``/``scopes`` as ``objectstore-client``'s ``SecretKey`` signs it.

    The header is ``{"alg": "EdDSA", "kid": kid, "typ": "JWT"}``; the claims are ``res`` (the usecase under
    ``os:usecase`` plus each scope as a string), ``permissions`` and ``exp`` (now + ``expires_in``).
    """
    pairs = scopes.items() if isinstance(scopes, Mapping) else scopes
    wanted = set(permissions)
    claims = {
        "res": {_USECASE_CLAIM: usecase, **{name: str(value) for name, value in pairs}},
        "permissions": [p for p in _ORDER if p in wanted] + sorted(wanted - set(_ORDER)),
        "exp": (now or utcnow()) + timedelta(seconds=expires_in),
    }
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid})


def _signature_ok(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def _load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read auth key file {str(path)!r}: {err.strerror}") from None
    try:
        key = load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError(f"auth key file {str(path)!r} holds no PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"auth key file {str(path)!r} does not hold an Ed25519 key")
    return key
