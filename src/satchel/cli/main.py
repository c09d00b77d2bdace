"""The ``satchel`` command group and its ``demo`` command."""

from __future__ import annotations

import hashlib
import os

import click

import satchel
from satchel.cli.serve import serve


@click.group()
@click.version_option(satchel.__version__, prog_name="satchel")
def main() -> None:
    """satchel: one storage API for a local folder, memory, S3, Azure, GCS, SFTP and a satchel server."""


@main.command()
@click.argument("url", default="satchel-data")
def demo(url: str) -> None:
    """Show the library at work on a store (default: the local folder ./satchel-data).

    Writes a few objects under demo/ (with metadata, zstd compression and a one-hour TTL), then reads,
    ranges, lists and copies them, printing what it does.
    """
    store = satchel.open(url)
    click.echo(f"store: {store!r}")
    report = b"quarterly numbers\n" * 2000
    meta = {"owner": "ana", "team": "finance"}
    store.put("demo/reports/q3.txt", report, content_type="text/plain", metadata=meta)
    click.echo(f"put    demo/reports/q3.txt          {len(report):>7} bytes, metadata {meta}")
    store.put("demo/tmp/upload-42", report, expires=satchel.TTL(3600), compress="zstd")
    stored = store.head("demo/tmp/upload-42")
    click.echo(
        f"put    demo/tmp/upload-42           {len(report):>7} bytes -> {stored.size} stored (zstd), "
        f"expires {stored.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    with store.open("demo/big.bin", "wb") as f:
        for i in range(16):
            f.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    click.echo(f"write  demo/big.bin                 {store.head('demo/big.bin').size:>7} bytes via open('wb')")
    same = store.get_bytes("demo/tmp/upload-42") == report
    click.echo(f"get    demo/tmp/upload-42           decompressed, identical: {same}")
    click.echo(f"range  demo/reports/q3.txt[0:17]    {store.get_range('demo/reports/q3.txt', 0, 17)!r}")
    try:
        store.put("demo/reports/q3.txt", b"again", mode="create")
    except satchel.AlreadyExists:
        click.echo("create demo/reports/q3.txt          refused: AlreadyExists (the original is intact)")
    store.copy("demo/reports/q3.txt", "demo/archive/q3.txt")
    click.echo("list   demo/")
    for item in store.list("demo/"):
        click.echo(f"         {item.key:<30} {item.size:>8}  {item.content_type or '-'}")
    level = store.list_with_delimiter("demo/")
    click.echo(f"one level under demo/: {[o.key for o in level.objects]} + prefixes {level.common_prefixes}")
    if "://" not in url:
        click.echo(f"the objects are plain files under {os.path.abspath(url)}")


main.add_command(serve)
