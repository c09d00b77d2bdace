"""Unique tokens for etags and temp names, cheaper than asking the kernel for randomness every time.

A token is a random 64-bit prefix drawn once per process (and again in a forked child) followed by a counter:
unique across processes and hosts with overwhelming probability, and never repeated within a process.
"""

from __future__ import annotations

import itertools
import os
import secrets

__all__ = ["unique_token"]


def _reseed() -> None:
    global _prefix, _counter  # noqa: PLW0603 - per-process state, renewed after fork
    _prefix = secrets.token_hex(8)
    _counter = itertools.count()


_prefix = ""
_counter = itertools.count()
_reseed()
os.register_at_fork(after_in_child=_reseed)


def unique_token() -> str:
    """Return a new lowercase hex token that no other call, in any process, returns."""
    return f"{_prefix}{next(_counter):x}"
