"""The ``rm`` command."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import click

from satchel.cli.batch import Batch
from satchel.cli.errors import NOT_FOUND, USAGE, CommandError, about, batch_exit_code, exit_code, path_of, report
from satchel.cli.filters import FilteredCommand, command_filters
from satchel.cli.options import batch_options, recursive_option, settings
from satchel.cli.output import Output
from satchel.cli.paths import Local, Location, RemotePath, StdStream, Stores, parse_location
from satchel.cli.plan import object_size, tree
from satchel.errors import SatchelError

__all__ = ["rm"]


@click.command(cls=FilteredCommand)
@click.argument("paths", nargs=-1, required=True)
@recursive_option
@click.option("-f", "--force", is_flag=True, help="Ignore paths that do not exist.")
@batch_options
@click.pass_context
def rm(ctx: click.Context, /, paths: tuple[str, ...], recursive: bool, force: bool, **options: Any) -> None:
    """Delete files or objects (-r: everything below a folder or prefix, filters applied).

    A missing path is an error (exit 3) unless --force. rm -r on a local folder also removes the folders it
    leaves empty, the folder itself included.
    """
    output = Output(json_lines=options["json_lines"], quiet=options["quiet"], dry_run=options["dry_run"])
    stores = Stores()
    batch = Batch(stores, output, settings(ctx), label="rm")
    refused: list[int] = []
    try:
        for text in paths:
            try:
                with about(text):
                    location = parse_location(text)
                targets = _targets(location, stores, ctx, recursive=recursive)
            except (SatchelError, OSError, CommandError) as error:
                code = exit_code(error)
                if not (force and code == NOT_FOUND):
                    report(path_of(error) or text, error, settings(ctx))
                    refused.append(code)
                continue
            batch.delete(targets)
            if recursive and isinstance(location, Local) and not command_filters(ctx) and not output.dry_run:
                _remove_empty_folders(location.path)
    finally:
        stores.close()
    if recursive:
        output.note(batch.summary("deleted"))
    ctx.exit(batch_exit_code([*refused, *(batch.tally.failures or [])], batch.tally.done))


def _targets(location: Location, stores: Stores, ctx: click.Context, *, recursive: bool) -> list[Location]:
    if isinstance(location, StdStream):
        raise CommandError("-", "cannot delete standard input", USAGE)
    if recursive:
        if isinstance(location, Local) and not os.path.isdir(location.path):
            return [location] if os.path.lexists(location.path) else _missing(location)
        if isinstance(location, RemotePath) and location.key and not location.key.endswith("/"):
            try:
                entries = tree(location, stores, command_filters(ctx), source=True)
            except CommandError:
                stores.get(location.spec).head(location.key)
                return [location]
        else:
            entries = tree(location, stores, command_filters(ctx), source=True)
        return [location.child(rel) for rel in entries]
    if isinstance(location, Local):
        if os.path.isdir(location.path):
            raise CommandError(location.display, "is a folder (use -r)", USAGE)
        return [location] if os.path.lexists(location.path) else _missing(location)
    object_size(location, stores)
    return [location]


def _missing(location: Local) -> list[Location]:
    raise CommandError(location.display, "no such file or folder", NOT_FOUND)


def _remove_empty_folders(root: str) -> None:
    for folder, _dirs, _files in os.walk(root, topdown=False):
        with contextlib.suppress(OSError):
            os.rmdir(folder)
