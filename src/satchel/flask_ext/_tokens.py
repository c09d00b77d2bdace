"""Signed link tokens: HMAC-SHA256 over the path, the operations, the expiry and the download name.

A token is ``base64url(payload) "." base64url(mac)``. The MAC key is derived from the secret and the profile
name, so a token made for one profile is refused by every other. Verification compares MACs in constant time
before it looks at the payload; no message ever contains the token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from satchel.flask_ext._values import InternalLinkTokenData, InvalidLinkToken, ShareLinkOperation

__all__ = ["sign_token", "verify_token"]

_CONTEXT = b"satchel.flask link token v1\x00"


def _mac_key(secret: str | bytes, name: str) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, _CONTEXT + name.encode(), hashlib.sha256).digest()


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_token(secret: str | bytes, name: str, data: InternalLinkTokenData, expires_at: float) -> str:
    """Return a token granting ``data`` until the Unix time ``expires_at``, signed for profile ``name``."""
    fields: dict[str, Any] = {"p": data.path, "o": str(data.operations), "e": round(expires_at, 3)}
    if data.output_path is not None:
        fields["f"] = data.output_path
    payload = _encode(json.dumps(fields, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_mac_key(secret, name), payload.encode("ascii"), hashlib.sha256).digest()
    return f"{payload}.{_encode(mac)}"


def verify_token(secret: str | bytes, name: str, token: str, now: float) -> InternalLinkTokenData:
    """Check ``token``'s signature for profile ``name`` and its expiry at Unix time ``now``; return what it grants.

    Raises:
        InvalidLinkToken: the token is malformed, its signature does not match, or it has expired.
    """
    payload, dot, signature = token.partition(".")
    try:
        given = _decode(signature)
        expected = hmac.new(_mac_key(secret, name), payload.encode("ascii"), hashlib.sha256).digest()
    except (ValueError, binascii.Error):  # UnicodeEncodeError is a ValueError
        raise InvalidLinkToken("malformed link token", operation="link") from None
    if not dot or not hmac.compare_digest(expected, given):
        raise InvalidLinkToken("link token signature does not match", operation="link")
    try:
        fields = json.loads(_decode(payload))
        path, codes, expires_at = fields["p"], fields["o"], fields["e"]
        output_path = fields.get("f")
        if not isinstance(path, str) or not isinstance(codes, str) or not isinstance(expires_at, int | float):
            raise TypeError("unexpected field types")
        operations = ShareLinkOperation.as_operation(codes) if codes else ShareLinkOperation(0)
    except (ValueError, TypeError, KeyError):
        # Only reachable with the signing key: a token signed by something other than sign_token.
        raise InvalidLinkToken("malformed link token", operation="link") from None
    if now >= expires_at:
        raise InvalidLinkToken("link token has expired", key=path, operation="link")
    return InternalLinkTokenData(path, operations, output_path if isinstance(output_path, str) else None)
