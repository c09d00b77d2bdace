"""The ``sign`` command (alias ``presign``): a URL that lets anyone read or write one object until it expires."""

from __future__ import annotations

from typing import Literal

import click

from satchel.cli.errors import USAGE, CommandError, about
from satchel.cli.options import output_options, parse_duration
from satchel.cli.paths import RemotePath, Stores, parse_location

__all__ = ["sign"]


@click.command()
@click.argument("path")
@click.option(
    "--expires-in",
    default="3600",
    show_default=True,
    metavar="DURATION",
    help="How long the URL works: seconds, or 15m, 2h, 7d.",
)
@click.option(
    "--method",
    type=click.Choice(["GET", "PUT"], case_sensitive=False),
    default="GET",
    show_default=True,
    metavar="GET|PUT",
    help="What the URL allows: download (GET) or upload (PUT).",
)
@output_options
def sign(path: str, expires_in: str, method: str) -> None:
    """Print a URL that lets anyone GET (download) or PUT (upload) the object PATH, with no credentials.

    S3, Azure (with an account key) and GCS (with a service-account key) sign natively; a satchel server signs
    for the store it serves. A local folder cannot sign: serve it with `satchel serve` and sign through that.
    """
    seconds = parse_duration(expires_in)
    with about(path):
        location = parse_location(path)
    if not isinstance(location, RemotePath):
        raise CommandError(
            location.display, "only objects in a store can be signed (serve a folder with satchel serve)", USAGE
        )
    if not location.key or location.key.endswith("/"):
        raise CommandError(location.display, "is a prefix; sign takes one object", USAGE)
    verb: Literal["GET", "PUT"] = "PUT" if method.upper() == "PUT" else "GET"
    stores = Stores()
    try:
        with about(location.display):
            url = stores.get(location.spec).sign(location.key, verb, expires_in=seconds)
    finally:
        stores.close()
    click.echo(url)
