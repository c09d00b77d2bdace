"""The commands that read without changing anything: ``ls``, ``stat``, ``du`` and ``cat``."""

from __future__ import annotations

import mimetypes
import os
import sys
from datetime import datetime
from typing import Any

import click

from satchel.body import CHUNK_SIZE
from satchel.cli.config import load_remotes
from satchel.cli.errors import NOT_FOUND, USAGE, CommandError, about
from satchel.cli.filters import FilteredCommand, Filters, command_filters
from satchel.cli.listing import Entry, entry_from_meta, kept, local_entry, local_tree, remote_tree
from satchel.cli.options import output_options, recursive_option
from satchel.cli.output import Output, human_size, iso_time
from satchel.cli.paths import Local, Location, RemotePath, StdStream, Stores, parse_location
from satchel.errors import NotFound
from satchel.types import ObjectMeta

__all__ = ["cat", "du", "ls", "stat"]

_json_option = click.option("--json", "json_lines", is_flag=True, help="Print one JSON object per line.")
_bytes_option = click.option("--bytes", "exact", is_flag=True, help="Print sizes in bytes rather than KiB, MiB, ...")


def _parse(text: str) -> Location:
    with about(text):
        return parse_location(text)


def _size(size: int, exact: bool) -> str:
    return str(size) if exact else human_size(size)


def _local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


class _Lister:
    """Prints ls lines or JSON objects for one listed path."""

    def __init__(self, base: Location, output: Output, exact: bool) -> None:
        self.base = base
        self.output = output
        self.exact = exact

    def entry(self, name: str, entry: Entry, full: Location) -> None:
        if self.output.json_lines:
            data: dict[str, Any] = {"type": "object", "path": full.display, "name": name, "size": entry.size}
            data["last_modified"] = iso_time(entry.mtime)
            if isinstance(full, RemotePath):
                data["key"] = full.key
                data["etag"] = entry.etag
            self.output.record(data)
        else:
            self.output.line(f"{_local_time(entry.mtime)}  {_size(entry.size, self.exact):>10}  {name}")

    def prefix(self, name: str, full: Location) -> None:
        if self.output.json_lines:
            self.output.record({"type": "prefix", "path": full.display, "name": name})
        else:
            self.output.line(f"{'':19}  {'PRE':>10}  {name}")


@click.command()
@click.argument("path", required=False)
@recursive_option
@_json_option
@_bytes_option
@output_options
def ls(path: str | None, recursive: bool, json_lines: bool, exact: bool) -> None:
    """List a folder, a prefix or one object (-r: everything below it); with no PATH, the configured remotes.

    Names are relative to the listed folder or prefix; PRE marks a prefix (a folder) one level down.
    """
    output = Output(json_lines=json_lines)
    if path is None:
        _list_remotes(output)
        return
    location = _parse(path)
    lister = _Lister(location, output, exact)
    if isinstance(location, StdStream):
        raise CommandError("-", "cannot list standard input", USAGE)
    stores = Stores()
    try:
        with about(location.display):
            if isinstance(location, Local):
                _list_local(location, lister, recursive)
            else:
                _list_remote(location, stores, lister, recursive)
    finally:
        stores.close()


def _list_remotes(output: Output) -> None:
    for name, remote in sorted(load_remotes().items()):
        if output.json_lines:
            output.record({"type": "remote", "name": name, "url": remote.url.split("?", 1)[0]})
        else:
            output.line(f"{name}:  {remote.url.split('?', 1)[0]}")


def _list_local(location: Local, lister: _Lister, recursive: bool) -> None:
    if not os.path.isdir(location.path):
        entry = local_entry(location.name, location.path)
        if entry is None:
            raise FileNotFoundError(2, "No such file or directory", location.path)
        lister.entry(location.name, entry, location)
        return
    if recursive:
        for rel, entry in local_tree(location.path, Filters()).items():
            lister.entry(rel, entry, location.child(rel))
        return
    with os.scandir(location.path) as scan:
        names = sorted(scan, key=lambda item: (not item.is_dir(), item.name))  # folders first, as prefixes are
    for item in names:
        if item.is_dir():
            lister.prefix(item.name + "/", location.child(item.name))
        else:
            found = local_entry(item.name, item.path)
            if found is not None:
                lister.entry(item.name, found, location.child(item.name))


def _list_remote(location: RemotePath, stores: Stores, lister: _Lister, recursive: bool) -> None:
    store = stores.get(location.spec)
    prefix = location.tree_prefix
    found = False
    if recursive:
        for rel, entry in remote_tree(store, prefix).items():
            found = True
            lister.entry(rel, entry, location.child(rel))
    else:
        level = store.list_with_delimiter(prefix)
        for common in level.common_prefixes:
            found = True
            lister.prefix(common[len(prefix) :], RemotePath(location.spec, common))
        for meta in level.objects:
            found = True
            rel = meta.key[len(prefix) :]
            lister.entry(rel, entry_from_meta(rel, meta), location.child(rel))
    if found or not prefix:
        return
    if location.key.endswith("/"):
        raise CommandError(location.display, "no such prefix", NOT_FOUND)
    meta = store.head(location.key)
    lister.entry(location.name, entry_from_meta(location.name, meta), location)


@click.command()
@click.argument("path")
@_json_option
@output_options
def stat(path: str, json_lines: bool) -> None:
    """Show what is known about one file or object: size, time, etag, content type, metadata, expiry."""
    location = _parse(path)
    if isinstance(location, StdStream):
        raise CommandError("-", "cannot stat standard input", USAGE)
    stores = Stores()
    try:
        with about(location.display):
            if isinstance(location, Local):
                fields = _local_fields(location)
            else:
                if not location.key or location.key.endswith("/"):
                    raise CommandError(location.display, "is a prefix; stat takes an object (try ls or du)", USAGE)
                fields = _object_fields(location, stores.get(location.spec).head(location.key))
    finally:
        stores.close()
    output = Output(json_lines=json_lines)
    if json_lines:
        output.record(fields)
        return
    width = max(len(name) for name in fields)
    for name, value in fields.items():
        shown = ", ".join(f"{key}={text}" for key, text in value.items()) if isinstance(value, dict) else value
        output.line(f"{name + ':':<{width + 1}}  {shown if shown not in (None, '') else '-'}")


def _local_fields(location: Local) -> dict[str, Any]:
    st = os.stat(location.path)
    kind = "folder" if os.path.isdir(location.path) else "file"
    return {
        "path": location.display,
        "type": kind,
        "size": st.st_size,
        "last_modified": iso_time(st.st_mtime),
        "content_type": mimetypes.guess_type(location.path)[0] if kind == "file" else None,
    }


def _object_fields(location: RemotePath, meta: ObjectMeta) -> dict[str, Any]:
    attributes = meta.attributes
    fields: dict[str, Any] = {
        "path": location.display,
        "key": meta.key,
        "size": meta.size,
        "last_modified": iso_time(meta.last_modified),
        "etag": meta.etag,
        "version": meta.version,
        "content_type": attributes.content_type,
        "content_encoding": attributes.content_encoding,
        "content_disposition": attributes.content_disposition,
        "content_language": attributes.content_language,
        "cache_control": attributes.cache_control,
        "compression": attributes.compression,
        "expires_at": iso_time(meta.expires_at) if meta.expires_at is not None else None,
        "metadata": dict(meta.metadata),
    }
    return {name: value for name, value in fields.items() if value is not None or name in ("etag", "content_type")}


@click.command(cls=FilteredCommand)
@click.argument("path")
@click.option("--include", "includes", multiple=True, metavar="GLOB", help="Count only paths matching GLOB.")
@click.option("--exclude", "excludes", multiple=True, metavar="GLOB", help="Leave out paths matching GLOB.")
@_json_option
@_bytes_option
@output_options
@click.pass_context
def du(ctx: click.Context, /, path: str, json_lines: bool, exact: bool, **_filters: Any) -> None:
    """Show the total size and number of files below a folder or prefix (or of one object)."""
    location = _parse(path)
    if isinstance(location, StdStream):
        raise CommandError("-", "cannot measure standard input", USAGE)
    stores = Stores()
    filters = command_filters(ctx)
    try:
        with about(location.display):
            if isinstance(location, Local):
                if os.path.isdir(location.path):
                    entries = local_tree(location.path, filters)
                else:
                    single = local_entry(location.name, location.path)
                    if single is None:
                        raise FileNotFoundError(2, "No such file or directory", location.path)
                    entries = {single.rel: single}
            else:
                store = stores.get(location.spec)
                entries = remote_tree(store, location.tree_prefix)
                if not entries and location.key and not location.key.endswith("/"):
                    try:
                        meta = store.head(location.key)
                    except NotFound:
                        raise CommandError(location.display, "no such object or prefix", NOT_FOUND) from None
                    entries = {location.name: entry_from_meta(location.name, meta)}
                entries = kept(entries, filters)
    finally:
        stores.close()
    total = sum(entry.size for entry in entries.values())
    output = Output(json_lines=json_lines)
    if json_lines:
        output.record({"path": location.display, "size": total, "files": len(entries)})
    else:
        files = "file" if len(entries) == 1 else "files"
        output.line(f"{_size(total, exact):>10}  {len(entries):>8} {files}  {location.display}")


@click.command()
@click.argument("paths", nargs=-1, required=True)
@output_options
def cat(paths: tuple[str, ...]) -> None:
    """Write files or objects to standard output, one after the other."""
    locations = [_parse(path) for path in paths]
    out = sys.stdout.buffer
    stores = Stores()
    try:
        for location in locations:
            with about(location.display):
                if isinstance(location, RemotePath):
                    if not location.key or location.key.endswith("/"):
                        raise CommandError(location.display, "is a prefix; cat takes objects", USAGE)
                    with stores.get(location.spec).get(location.key).body as body:
                        for chunk in body:
                            out.write(chunk)
                elif isinstance(location, Local):
                    with open(location.path, "rb") as source:
                        while chunk := source.read(CHUNK_SIZE):
                            out.write(chunk)
                else:
                    while chunk := sys.stdin.buffer.read(CHUNK_SIZE):
                        out.write(chunk)
        out.flush()
    finally:
        stores.close()
