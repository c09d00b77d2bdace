"""Exit codes and error lines: every failure becomes one readable line on stderr and a documented exit code.

The codes are those of ``satchel --help``: 0 success, 1 some operations failed, 2 usage error, 3 not found,
4 permission or authentication, 5 transient failure after retries, 130 interrupted. ``-v`` adds the error's
class, backend, operation and causes to the line; ``--debug`` prints the traceback too.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import click

from satchel.errors import (
    ConfigError,
    InvalidPath,
    NotFound,
    NotSupported,
    PermissionDenied,
    SatchelError,
    TransientError,
    Unauthenticated,
)

__all__ = [
    "EXIT_CODES_HELP",
    "FAILED",
    "INTERRUPTED",
    "NOT_FOUND",
    "OK",
    "PERMISSION",
    "TRANSIENT",
    "USAGE",
    "CommandError",
    "Settings",
    "about",
    "batch_exit_code",
    "describe",
    "exit_code",
    "path_of",
    "report",
]

OK = 0
FAILED = 1
USAGE = 2
NOT_FOUND = 3
PERMISSION = 4
TRANSIENT = 5
INTERRUPTED = 130

_PATH = "_satchel_cli_path"

EXIT_CODES_HELP = """\b
Exit codes:
  0    success
  1    some operations failed (the others were done)
  2    usage error: arguments, options, URL or configuration file
  3    not found
  4    permission denied or authentication failed
  5    transient failure (timeout, throttling, connection) after retries
  130  interrupted (Ctrl-C): transfers stop, nothing partial is left behind"""


@dataclass
class Settings:
    """How much to say about errors: ``-v`` (repeatable) and ``--debug``, from the group or the command."""

    verbose: int = 0
    debug: bool = False


class CommandError(Exception):
    """A failure the command itself detects (a folder without -r, nothing below a prefix), with its exit code."""

    def __init__(self, path: str, message: str, code: int) -> None:
        super().__init__(message)
        self.path = path
        self.code = code
        setattr(self, _PATH, path)


def exit_code(error: BaseException) -> int:
    """Return the documented exit code for ``error``."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(error, CommandError):
        return error.code
    if isinstance(error, click.UsageError | click.BadParameter):
        return USAGE
    if isinstance(error, Unauthenticated | PermissionDenied | PermissionError):
        return PERMISSION
    if isinstance(error, NotFound | FileNotFoundError):
        return NOT_FOUND
    if isinstance(error, TransientError) or (isinstance(error, SatchelError) and error.retryable):
        return TRANSIENT
    if isinstance(error, ConnectionError | TimeoutError):
        return TRANSIENT
    if isinstance(error, ConfigError | InvalidPath | NotSupported | IsADirectoryError | NotADirectoryError):
        return USAGE
    return FAILED


def batch_exit_code(codes: Iterable[int], succeeded: int) -> int:
    """Return the exit code of many operations: 0 if none failed, the failures' code if all failed alike, else 1."""
    distinct = set(codes)
    if not distinct:
        return OK
    if succeeded == 0 and len(distinct) == 1:
        return distinct.pop()
    return FAILED


def describe(error: BaseException, verbose: int = 0) -> str:
    """Return the cause of ``error`` in a few words; with ``verbose``, its class, where it happened and its causes."""
    if isinstance(error, SatchelError):
        text = error.message
    elif isinstance(error, OSError) and error.strerror:
        text = error.strerror[:1].lower() + error.strerror[1:]
    else:
        text = str(error) or type(error).__name__
    text = " ".join(text.split())
    if not verbose:
        return text
    details = [type(error).__name__]
    if isinstance(error, SatchelError):
        details += [f"{name} {value!r}" for name, value in _where(error) if value is not None]
        if error.retryable:
            details.append("retryable")
    cause = error.__cause__ or error.__context__
    while cause is not None:
        details.append(f"caused by {type(cause).__name__}: {' '.join(str(cause).split())[:300]}")
        cause = cause.__cause__ or cause.__context__
    return f"{text} [{'; '.join(details)}]"


def _where(error: SatchelError) -> list[tuple[str, str | None]]:
    return [("backend", error.backend), ("operation", error.operation), ("key", error.key)]


@contextlib.contextmanager
def about(path: str) -> Iterator[None]:
    """Mark an error raised in the block as concerning ``path`` (unless it already names one), for its error line."""
    try:
        yield
    except Exception as error:
        if path_of(error) is None:
            setattr(error, _PATH, path)
        raise


def path_of(error: BaseException) -> str | None:
    """Return the path :func:`about` attached to ``error``, if any."""
    found = getattr(error, _PATH, None)
    return found if isinstance(found, str) else None


def report(path: str | None, error: BaseException, settings: Settings) -> None:
    """Print ``satchel: PATH: CAUSE`` for ``error`` on stderr (and its traceback with ``--debug``)."""
    where = f"{path}: " if path else ""
    click.echo(f"satchel: {where}{describe(error, settings.verbose)}", err=True)
    if settings.debug:
        traceback.print_exception(error, file=sys.stderr)
