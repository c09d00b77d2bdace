"""MetricsLayer: latency, size and throughput of every operation, sent to a MetricsBackend.

The :class:`MetricsBackend` protocol is the one of Sentry's ``objectstore_client`` (a single
``distribution`` call), so a backend written for that client works here as well. For each operation the
layer records:

* ``satchel.<op>.latency`` (unit ``second``): the time the call took. For a get it runs until the body is
  open; for a listing it runs until the listing is exhausted or closed.
* ``satchel.<op>.size`` (unit ``byte``) and ``satchel.<op>.throughput`` (unit ``byte/second``) for the
  operations that move bytes: ``put``, ``put_part`` and ``get``. A streamed put counts the bytes as they are
  read. A get records them when its body is closed: the size is the number of bytes the caller read, and the
  throughput runs from the call to the close.

Every value carries the tags ``backend`` (the inner backend's name), ``operation`` and ``outcome`` (``ok``,
or the class name of the error raised). Operations are named ``put``, ``put_multipart``, ``put_part``,
``complete_multipart``, ``abort_multipart``, ``get``, ``head``, ``delete``, ``list``,
``list_with_delimiter``, ``copy`` and ``rename``.

A get's body and a streamed put's payload are wrapped to count the bytes, so they no longer expose a file
descriptor to zero-copy paths; a seekable payload stays seekable, so a retry layer below can still replay it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from satchel.backend import (
    BYTES_LIKE,
    Backend,
    ForwardingBackend,
    ForwardingUpload,
    GetResult,
    MultipartUpload,
    Payload,
)
from satchel.body import Body, ReadableStream
from satchel.errors import SatchelError
from satchel.layers._streams import SeekableStream
from satchel.path import Key
from satchel.types import CopyOptions, DeleteOptions, GetOptions, ListResult, ObjectMeta, Part, PutOptions, PutResult

__all__ = ["MetricsBackend", "MetricsLayer", "NoOpMetricsBackend"]

_T = TypeVar("_T")


@runtime_checkable
class MetricsBackend(Protocol):
    """Where metrics go: anything with a ``distribution`` method (statsd, Prometheus, Sentry, ...)."""

    def distribution(
        self, name: str, value: int | float, tags: Mapping[str, str] | None = None, unit: str | None = None
    ) -> None:
        """Record one value of the distribution ``name``."""
        ...


class NoOpMetricsBackend:
    """A MetricsBackend that records nothing."""

    def distribution(
        self, name: str, value: int | float, tags: Mapping[str, str] | None = None, unit: str | None = None
    ) -> None:
        """Drop the value."""


class MetricsLayer(ForwardingBackend):
    """A layer that records the latency, size and throughput of every operation."""

    def __init__(
        self, inner: Backend, metrics: MetricsBackend, *, timer: Callable[[], float] = time.perf_counter
    ) -> None:
        """Wrap ``inner``.

        Args:
            inner: the backend whose operations are measured.
            metrics: receives the values.
            timer: a monotonic clock in seconds (tests inject a fake one).
        """
        super().__init__(inner)
        self.metrics = metrics
        self._timer = timer

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Write and record the put's latency, size and throughput."""
        with _Measure(self, "put") as measure:
            if isinstance(payload, BYTES_LIKE):
                result = self.inner.put(key, payload, options)
                measure.size = memoryview(payload).nbytes
                return result
            counted = _CountingStream(payload)
            result = self.inner.put(key, counted, options)
            measure.size = counted.count
            return result

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose parts, completion and abort are measured."""
        with _Measure(self, "put_multipart"):
            return _MeasuredUpload(self.inner.put_multipart(key, options), self)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object; the size and throughput are recorded when the body is closed."""
        operation = "head" if options.head else "get"
        with _Measure(self, operation) as measure:
            result = self.inner.get(key, options)
        if not options.head:
            result.body = _CountingBody(result.body, self, measure.start)
        return result

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        """Delete ``keys`` and record the latency."""
        self._measured("delete", lambda: self.inner.delete(keys, options))

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        """Yield the objects under ``prefix``; the latency covers the whole listing."""
        with _Measure(self, "list"):
            yield from self.inner.list(prefix, offset)

    def list_with_delimiter(self, prefix: str) -> ListResult:
        """Return one level below ``prefix`` and record the latency."""
        return self._measured("list_with_delimiter", lambda: self.inner.list_with_delimiter(prefix))

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Copy ``src`` to ``dst`` and record the latency."""
        self._measured("copy", lambda: self.inner.copy(src, dst, options))

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        """Move ``src`` to ``dst`` and record the latency."""
        self._measured("rename", lambda: self.inner.rename(src, dst, options))

    def _latency(self, operation: str, outcome: str, elapsed: float) -> None:
        tags = self._tags(operation, outcome)
        self.metrics.distribution(f"satchel.{operation}.latency", elapsed, tags, "second")

    def _transfer(self, operation: str, outcome: str, elapsed: float, size: int) -> None:
        tags = self._tags(operation, outcome)
        self.metrics.distribution(f"satchel.{operation}.size", size, tags, "byte")
        if elapsed > 0:
            self.metrics.distribution(f"satchel.{operation}.throughput", size / elapsed, tags, "byte/second")

    def _tags(self, operation: str, outcome: str) -> dict[str, str]:
        return {"backend": self.inner.name, "operation": operation, "outcome": outcome}

    def _measured(self, operation: str, call: Callable[[], _T]) -> _T:
        with _Measure(self, operation):
            return call()


class _Measure:
    """Times the enclosed block and records it, with the outcome taken from the exception that left it."""

    def __init__(self, layer: MetricsLayer, operation: str) -> None:
        self._layer = layer
        self._operation = operation
        self.start = 0.0
        self.size: int | None = None

    def __enter__(self) -> _Measure:
        self.start = self._layer._timer()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        elapsed = self._layer._timer() - self.start
        # A generator closed early by its consumer ends with GeneratorExit: that is not a failure.
        outcome = "ok" if exc_type is None or issubclass(exc_type, GeneratorExit) else exc_type.__name__
        self._layer._latency(self._operation, outcome, elapsed)
        if self.size is not None:
            self._layer._transfer(self._operation, outcome, elapsed, self.size)


class _CountingStream:
    """Counts the bytes read from a put's payload; seeking (a retry's replay) moves the count with it."""

    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream
        self._seekable = isinstance(stream, SeekableStream) and stream.seekable()
        self._start = self._position = stream.tell() if isinstance(stream, SeekableStream) and self._seekable else 0

    @property
    def count(self) -> int:
        return self._position - self._start

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._position += len(data)
        return data

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if not isinstance(self._stream, SeekableStream) or not self._seekable:
            raise OSError("the payload stream is not seekable")
        self._position = self._stream.seek(offset, whence)
        return self._position


class _CountingBody(Body):
    """Counts the bytes read from a get's body and records them when it is closed."""

    def __init__(self, inner: Body, layer: MetricsLayer, start: float) -> None:
        super().__init__()
        self._inner = inner
        self.size = inner.size
        self._count = 0
        self._outcome = "ok"
        self._layer = layer
        self._start = start
        self.add_close_callback(self._record)

    def _read(self, n: int) -> bytes:
        return self._counted(lambda: self._inner.read(n))

    def readall(self) -> bytes:
        if self.closed:
            raise ValueError("read from a closed body")
        return self._counted(self._inner.readall)

    def _counted(self, read: Callable[[], bytes]) -> bytes:
        try:
            data = read()
        except SatchelError as err:
            self._outcome = type(err).__name__
            raise
        self._count += len(data)
        return data

    def _close(self) -> None:
        self._inner.close()

    def _record(self) -> None:
        self._layer._transfer("get", self._outcome, self._layer._timer() - self._start, self._count)


class _MeasuredUpload(ForwardingUpload):
    def __init__(self, inner: MultipartUpload, layer: MetricsLayer) -> None:
        super().__init__(inner)
        self._layer = layer

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        with _Measure(self._layer, "put_part") as measure:
            part = self.inner.put_part(number, data)
            measure.size = memoryview(data).nbytes
            return part

    def complete(self, parts: Sequence[Part]) -> PutResult:
        return self._layer._measured("complete_multipart", lambda: self.inner.complete(parts))

    def abort(self) -> None:
        self._layer._measured("abort_multipart", self.inner.abort)
