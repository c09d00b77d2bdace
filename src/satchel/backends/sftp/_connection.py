"""Pooled SFTP sessions: SSH connections made once, SFTP channels handed to one thread at a time.

A paramiko ``SFTPClient`` matches requests to answers on one channel and is not safe to use from several
threads at once, so each operation leases a whole session and gives it back. Sessions are channels of a few
shared SSH connections (OpenSSH allows ten sessions per connection by default; we open at most eight), made
on demand: a caller never waits for another's session, and the pool keeps ``max_connections`` idle ones.
"""

from __future__ import annotations

import getpass
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import paramiko
from paramiko.sftp import CMD_EXTENDED, int64

from satchel.errors import ConfigError, Unauthenticated

from ._config import SFTPConfig
from ._errors import BACKEND_NAME, translate_errors

__all__ = ["Session", "SessionPool"]

_log = logging.getLogger("satchel.sftp")
_CHANNELS_PER_CONNECTION = 8
_insecure_warned = False
_warn_lock = threading.Lock()


class _RejectUnknownHost(paramiko.MissingHostKeyPolicy):
    """Refuse a server whose host key is not in known_hosts, with an error that says so and where to look."""

    def __init__(self, known_hosts: str) -> None:
        self._known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise Unauthenticated(
            f"the host key of {hostname} is not in {self._known_hosts}; add it (ssh-keyscan) or pass "
            "insecure_skip_host_key_check=True for a throwaway server",
            operation="connect",
            backend=BACKEND_NAME,
        )


class _AcceptAnyHost(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


def _warn_insecure(server: str) -> None:
    global _insecure_warned  # noqa: PLW0603 - the warning is logged once per process
    with _warn_lock:
        if _insecure_warned:
            return
        _insecure_warned = True
    _log.warning("SFTP host key checking is OFF (insecure_skip_host_key_check=True) for %s", server)


class Session:
    """One SFTP channel, used by one thread at a time, and what the server offers on it."""

    def __init__(self, sftp: paramiko.SFTPClient, client: paramiko.SSHClient) -> None:
        self.sftp = sftp
        self.client = client
        self.broken = False

    def extended(self, name: str, *args: object) -> bool:
        """Send the SFTP extension request ``name``; return False if the server does not offer it.

        paramiko has no public call for extensions other than posix-rename; this is its request primitive.
        """
        try:
            cast(Any, self.sftp)._request(CMD_EXTENDED, name, *args)
        except OSError as exc:
            if exc.errno is None and "unsupported" in str(exc).lower():
                return False
            raise
        return True

    def copy_data(
        self, source: paramiko.SFTPFile, offset: int, length: int, target: paramiko.SFTPFile, at: int
    ) -> bool:
        """Copy ``length`` bytes of ``source`` from ``offset`` into ``target`` at ``at`` on the server.

        Returns False when the server lacks the ``copy-data`` extension (OpenSSH 9.0 and later have it).
        """
        return self.extended("copy-data", source.handle, int64(offset), int64(length), target.handle, int64(at))

    def fsync(self, handle: paramiko.SFTPFile) -> bool:
        """Flush ``handle`` to the server's disk; return False when the server lacks ``fsync@openssh.com``."""
        return self.extended("fsync@openssh.com", handle.handle)


class SessionPool:
    """A thread-safe pool of SFTP sessions over a few SSH connections to one server."""

    def __init__(self, config: SFTPConfig) -> None:
        self._config = config
        self.server = f"{config.host}:{config.port}"
        self._lock = threading.Lock()
        self._idle: list[Session] = []
        self._clients: dict[paramiko.SSHClient, int] = {}
        self._closed = False

    def _connect(self) -> paramiko.SSHClient:
        config = self._config
        client = paramiko.SSHClient()
        if config.insecure_skip_host_key_check:
            _warn_insecure(self.server)
            client.set_missing_host_key_policy(_AcceptAnyHost())
        else:
            known_hosts = os.path.expanduser(config.known_hosts or "~/.ssh/known_hosts")
            if os.path.exists(known_hosts):
                client.load_system_host_keys(known_hosts)
            elif config.known_hosts is not None:
                raise ConfigError(f"the known_hosts file {known_hosts!r} does not exist", backend=BACKEND_NAME)
            client.set_missing_host_key_policy(_RejectUnknownHost(known_hosts))
        given_secret = config.key_filename is not None or config.password is not None
        try:
            with translate_errors(None, "connect", self.server):
                client.connect(
                    config.host,
                    port=config.port,
                    username=config.username or getpass.getuser(),
                    password=config.password.reveal() if config.password is not None else None,
                    key_filename=os.path.expanduser(config.key_filename) if config.key_filename else None,
                    passphrase=config.key_passphrase.reveal() if config.key_passphrase is not None else None,
                    allow_agent=config.allow_agent,
                    look_for_keys=not given_secret,
                    timeout=config.timeout,
                    banner_timeout=config.timeout,
                    auth_timeout=config.timeout,
                    channel_timeout=config.timeout,
                )
        except BaseException:
            client.close()
            raise
        return client

    def _new_session(self) -> Session:
        with self._lock:
            client = next((c for c, n in self._clients.items() if n < _CHANNELS_PER_CONNECTION and _alive(c)), None)
            if client is not None:
                self._clients[client] += 1
        if client is None:
            client = self._connect()
            with self._lock:
                self._clients[client] = 1
        try:
            with translate_errors(None, "connect", self.server):
                sftp = client.open_sftp()
                channel = sftp.get_channel()
                if channel is not None:
                    channel.settimeout(self._config.timeout)
        except BaseException:
            self._forget(client)
            raise
        return Session(sftp, client)

    def _forget(self, client: paramiko.SSHClient) -> None:
        with self._lock:
            left = self._clients.get(client, 1) - 1
            if left > 0:
                self._clients[client] = left
                return
            self._clients.pop(client, None)
        client.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Lease a session for the block; a session whose connection failed is dropped, not reused."""
        session = self.acquire()
        try:
            yield session
        except BaseException:
            session.broken = True
            raise
        finally:
            self.release(session)

    def acquire(self) -> Session:
        """Take an idle session, or open one; give it back with :meth:`release`."""
        with self._lock:
            while self._idle:
                session = self._idle.pop()
                if _alive(session.client):
                    return session
                self._discard_locked(session)
        return self._new_session()

    def release(self, session: Session) -> None:
        """Return a leased session; broken ones, and those past ``max_connections`` idle, are closed."""
        if session.broken and not _alive(session.client):
            self._close_session(session)
            return
        session.broken = False
        with self._lock:
            if not self._closed and len(self._idle) < self._config.max_connections:
                self._idle.append(session)
                return
        self._close_session(session)

    def _discard_locked(self, session: Session) -> None:
        session.sftp.close()
        left = self._clients.get(session.client, 1) - 1
        if left > 0:
            self._clients[session.client] = left
        else:
            self._clients.pop(session.client, None)
            session.client.close()

    def _close_session(self, session: Session) -> None:
        try:
            session.sftp.close()
        finally:
            self._forget(session.client)

    def close(self) -> None:
        """Close every idle session and every connection; sessions still leased close when released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            clients = list(self._clients)
            self._clients.clear()
        for session in idle:
            session.sftp.close()
        for client in clients:
            client.close()


def _alive(client: paramiko.SSHClient) -> bool:
    transport = client.get_transport()
    return transport is not None and transport.is_active()
