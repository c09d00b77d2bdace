"""The ``cp``, ``mv`` and ``sync`` commands."""

from __future__ import annotations

from typing import Any

import click

from satchel.cli.attributes import ObjectAttributes
from satchel.cli.batch import Batch
from satchel.cli.errors import USAGE, CommandError, about
from satchel.cli.filters import FilteredCommand, command_filters
from satchel.cli.options import (
    attribute_options,
    object_attributes,
    recursive_option,
    settings,
    transfer_options,
)
from satchel.cli.output import Output, human_size, human_time
from satchel.cli.paths import Local, Location, RemotePath, StdStream, Stores, parse_location
from satchel.cli.plan import plan_single, plan_tree, tree
from satchel.cli.progress import choose_mode
from satchel.cli.sync import Comparison, compare_contents, plan_sync
from satchel.cli.transfer import Job

__all__ = ["cp", "mv", "sync"]


def _locations(source: str, destination: str) -> tuple[Location, Location]:
    with about(source):
        src = parse_location(source)
    with about(destination):
        dst = parse_location(destination)
    return src, dst


def _batch(
    ctx: click.Context, stores: Stores, options: dict[str, Any], attributes: ObjectAttributes, label: str
) -> Batch:
    output = Output(json_lines=options["json_lines"], quiet=options["quiet"], dry_run=options["dry_run"])
    progress = choose_mode(options["progress"], options["quiet"])
    return Batch(
        stores,
        output,
        settings(ctx),
        attributes=attributes,
        transfers=options["transfers"],
        progress=progress,
        label=label,
    )


def _attributes(options: dict[str, Any], dst: Location) -> ObjectAttributes:
    attributes = object_attributes(options)
    if attributes.given() and not isinstance(dst, RemotePath):
        raise click.UsageError("--content-type, --metadata, --compress, --ttl and --tti apply to objects in a store")
    return attributes


def _copy(ctx: click.Context, /, source: str, destination: str, options: dict[str, Any], *, move: bool) -> None:
    src, dst = _locations(source, destination)
    attributes = _attributes(options, dst)
    if isinstance(dst, StdStream):
        options = {**options, "quiet": True, "progress": False}
    stores = Stores()
    try:
        if options["recursive"]:
            jobs = plan_tree(src, dst, stores, command_filters(ctx), move=move)
        else:
            jobs = [plan_single(src, dst, stores, move=move)]
        batch = _batch(ctx, stores, options, attributes, "mv" if move else "cp")
        batch.run(jobs)
        if options["recursive"] or batch.tally.failed() == 0:
            batch.output.note(batch.summary("moved" if move else "copied"))
    finally:
        stores.close()
    ctx.exit(batch.exit_code())


@click.command(cls=FilteredCommand)
@click.argument("source")
@click.argument("destination")
@recursive_option
@attribute_options
@transfer_options
@click.pass_context
def cp(ctx: click.Context, /, source: str, destination: str, **options: Any) -> None:
    """Copy SOURCE to DESTINATION: local paths, URLs, NAME:path, or - for stdin/stdout.

    \b
    satchel cp report.pdf s3://bucket/reports/          # -> s3://bucket/reports/report.pdf
    satchel cp -r ./photos prod:photos --exclude '*.tmp'
    satchel cp s3://bucket/big.bin - | sha256sum
    """
    _copy(ctx, source, destination, options, move=False)


@click.command(cls=FilteredCommand)
@click.argument("source")
@click.argument("destination")
@recursive_option
@attribute_options
@transfer_options
@click.pass_context
def mv(ctx: click.Context, /, source: str, destination: str, **options: Any) -> None:
    """Move SOURCE to DESTINATION: copy, then delete each source file once its copy is complete.

    Within one store this is the store's own rename or copy; folders left empty at a local source remain.
    """
    _copy(ctx, source, destination, options, move=True)


@click.command(cls=FilteredCommand)
@click.argument("source")
@click.argument("destination")
@click.option("--delete", is_flag=True, help="Delete destination files that are not at the source.")
@click.option("--checksum", is_flag=True, help="Compare content (MD5) rather than size and modification time.")
@click.option("--size-only", is_flag=True, help="Compare sizes only.")
@attribute_options
@transfer_options
@click.pass_context
def sync(ctx: click.Context, /, source: str, destination: str, **options: Any) -> None:
    """Copy what is new or changed from SOURCE to DESTINATION (folders or prefixes).

    A file is unchanged when it has the same size and modification time (within a second; for an upload, an
    object at least as new as the file), as aws s3 sync decides. Downloads get the object's time, so a second
    sync with nothing changed transfers nothing. --delete removes destination files missing at the source
    (only when every transfer worked).
    """
    if options["checksum"] and options["size_only"]:
        raise click.UsageError("give --checksum or --size-only, not both")
    comparison: Comparison = "checksum" if options["checksum"] else "size" if options["size_only"] else "time"
    src, dst = _locations(source, destination)
    attributes = _attributes(options, dst)
    if isinstance(src, StdStream) or isinstance(dst, StdStream):
        raise CommandError("-", "sync works on folders and prefixes, not standard input or output", USAGE)
    filters = command_filters(ctx)
    stores = Stores()
    try:
        sources = tree(src, stores, filters, source=True)
        destinations = tree(dst, stores, filters, source=False)
        batch = _batch(ctx, stores, options, attributes, "sync")
        assert isinstance(src, Local | RemotePath)
        assert isinstance(dst, Local | RemotePath)

        def same_content(pairs: list[tuple[Any, Any]]) -> list[bool]:
            located = [(src.child(s.rel), s, dst.child(d.rel), d) for s, d in pairs]
            return compare_contents(located, stores, options["transfers"], batch.transfers.cancel)

        plan = plan_sync(
            sources,
            destinations,
            comparison=comparison,
            local_destination=isinstance(dst, Local),
            delete=options["delete"],
            same_content=same_content,
        )
        batch.run([Job(src.child(entry.rel), dst.child(entry.rel), entry.size) for entry in plan.copies])
        copied_failed = batch.tally.failed()
        deleted = 0
        if plan.deletes and copied_failed:
            batch.output.note(f"not deleting {len(plan.deletes)} extra files at {dst.display}: some transfers failed")
        elif plan.deletes:
            before = batch.tally.done
            batch.delete([dst.child(entry.rel) for entry in plan.deletes])
            deleted = batch.tally.done - before
        if not plan.copies and not plan.deletes:
            batch.output.note(f"nothing to transfer ({plan.unchanged} files up to date)")
        else:
            batch.output.note(_sync_summary(batch, plan.unchanged, deleted, dry_run=batch.output.dry_run))
    finally:
        stores.close()
    ctx.exit(batch.exit_code())


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _sync_summary(batch: Batch, unchanged: int, deleted: int, *, dry_run: bool) -> str:
    copied = batch.tally.done - deleted
    size = human_size(batch.tally.size)
    if dry_run:
        text = f"would copy {_files(copied)} ({size}) and delete {deleted}; {unchanged} up to date"
    else:
        elapsed = human_time(batch.elapsed())
        text = f"copied {_files(copied)} ({size}), deleted {deleted}, {unchanged} up to date, in {elapsed}"
    failed = batch.tally.failed()
    return text + (f"; {failed} failed" if failed else "")
