"""The configuration of an SFTP backend: one field per URL query option."""

from __future__ import annotations

from dataclasses import dataclass

from satchel.secret import Secret

__all__ = ["SFTPConfig"]


@dataclass(frozen=True)
class SFTPConfig:
    """Options of ``sftp://user[:password]@host[:port]/root/path`` URLs, as the URL registry reads them.

    Attributes:
        host: the server's name or address.
        port: the server's SSH port.
        username: the user to log in as (default: the current local user).
        password: a password, for password authentication (or to unlock ``key_filename`` when no
            ``key_passphrase`` is given, as paramiko does).
        key_filename: a private key file to authenticate with.
        key_passphrase: the passphrase of ``key_filename``.
        allow_agent: also try the keys of a running ssh-agent.
        known_hosts: the known_hosts file the server's host key is checked against (default
            ``~/.ssh/known_hosts``).
        insecure_skip_host_key_check: accept any host key. An explicit opt-out for throwaway test servers;
            a warning is logged when it is used.
        root: the folder on the server that holds the objects (relative paths start at the login folder).
        timeout: seconds to wait for the connection, authentication and each request.
        max_connections: the number of idle SFTP sessions kept for reuse.
        fsync: flush every write on the server (``fsync@openssh.com``) before it is acknowledged, where the
            server offers it.
    """

    host: str
    port: int = 22
    username: str | None = None
    password: Secret | None = None
    key_filename: str | None = None
    key_passphrase: Secret | None = None
    allow_agent: bool = True
    known_hosts: str | None = None
    insecure_skip_host_key_check: bool = False
    root: str = "."
    timeout: float = 30.0
    max_connections: int = 4
    fsync: bool = True
