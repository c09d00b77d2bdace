"""RetryLayer: tries a call again when its error says that may help.

Only errors with ``retryable=True`` are retried (``TransientError`` and what backends mark so), at most
``attempts`` times in all, sleeping an exponential backoff with jitter between tries, never longer than
``max_backoff``. What is replayed:

* A put replays bytes-like payloads; a stream only when it is seekable (the layer notes ``tell()`` before the
  first try and seeks back before each retry). Other streams are tried once, as part of them is gone.
* A get retries the call that opens the body; reads from the body are not retried.
* A listing that fails midway resumes after the last key it yielded, so nothing is yielded twice; the count
  of attempts starts again after every key yielded.
* Multipart parts are retried one by one.

A retry cannot know whether a failed try took effect: a create-only put whose answer was lost raises
``AlreadyExists`` on its retry, and a rename whose delete step failed raises ``NotFound``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from satchel.backend import (
    BYTES_LIKE,
    Backend,
    ForwardingBackend,
    ForwardingUpload,
    GetResult,
    MultipartUpload,
    Payload,
)
from satchel.errors import ConfigError, SatchelError
from satchel.layers._streams import SeekableStream
from satchel.path import Key
from satchel.types import CopyOptions, DeleteOptions, GetOptions, ListResult, ObjectMeta, Part, PutOptions, PutResult

__all__ = ["RetryLayer"]

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


def _stay() -> None:
    pass


class RetryLayer(ForwardingBackend):
    """A layer that retries calls failing with retryable errors, with bounded exponential backoff."""

    def __init__(
        self,
        inner: Backend,
        *,
        attempts: int = 3,
        backoff: float = 0.05,
        max_backoff: float = 2.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        """Wrap ``inner``.

        Args:
            inner: the backend whose calls are retried.
            attempts: how many times a call is tried in all (1 disables retries).
            backoff: the sleep before the first retry, in seconds; it doubles on each retry.
            max_backoff: the longest sleep between two tries, in seconds.
            sleep: sleeps that many seconds (tests inject one that records).

        Raises:
            ConfigError: ``attempts`` is below 1, or a backoff is negative.
        """
        super().__init__(inner)
        if attempts < 1:
            raise ConfigError(f"attempts must be at least 1, got {attempts}")
        if backoff < 0 or max_backoff < 0:
            raise ConfigError("backoff and max_backoff must not be negative")
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write, retrying when the payload can be replayed (see :meth:`satchel.backend.Backend.put`)."""
        rewind = _rewinder(payload)
        # The first try is a plain call, as in get: most writes succeed at once.
        try:
            return self.inner.put(key, payload, options)
        except SatchelError as err:
            if not err.retryable or rewind is None or self.attempts < 2:
                raise
            self._pause(1, err)
            try:
                rewind()
            except (OSError, ValueError):
                raise err from None
        return self._run(lambda: self.inner.put(key, payload, options), rewind, first_attempt=2)

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose every step is retried on its own."""
        upload = self._run(lambda: self.inner.put_multipart(key, options))
        return _RetryingUpload(upload, self)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object, retrying the opening call."""
        try:
            return self.inner.get(key, options)
        except SatchelError as err:
            if not err.retryable or self.attempts < 2:
                raise
            self._pause(1, err)
        return self._run(lambda: self.inner.get(key, options), first_attempt=2)

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys``, retrying (deleting a missing key is not an error, so a retry is safe)."""
        self._run(lambda: self.inner.delete(keys, options))

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects under ``prefix``, resuming after the last key yielded when a page fails."""
        last = offset
        attempt = 1
        pages: Iterator[ObjectMeta] | None = None
        while True:
            try:
                if pages is None:
                    pages = iter(self.inner.list(prefix, last))
                meta = next(pages, None)
            except SatchelError as err:
                if not err.retryable or attempt >= self.attempts:
                    raise
                self._pause(attempt, err)
                attempt += 1
                pages = None
                continue
            if meta is None:
                return
            last = meta.key
            attempt = 1
            yield meta

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return one level below ``prefix``, retrying."""
        return self._run(lambda: self.inner.list_with_delimiter(prefix))

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst``, retrying."""
        self._run(lambda: self.inner.copy(src, dst, options))

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst``, retrying."""
        self._run(lambda: self.inner.rename(src, dst, options))

    def _run(self, call: Callable[[], _T], rewind: Callable[[], object] | None = _stay, first_attempt: int = 1) -> _T:
        """Call ``call`` until it succeeds, fails for good or runs out of attempts.

        ``rewind`` runs before each retry to replay the payload; None means the call cannot be retried.
        ``first_attempt`` counts tries already made (a caller that tried once itself passes 2).
        """
        attempt = first_attempt
        while True:
            try:
                return call()
            except SatchelError as err:
                if not err.retryable or rewind is None or attempt >= self.attempts:
                    raise
                self._pause(attempt, err)
                attempt += 1
                try:
                    rewind()
                except (OSError, ValueError):
                    raise err from None

    def _pause(self, attempt: int, err: SatchelError) -> None:
        ceiling = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        # Half fixed, half random: retries from many clients spread out but still back off.
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret
        _log.debug("retrying after %s (attempt %d of %d, sleeping %.3fs)", err, attempt + 1, self.attempts, delay)
        self._sleep(delay)


def _rewinder(payload: Payload) -> Callable[[], object] | None:
    if isinstance(payload, BYTES_LIKE):
        return _stay
    if not isinstance(payload, SeekableStream):
        return None
    try:
        if not payload.seekable():
            return None
        position = payload.tell()
    except (OSError, ValueError):
        return None
    return lambda: payload.seek(position)


class _RetryingUpload(ForwardingUpload):
    def __init__(self, inner: MultipartUpload, layer: RetryLayer) -> None:
        super().__init__(inner)
        self._layer = layer

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        return self._layer._run(lambda: self.inner.put_part(number, data))

    def complete(self, parts: Sequence[Part]) -> PutResult:
        return self._layer._run(lambda: self.inner.complete(parts))

    def abort(self) -> None:
        self._layer._run(self.inner.abort)
