"""ExpirationLayer: time to live and time to idle on any backend.

A put with ``PutOptions.expiration`` stores the policy and its deadline with the object
(``Attributes.expiration`` and ``Attributes.expires_at = now + delta``). From the deadline on, the object is
absent at once: get, head, copy and rename raise ``NotFound``, listings leave it out, a create-only write
succeeds and an update fails. :meth:`ExpirationLayer.sweep` deletes expired objects later.

Time to idle (objectstore spec a.9): every get and head is an access that moves the deadline to
``now + tti``, but only when the stored deadline is earlier than that by more than ``min(tti / 4, 24h)``, so
frequent reads do not rewrite metadata every time. The bump copies the key onto itself with the new
attributes, so it needs ``capabilities.copy``. The response carries the metadata from before the bump, and
a bump that fails leaves the read unharmed.

What it costs:

* A create-only or update write, a copy and a rename first head the keys they concern (one extra request).
* The first time the layer stamps an expiring object it writes a small marker object, ``.satchel-expiry-in-use``,
  at the root of its namespace (one head per process, one put per store). ``sweep`` lists nothing while the
  marker is absent: a store that never uses expiry is not walked every sweep. Where listings carry attributes
  (``capabilities.list_attributes``, as on a local folder), a store written before the marker was kept there may
  hold deadlines without it, so each layer's first whole-store sweep lists everything once and writes the
  marker if it meets a deadline. The marker key is reserved: the layer refuses it with ``InvalidPath`` and
  leaves it out of listings.
* When the inner backend's listings carry no attributes (S3, Azure), the layer cannot see deadlines in a
  listing: ``list``, ``list_with_delimiter`` and ``sweep`` head the marker once and, only when it exists, head
  every listed object (one extra request per object). Stores that never use expiry list at the backend's own
  speed.
* ``list_with_delimiter`` does not check its common prefixes: a prefix whose objects have all expired is
  listed until the sweep deletes them.
* A multipart upload's deadline counts from the start of the upload.

The clock must return timezone-aware datetimes, as the stored deadlines are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from satchel.backend import Backend, ForwardingBackend, GetResult, MultipartUpload, Payload
from satchel.errors import (
    InvalidPath,
    NotFound,
    NotModified,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
)
from satchel.path import Key
from satchel.types import (
    TTI,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    PutMode,
    PutOptions,
    PutResult,
)

__all__ = ["ExpirationLayer"]

_log = logging.getLogger(__name__)
_MAX_DEBOUNCE = timedelta(hours=24)
_HEAD = GetOptions(head=True)
MARKER = Key(".satchel-expiry-in-use")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ExpirationLayer(ForwardingBackend):
    """A layer that hides objects past their deadline, bumps time-to-idle deadlines and sweeps."""

    def __init__(self, inner: Backend, *, clock: Callable[[], datetime] = _utcnow) -> None:
        """Wrap ``inner``.

        Args:
            inner: the backend that stores the objects and their deadlines.
            clock: returns the current time, timezone-aware (tests inject a fake one).
        """
        super().__init__(inner)
        self._clock = clock
        self._marker_seen = False
        self._swept_all = False

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Store the object with its deadline (see :meth:`satchel.backend.Backend.put`).

        Raises:
            AlreadyExists: ``mode=CREATE`` and a live object has the key.
            PreconditionFailed: ``mode=UPDATE`` and the object changed, is missing or has expired.
        """
        self._own(key, "put")
        options = self._stamped(options)
        self._prepare_write(key, options.mode, "put")
        return self.inner.put(key, payload, options)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose object gets a deadline counted from now.

        Raises:
            PreconditionFailed: ``mode=UPDATE`` and the object has expired.
        """
        self._own(key, "put_multipart")
        options = self._stamped(options)
        self._prepare_write(key, options.mode, "put_multipart")
        return self.inner.put_multipart(key, options)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open a live object and bump its time-to-idle deadline when due.

        Raises:
            NotFound: the object does not exist or has expired.
            NotModified, PreconditionFailed, RangeNotSatisfiable: as the inner backend, for a live object.
        """
        if key == MARKER:
            raise self._reserved(key, "get")
        try:
            result = self.inner.get(key, options)
        except (NotModified, PreconditionFailed, RangeNotSatisfiable):
            self._require_live(key, "head" if options.head else "get")
            raise
        if result.meta.attributes.expires_at is None:  # most objects: nothing to check or bump
            return result
        if self._expired(result.meta):
            result.body.close()
            raise self._gone(key, "head" if options.head else "get")
        self._touch(key, result.meta)
        return result

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the live objects under ``prefix`` (see :meth:`satchel.backend.Backend.list`)."""
        heads = self._heads_needed()
        for meta in self.inner.list(prefix, offset):
            if meta.key != MARKER and self._live(meta, heads):
                yield meta

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return one level below ``prefix`` without the expired objects (common prefixes are not checked)."""
        heads = self._heads_needed()
        listing = self.inner.list_with_delimiter(prefix)
        live = [m for m in listing.objects if m.key != MARKER and self._live(m, heads)]
        return ListResult(live, listing.common_prefixes)

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy a live object; the copy keeps the source's deadline unless ``options.attributes`` replace it.

        Raises:
            NotFound: ``src`` does not exist or has expired.
            AlreadyExists: ``overwrite=False`` and a live object has the key ``dst``.
        """
        self._own(src, "copy")
        self._own(dst, "copy")
        self._require_live(src, "copy")
        if not options.overwrite:
            self._prepare_write(dst, PutMode.CREATE, "copy")
        self.inner.copy(src, dst, options)

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move a live object; the same errors as :meth:`copy`."""
        self._own(src, "rename")
        self._own(dst, "rename")
        self._require_live(src, "rename")
        if not options.overwrite:
            self._prepare_write(dst, PutMode.CREATE, "rename")
        self.inner.rename(src, dst, options)

    def sweep(self, prefix: str = "") -> int:
        """Delete the expired objects under ``prefix`` and return how many were deleted.

        Where the inner backend has conditional deletes, each delete names the etag that was seen expired, so
        an object rewritten in the meantime is kept. Elsewhere the object is checked again just before it is
        deleted, which narrows that race without closing it. A store where no expiring object was written is
        not listed (see the module's notes on the marker).
        """
        heads = not self.inner.capabilities.list_attributes
        if not self._marker_exists() and (heads or self._swept_all):
            return 0  # nothing was written here with a deadline (since this layer's first sweep)
        deleted = 0
        deadlines = False
        for listed in self.inner.list(prefix):
            if listed.key == MARKER:
                continue
            meta = self._head(Key.parse(listed.key)) if heads else listed
            if meta is None or meta.attributes.expires_at is None:
                continue
            deadlines = True
            if self._expired(meta) and self._remove(Key.parse(meta.key), meta):
                deleted += 1
        if not prefix:
            self._swept_all = True
        if deadlines:
            # Deadlines written before the marker was kept on every backend: later sweeps must look again.
            self._write_marker()
        return deleted

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` (see :meth:`satchel.backend.Backend.delete`); the marker key is refused."""
        for key in keys:
            self._own(key, "delete")
        self.inner.delete(keys, options)

    def _own(self, key: Key, operation: str) -> None:
        if key == MARKER:
            raise self._reserved(key, operation)

    def _reserved(self, key: Key, operation: str) -> InvalidPath:
        return InvalidPath(
            "this key is reserved by the expiration layer", key=key, operation=operation, backend=self.name
        )

    def _heads_needed(self) -> bool:
        return not self.inner.capabilities.list_attributes and self._marker_exists()

    def _marker_exists(self) -> bool:
        # Only a positive answer is cached: another process may write the marker at any time, but nothing
        # removes it.
        if not self._marker_seen:
            self._marker_seen = self._head(MARKER) is not None
        return self._marker_seen

    def _write_marker(self) -> None:
        if self._marker_seen:
            return
        if not self._marker_exists():
            self.inner.put(MARKER, b"", PutOptions())
            self._marker_seen = True

    def _stamped(self, options: PutOptions) -> PutOptions:
        policy = options.expiration
        if policy is None:
            return options
        # Before the object itself: an expiring object must never exist without the marker that makes
        # listings look for deadlines.
        self._write_marker()
        expires_at = self._clock() + policy.delta
        attributes = replace(options.attributes, expiration=policy, expires_at=expires_at)
        return replace(options, expiration=None, attributes=attributes)

    def _expired(self, meta: ObjectMeta) -> bool:
        expires_at = meta.attributes.expires_at
        return expires_at is not None and expires_at <= self._clock()

    def _head(self, key: Key) -> ObjectMeta | None:
        try:
            result = self.inner.get(key, _HEAD)
        except NotFound:
            return None
        result.body.close()
        return result.meta

    def _live(self, meta: ObjectMeta, heads: bool) -> bool:
        full = self._head(Key.parse(meta.key)) if heads else meta
        return full is not None and not self._expired(full)

    def _gone(self, key: Key, operation: str) -> NotFound:
        return NotFound("no such object (it has expired)", key=key, operation=operation, backend=self.name)

    def _require_live(self, key: Key, operation: str) -> None:
        meta = self._head(key)
        if meta is None:
            raise NotFound("no such object", key=key, operation=operation, backend=self.name)
        if self._expired(meta):
            raise self._gone(key, operation)

    def _prepare_write(self, key: Key, mode: PutMode, operation: str) -> None:
        # The inner backend still holds an expired object: a create must not see it and an update must not
        # bring it back.
        if mode is PutMode.OVERWRITE:
            return
        meta = self._head(key)
        if meta is None or not self._expired(meta):
            return
        if mode is PutMode.UPDATE:
            raise PreconditionFailed("the object has expired", key=key, operation=operation, backend=self.name)
        self._remove(key, meta)

    def _remove(self, key: Key, seen: ObjectMeta) -> bool:
        if self.inner.capabilities.conditional_delete and seen.etag is not None:
            try:
                self.inner.delete([key], DeleteOptions(if_match=seen.etag))
            except PreconditionFailed:
                return False
            return True
        current = self._head(key)
        if current is None or not self._expired(current):
            return False
        self.inner.delete([key])
        return True

    def _touch(self, key: Key, meta: ObjectMeta) -> None:
        policy = meta.attributes.expiration
        expires_at = meta.attributes.expires_at
        if not isinstance(policy, TTI) or expires_at is None:
            return
        bumped = self._clock() + policy.delta
        if expires_at >= bumped - min(policy.delta / 4, _MAX_DEBOUNCE):
            return
        attributes = replace(meta.attributes, expires_at=bumped)
        try:
            self.inner.copy(key, key, CopyOptions(attributes=attributes))
        except SatchelError as err:
            # The read already succeeded; a lost bump only shortens the object's life to its old deadline.
            _log.debug("time-to-idle bump of %r failed: %s", key, err)
