"""Storage metrics, as ``objectstore_client.metrics`` (0.0.9) records them.

Every value goes to :meth:`MetricsBackend.distribution`, tagged ``usecase``:

* ``storage.<op>.latency``: seconds the operation took (no unit, as the original).
* ``storage.<op>.size``, unit ``byte``: the uncompressed size (tag ``compression=none``) and the compressed
  size (tag ``compression=<encoding>``).
* ``storage.<op>.compression_ratio``: compressed / uncompressed, tag ``compression``.
* ``storage.<op>.throughput`` (bytes per second) and ``storage.<op>.inverse_throughput`` (seconds per byte),
  once per known size, tagged with that size's ``compression``.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

__all__ = ["MetricsBackend", "NoOpMetricsBackend", "StorageMetricEmitter", "measure_storage_operation"]


@runtime_checkable
class MetricsBackend(Protocol):
    """An abstract class that defines the interface for metrics backends."""

    @abstractmethod
    def distribution(
        self, name: str, value: int | float, tags: Mapping[str, str] | None = None, unit: str | None = None
    ) -> None:
        """Records a distribution metric."""
        raise NotImplementedError


class NoOpMetricsBackend(MetricsBackend):
    """Default metrics backend that does not record anything."""

    def distribution(
        self, name: str, value: int | float, tags: Mapping[str, str] | None = None, unit: str | None = None
    ) -> None:
        """Records a distribution metric (here: drops it)."""


class StorageMetricEmitter:
    """Records the metrics of one storage operation; sizes may be learnt while the operation runs."""

    def __init__(self, backend: MetricsBackend, operation: str, usecase: str) -> None:
        """Emit to ``backend`` under ``storage.<operation>.*``, tagged with ``usecase``."""
        self.backend = backend
        self.operation = operation
        self.usecase = usecase
        self.elapsed: float | None = None
        self.uncompressed_size: int | None = None
        self.compressed_size: int | None = None
        self.compression = "unknown"

    def record_latency(self, elapsed: float) -> None:
        """Record ``storage.<op>.latency`` in seconds."""
        self.backend.distribution(f"storage.{self.operation}.latency", elapsed, tags={"usecase": self.usecase})
        self.elapsed = elapsed

    def record_uncompressed_size(self, value: int) -> None:
        """Record ``storage.<op>.size`` of the uncompressed bytes (tag ``compression=none``)."""
        tags = {"usecase": self.usecase, "compression": "none"}
        self.backend.distribution(f"storage.{self.operation}.size", value, tags=tags, unit="byte")
        self.uncompressed_size = value

    def record_compressed_size(self, value: int, compression: str = "unknown") -> None:
        """Record ``storage.<op>.size`` of the compressed bytes (tag ``compression=<compression>``)."""
        tags = {"usecase": self.usecase, "compression": compression}
        self.backend.distribution(f"storage.{self.operation}.size", value, tags=tags, unit="byte")
        self.compressed_size = value
        self.compression = compression

    def maybe_record_compression_ratio(self) -> None:
        """Record ``storage.<op>.compression_ratio`` (compressed / uncompressed) when both sizes are known."""
        if not self.uncompressed_size or not self.compressed_size:
            return
        self.backend.distribution(
            f"storage.{self.operation}.compression_ratio",
            self.compressed_size / self.uncompressed_size,
            tags={"usecase": self.usecase, "compression": self.compression},
        )

    def maybe_record_throughputs(self) -> None:
        """Record ``throughput`` and ``inverse_throughput`` for each known size once the latency is known."""
        if not self.elapsed or self.elapsed <= 0:
            return
        sizes = []
        if self.uncompressed_size:
            sizes.append((self.uncompressed_size, "none"))
        if self.compressed_size:
            sizes.append((self.compressed_size, self.compression))
        for size, compression in sizes:
            tags = {"usecase": self.usecase, "compression": compression}
            self.backend.distribution(f"storage.{self.operation}.throughput", size / self.elapsed, tags=tags)
            self.backend.distribution(f"storage.{self.operation}.inverse_throughput", self.elapsed / size, tags=tags)


@contextmanager
def measure_storage_operation(
    backend: MetricsBackend,
    operation: str,
    usecase: str,
    uncompressed_size: int | None = None,
    compressed_size: int | None = None,
    compression: str = "unknown",
) -> Generator[StorageMetricEmitter]:
    """Context manager which records the latency of the enclosed storage operation.

    Can also record the compressed or uncompressed size of an object, the compression ratio, the throughput,
    and the inverse throughput. Yields a :class:`StorageMetricEmitter` because for some operations (GET) the
    size is not known until the inside of the enclosed block. The latency is recorded even when the block
    raises.
    """
    emitter = StorageMetricEmitter(backend, operation, usecase)
    if uncompressed_size:
        emitter.record_uncompressed_size(uncompressed_size)
    if compressed_size:
        emitter.record_compressed_size(compressed_size, compression)
    start = time.monotonic()
    try:
        yield emitter
    finally:
        emitter.record_latency(time.monotonic() - start)
        emitter.maybe_record_compression_ratio()
        emitter.maybe_record_throughputs()
