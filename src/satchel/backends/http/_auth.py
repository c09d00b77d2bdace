"""Where the backend's JWTs come from: a static token, or short-lived tokens signed with an Ed25519 key (a.8).

Tokens are signed with PyJWT as objectstore-client's ``SecretKey`` signs them (header ``{"alg": "EdDSA", "kid":
..., "typ": "JWT"}``; claims ``res``, ``permissions``, ``exp``), without importing the server package. PyJWT
and cryptography are imported only by stores that sign their own tokens.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol

from satchel.backends.http._config import Scopes
from satchel.errors import ConfigError
from satchel.secret import Secret

__all__ = ["SignedTokens", "StaticToken", "TokenSource"]

TOKEN_LIFETIME = 60
"""Seconds a signed token is valid for (objectstore-client's default)."""
_RENEW_AFTER = TOKEN_LIFETIME / 2
_PERMISSIONS = ("object.read", "object.write", "object.delete")


class TokenSource(Protocol):
    """Gives the JWT for the next request."""

    def token(self) -> str:
        """Return the token to send."""
        ...


class StaticToken:
    """A token given once, sent as it is; its repr hides it."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def token(self) -> str:
        """Return the token."""
        return self._token.reveal()

    def __repr__(self) -> str:
        return "StaticToken('***')"


class SignedTokens:
    """Tokens for one usecase and its scopes with every permission, signed with an Ed25519 private key.

    A token lives :data:`TOKEN_LIFETIME` seconds and is reused for the first half of its life, so a busy
    store signs about one token every 30 seconds rather than one per request. Thread-safe.
    """

    def __init__(self, key_id: str, private_key_path: str, usecase: str, scopes: Scopes) -> None:
        """Load the private key.

        Raises:
            ConfigError: PyJWT or cryptography is missing, or the file cannot be read or holds no unencrypted
                Ed25519 private key (the message names the file, never its contents).
        """
        try:
            import jwt  # noqa: PLC0415 - optional: only stores that sign their own tokens need it
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: PLC0415
            from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415
        except ImportError as exc:
            raise ConfigError("key_id= needs PyJWT and cryptography: pip install 'satchel[http]'") from exc
        try:
            key = load_pem_private_key(Path(private_key_path).read_bytes(), password=None)
        except OSError as err:
            raise ConfigError(f"cannot read private_key file {private_key_path!r}: {err.strerror}") from None
        except (ValueError, TypeError):
            raise ConfigError(f"private_key file {private_key_path!r} holds no unencrypted PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"private_key file {private_key_path!r} does not hold an Ed25519 key")
        self._jwt = jwt
        self._key = key
        self.key_id = key_id
        self._claims_res = {"os:usecase": usecase, **dict(scopes)}
        self._lock = threading.Lock()
        self._current = ""
        self._renew_at = 0.0

    def token(self) -> str:
        """Return a valid token, signing a new one when the current one is past half its life."""
        now = time.time()
        with self._lock:
            if now >= self._renew_at:
                claims = {
                    "res": self._claims_res,
                    "permissions": list(_PERMISSIONS),
                    "exp": int(now) + TOKEN_LIFETIME,
                }
                self._current = self._jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.key_id})
                self._renew_at = now + _RENEW_AFTER
            return self._current

    def __repr__(self) -> str:
        return f"SignedTokens(kid={self.key_id!r})"
