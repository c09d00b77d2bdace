"""The ``satchel`` command group: file commands (ls, stat, cat, cp, mv, rm, sync, sign, du), ``serve`` and ``demo``."""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Any

import click

import satchel
from satchel.cli.browse import cat, du, ls, stat
from satchel.cli.copy import cp, mv, sync
from satchel.cli.errors import EXIT_CODES_HELP, INTERRUPTED, OK, exit_code, path_of, report
from satchel.cli.options import output_options, settings
from satchel.cli.remove import rm
from satchel.cli.serve import serve
from satchel.cli.sign import sign

__all__ = ["main"]

_HELP = f"""satchel: one storage API for a local folder, memory, S3, Azure, GCS, SFTP and a satchel server.

\b
Paths are local paths, - (stdin/stdout), satchel URLs (s3://bucket/key, az://, gs://,
sftp://, satchel+http://host:port/usecase/scopes/key, file:///root//key) or NAME:key for a
remote in ~/.config/satchel/config.toml (or $SATCHEL_CONFIG). See docs/cli.md.

{EXIT_CODES_HELP}
"""


class SatchelGroup(click.Group):
    """The command group: turns every error into one line on stderr and its documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, mapping errors to exit codes (KeyboardInterrupt to 130)."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("satchel: interrupted", err=True)
            raise click.exceptions.Exit(INTERRUPTED) from None
        except BrokenPipeError:
            # The reader went away (`satchel cat ... | head`): stop quietly, and keep Python from complaining
            # again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise click.exceptions.Exit(OK) from None
        except Exception as error:  # noqa: BLE001 - the one place every error becomes a line and an exit code
            report(path_of(error), error, settings(ctx))
            raise click.exceptions.Exit(exit_code(error)) from None


@click.group(cls=SatchelGroup, help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(satchel.__version__, prog_name="satchel")
@output_options
def main() -> None:
    """The satchel command."""


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


for _command in (ls, stat, cat, cp, mv, rm, sync, du):
    main.add_command(_command)
main.add_command(sign, "sign")
main.add_command(sign, "presign")
main.add_command(serve)
