"""Translation of paramiko, socket and SFTP status errors into satchel errors, done in one place."""

from __future__ import annotations

import errno
import socket
from types import TracebackType

import paramiko

from satchel.errors import (
    InvalidPath,
    NotFound,
    PermissionDenied,
    SatchelError,
    TransientError,
    Unauthenticated,
)

__all__ = ["BACKEND_NAME", "sftp_error", "translate_errors"]

BACKEND_NAME = "sftp"

_BY_ERRNO: dict[int, tuple[type[SatchelError], str]] = {
    errno.ENOENT: (NotFound, "no such object"),
    errno.EACCES: (PermissionDenied, "the SFTP server denied access"),
}


def sftp_error(cls: type[SatchelError], message: str, *, key: str | None, operation: str) -> SatchelError:
    """Return a ``cls`` error of this backend about ``key`` and ``operation``."""
    return cls(message, key=key, operation=operation, backend=BACKEND_NAME)


def _translate(exc: BaseException, key: str | None, operation: str, server: str) -> SatchelError | None:
    # The most specific first: paramiko's authentication errors are SSHExceptions, and SFTP status errors are
    # OSErrors like socket errors, told apart by their errno (SFTP sets only ENOENT and EACCES, or none).
    if isinstance(exc, paramiko.BadHostKeyException):
        return sftp_error(
            Unauthenticated,
            f"the host key of {server} does not match the known_hosts entry: refusing to connect",
            key=key,
            operation=operation,
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return sftp_error(
            Unauthenticated, f"authentication to {server} failed (wrong key or password?)", key=key, operation=operation
        )
    if isinstance(exc, socket.gaierror):
        return sftp_error(TransientError, f"cannot resolve the host of {server}", key=key, operation=operation)
    if isinstance(exc, ConnectionError | TimeoutError | EOFError | paramiko.ssh_exception.NoValidConnectionsError):
        return sftp_error(TransientError, f"connection to {server} failed: {exc}", key=key, operation=operation)
    if isinstance(exc, paramiko.SSHException):
        return sftp_error(TransientError, f"SSH error talking to {server}: {exc}", key=key, operation=operation)
    if isinstance(exc, OSError):
        code = exc.errno
        if code in _BY_ERRNO:
            cls, text = _BY_ERRNO[code]
            return sftp_error(cls, text, key=key, operation=operation)
        if code is not None:
            # A socket error without a more specific class (unreachable network, host down).
            return sftp_error(TransientError, f"network error talking to {server}: {exc}", key=key, operation=operation)
        return sftp_error(SatchelError, f"the SFTP server refused: {exc}", key=key, operation=operation)
    return None


class translate_errors:
    """Turn a paramiko, socket or SFTP error escaping the block into a satchel error, keeping it as the cause.

    Satchel errors pass through unchanged; transient failures (dropped connections, timeouts, SSH protocol
    errors) become retryable :class:`~satchel.errors.TransientError`.
    """

    __slots__ = ("key", "operation", "server")

    def __init__(self, key: str | None, operation: str, server: str) -> None:
        self.key = key
        self.operation = operation
        self.server = server

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or isinstance(exc, SatchelError):
            return
        error = _translate(exc, self.key, self.operation, self.server)
        if error is not None:
            raise error from exc


def name_too_long(key: str, operation: str) -> SatchelError:
    """Return the error for a key the server's filesystem cannot name."""
    return sftp_error(InvalidPath, "a segment of the key is too long for the server", key=key, operation=operation)
