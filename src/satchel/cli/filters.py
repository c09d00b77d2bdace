"""``--include`` / ``--exclude`` glob filters with the semantics of ``aws s3`` (cp, mv, rm, sync).

Every path is included unless a filter excludes it. Filters are applied in the order given on the command line
and the last one that matches a path decides, so ``--exclude '*' --include '*.txt'`` keeps only ``.txt`` files
and ``--include '*.txt' --exclude '*'`` keeps nothing. Patterns are matched against the path relative to the
source folder or prefix (``2024/report.txt`` when copying ``./docs``), with :mod:`fnmatch` rules as aws uses
them: ``*`` and ``?`` also match ``/``, ``[seq]`` matches one character of a set; matching is case-sensitive.
With ``sync --delete``, the same filters choose which extra destination files may be deleted.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import click

__all__ = ["FilteredCommand", "Filters", "command_filters"]

_KINDS = ("include", "exclude")


class Filters:
    """An ordered list of ``(kind, pattern)`` rules; ``kind`` is ``"include"`` or ``"exclude"``."""

    def __init__(self, rules: Sequence[tuple[str, str]] = ()) -> None:
        self.rules = tuple(rules)
        self._compiled = [(kind == "include", re.compile(fnmatch.translate(pattern))) for kind, pattern in self.rules]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def __repr__(self) -> str:
        return f"Filters({list(self.rules)!r})"

    def allows(self, rel: str) -> bool:
        """Return True when the relative path ``rel`` passes the filters (the last matching rule decides)."""
        verdict = True
        for include, pattern in self._compiled:
            if pattern.match(rel):
                verdict = include
        return verdict


class FilteredCommand(click.Command):
    """A command whose ``--include``/``--exclude`` options keep their command-line order in ``ctx.meta``.

    click gathers each repeated option into its own tuple, losing the interleaving the semantics depend on, so
    the arguments are read once more, in order, before click parses them.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Record the filters in order as ``ctx.meta["satchel.filters"]``, then parse as usual."""
        ctx.meta["satchel.filters"] = Filters(_ordered(args))
        return super().parse_args(ctx, args)


def _ordered(args: Sequence[str]) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    remaining = iter(args)
    for arg in remaining:
        if arg == "--":
            break
        for kind in _KINDS:
            flag = f"--{kind}"
            if arg == flag:
                value = next(remaining, None)
                if value is not None:
                    rules.append((kind, value))
            elif arg.startswith(flag + "="):
                rules.append((kind, arg[len(flag) + 1 :]))
    return rules


def command_filters(ctx: click.Context) -> Filters:
    """Return the ordered filters :class:`FilteredCommand` recorded for this command (none for other commands)."""
    found = ctx.meta.get("satchel.filters")
    return found if isinstance(found, Filters) else Filters()
