"""The options of ``satchel+http://`` and ``satchel+https://`` URLs: one dataclass, its fields the query options."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from satchel.errors import ConfigError
from satchel.secret import Secret

__all__ = ["HttpConfig", "Scopes", "parse_scopes"]

Scopes = tuple[tuple[str, str], ...]

_NO_SCOPES = "_"
# Spec a.2: scope names and values use only these characters; usecases those of objectstore-client 0.2.10.
_SCOPE_PART = re.compile(r"[A-Za-z0-9_\-()$!+']+")
_USECASE = re.compile(r"[A-Za-z0-9_\-]+")


def parse_scopes(text: str) -> Scopes:
    """Parse scopes written in the protocol's path form: ``org=42;project=1337``, or ``_`` (or nothing) for none.

    Raises:
        ConfigError: a pair without ``=``, or a name or value that is empty or uses other characters than
            ``A-Za-z0-9_-()$!+'``.
    """
    if text in ("", _NO_SCOPES):
        return ()
    scopes = []
    for pair in text.split(";"):
        name, found, value = pair.partition("=")
        if not found or not _SCOPE_PART.fullmatch(name) or not _SCOPE_PART.fullmatch(value):
            raise ConfigError(
                f"invalid scope {pair!r}: expected name=value pairs joined by ';' using only A-Za-z0-9_-()$!+' "
                "(or '_' for no scopes)"
            )
        scopes.append((name, value))
    return tuple(scopes)


@dataclass(frozen=True)
class HttpConfig:
    """Options of ``satchel+http://HOST:PORT/USECASE/SCOPES[/prefix]`` URLs (and ``satchel+https://``).

    Attributes:
        endpoint: the server's base URL, ``http://host:port`` or ``https://host:port`` (from the URL's host).
        usecase: the usecase the objects belong to (the URL's first path segment).
        scopes: the scopes, ``org=42;project=1337`` or ``_`` for none (the URL's second path segment).
        token: a static JWT sent with every request.
        key_id: the ``kid`` of ``private_key``; with it, a fresh short-lived JWT is signed for the requests.
        private_key: the path of an unencrypted PEM file holding an Ed25519 private key.
        timeout: seconds a read from the server may wait (per socket read, not for a whole body).
        connect_timeout: seconds a connection may take to open.
        pool_size: connections kept open to the server for reuse (more may be opened while busy).
        ca_certs: a PEM bundle of the certificate authorities trusted for ``https`` (the system's by default).
    """

    endpoint: str
    usecase: str
    scopes: str = _NO_SCOPES
    token: Secret | None = None
    key_id: str | None = None
    private_key: str | None = None
    timeout: float = 60.0
    connect_timeout: float = 5.0
    pool_size: int = 10
    ca_certs: str | None = None

    def __post_init__(self) -> None:
        if self.token is not None and not isinstance(self.token, Secret):
            object.__setattr__(self, "token", Secret(self.token))
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
            raise ConfigError(f"endpoint must be http://host:port or https://host:port, got {self.endpoint!r}")
        if "@" in parts.netloc:
            raise ConfigError("credentials do not belong in the host part; use token= or key_id= and private_key=")
        if not _USECASE.fullmatch(self.usecase):
            raise ConfigError(f"invalid usecase {self.usecase!r}: use letters, digits, '_' and '-'")
        parse_scopes(self.scopes)
        if self.token is not None and (self.key_id is not None or self.private_key is not None):
            raise ConfigError("give either token= or key_id= with private_key=, not both")
        if (self.key_id is None) != (self.private_key is None):
            raise ConfigError("key_id and private_key go together")
        if self.timeout <= 0 or self.connect_timeout <= 0:
            raise ConfigError("timeout and connect_timeout must be positive")
        if self.pool_size < 1:
            raise ConfigError("pool_size must be at least 1")

    @property
    def parsed_scopes(self) -> Scopes:
        """The scopes as ordered ``(name, value)`` pairs."""
        return parse_scopes(self.scopes)

    @property
    def location(self) -> str:
        """Where the objects live, with no secret: ``satchel+http://host:port/usecase/scopes``."""
        return f"satchel+{self.endpoint.rstrip('/')}/{self.usecase}/{self.scopes or _NO_SCOPES}"
