"""Conditional-read checks (RFC 9110 section 13) for backends that evaluate them themselves."""

from __future__ import annotations

from datetime import datetime

from satchel.errors import NotModified, PreconditionFailed
from satchel.types import GetOptions, ObjectMeta

__all__ = ["check_get_preconditions", "etag_matches"]


def etag_matches(condition: str, etag: str | None) -> bool:
    """Return True if ``etag`` satisfies an ``If-Match``-style condition (``*`` or a comma-separated list)."""
    if condition.strip() == "*":
        return True
    if etag is None:
        return False
    bare = etag.strip('"')
    return any(candidate.strip().removeprefix("W/").strip('"') == bare for candidate in condition.split(","))


def _seconds(moment: datetime) -> int:
    # HTTP dates have second precision: compare whole seconds so a round-tripped Last-Modified matches.
    return int(moment.timestamp())


def check_get_preconditions(meta: ObjectMeta, options: GetOptions, *, backend: str) -> None:
    """Evaluate the conditions of ``options`` against ``meta`` in the order RFC 9110 gives.

    Raises:
        PreconditionFailed: ``if_match`` or ``if_unmodified_since`` does not hold.
        NotModified: ``if_none_match`` or ``if_modified_since`` says the caller's copy is current.
    """
    key = meta.key
    if options.if_match is not None:
        if not etag_matches(options.if_match, meta.etag):
            raise PreconditionFailed("etag does not match if_match", key=key, operation="get", backend=backend)
    elif options.if_unmodified_since is not None and _seconds(meta.last_modified) > _seconds(
        options.if_unmodified_since
    ):
        raise PreconditionFailed("object modified since if_unmodified_since", key=key, operation="get", backend=backend)
    if options.if_none_match is not None:
        if etag_matches(options.if_none_match, meta.etag):
            raise NotModified("etag matches if_none_match", key=key, operation="get", backend=backend)
    elif options.if_modified_since is not None and _seconds(meta.last_modified) <= _seconds(options.if_modified_since):
        raise NotModified("object not modified since if_modified_since", key=key, operation="get", backend=backend)
