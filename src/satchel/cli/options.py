"""Options shared by several commands, and the parsing of their values (durations, ``k=v`` metadata)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from satchel import durations
from satchel.cli.attributes import ObjectAttributes
from satchel.cli.errors import Settings
from satchel.types import TTI, TTL, ExpirationPolicy

__all__ = [
    "DEFAULT_TRANSFERS",
    "attribute_options",
    "batch_options",
    "object_attributes",
    "output_options",
    "parse_duration",
    "recursive_option",
    "settings",
    "transfer_options",
]

DEFAULT_TRANSFERS = 16
F = TypeVar("F", bound=Callable[..., Any])


def parse_duration(text: str) -> float:
    """Return the seconds of ``3600`` (a bare number is seconds) or a duration such as ``90s``, ``2h``, ``1h30m``.

    Durations use the protocol's grammar (:mod:`satchel.durations`: ``s``, ``m``, ``h``, ``d``, ``w``, ...).

    Raises:
        click.BadParameter: anything else, or zero.
    """
    stripped = text.strip()
    try:
        seconds = float(stripped)
    except ValueError:
        try:
            seconds = durations.parse_duration(stripped).total_seconds()
        except ValueError:
            seconds = 0.0
    if not seconds > 0:
        raise click.BadParameter(f"{text!r} is not a positive duration (3600, 90s, 15m, 2h, 7d, 1h30m)")
    return seconds


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    return None if value is None else parse_duration(value)


def _metadata(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str] | None:
    if not value:
        return None
    pairs: dict[str, str] = {}
    for item in value:
        name, equals, text = item.partition("=")
        if not equals or not name:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[name] = text
    return pairs


def settings(ctx: click.Context) -> Settings:
    """Return the error settings shared by the group and its commands."""
    return ctx.find_root().ensure_object(Settings)


def _verbose(ctx: click.Context, param: click.Parameter, value: int) -> None:
    settings(ctx).verbose += value


def _debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        settings(ctx).debug = True


def output_options(command: F) -> F:
    """Add ``-v/--verbose`` and ``--debug`` (also accepted before the command name)."""
    command = click.option(
        "--debug", is_flag=True, expose_value=False, callback=_debug, help="Print tracebacks of errors."
    )(command)
    return click.option(
        "-v", "--verbose", count=True, expose_value=False, callback=_verbose, help="Say more about errors."
    )(command)


def recursive_option(command: F) -> F:
    """Add ``-r/--recursive``."""
    return click.option(
        "-r", "--recursive", is_flag=True, help="Act on every file below a folder or every object below a prefix."
    )(command)


def batch_options(command: F) -> F:
    """Add the options of commands that act on many paths: filters, dry run, quiet and json output."""
    decorators = [
        click.option(
            "--include", "includes", multiple=True, metavar="GLOB", help="Include paths matching GLOB (see --exclude)."
        ),
        click.option(
            "--exclude",
            "excludes",
            multiple=True,
            metavar="GLOB",
            help="Exclude paths matching GLOB. Filters apply in order, the last match wins (as in aws s3).",
        ),
        click.option(
            "--dry-run", "--dryrun", "dry_run", is_flag=True, help="Print what would be done; change nothing."
        ),
        click.option("-q", "--quiet", is_flag=True, help="Print only errors."),
        click.option("--json", "json_lines", is_flag=True, help="Print one JSON object per operation."),
        output_options,
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def transfer_options(command: F) -> F:
    """Add :func:`batch_options` and the options of transfers: ``--transfers`` and ``--progress/--no-progress``."""
    command = click.option("--progress/--no-progress", default=None, help="Show progress on stderr (default: on).")(
        command
    )
    command = click.option(
        "--transfers",
        type=click.IntRange(1, 256),
        default=DEFAULT_TRANSFERS,
        show_default=True,
        help="Files transferred in parallel.",
    )(command)
    return batch_options(command)


def attribute_options(command: F) -> F:
    """Add the options that set attributes of the objects written to a store."""
    decorators = [
        click.option("--content-type", help="Content type of written objects (default: guessed from the name)."),
        click.option("--no-guess-content-type", is_flag=True, help="Do not guess a content type from the file name."),
        click.option(
            "--metadata",
            multiple=True,
            metavar="KEY=VALUE",
            callback=_metadata,
            help="Custom metadata of written objects (repeatable).",
        ),
        click.option("--compress", type=click.Choice(["zstd"]), help="Store objects compressed with zstd."),
        click.option("--ttl", callback=_duration, metavar="DURATION", help="Expire objects this long after writing."),
        click.option("--tti", callback=_duration, metavar="DURATION", help="Expire objects this long after last use."),
    ]
    for decorator in reversed(decorators):
        command = decorator(command)
    return command


def object_attributes(options: dict[str, Any]) -> ObjectAttributes:
    """Build the attributes of written objects from the options :func:`attribute_options` added.

    Raises:
        click.UsageError: both ``--ttl`` and ``--tti``.
    """
    ttl, tti = options.get("ttl"), options.get("tti")
    if ttl is not None and tti is not None:
        raise click.UsageError("give --ttl or --tti, not both")
    expires: ExpirationPolicy | None = TTL(ttl) if ttl is not None else TTI(tti) if tti is not None else None
    return ObjectAttributes(
        content_type=options.get("content_type"),
        metadata=options.get("metadata"),
        compress=options.get("compress"),
        expires=expires,
        guess_content_type=not options.get("no_guess_content_type", False),
    )
