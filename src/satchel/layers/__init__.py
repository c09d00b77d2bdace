"""Layers: Backends that wrap a Backend to add one feature (compression, expiration, retry, metrics, ...)."""

from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.metrics import MetricsBackend, MetricsLayer, NoOpMetricsBackend
from satchel.layers.prefix import PrefixLayer
from satchel.layers.readonly import ReadOnlyLayer
from satchel.layers.retry import RetryLayer

__all__ = [
    "CompressionLayer",
    "ExpirationLayer",
    "MetricsBackend",
    "MetricsLayer",
    "NoOpMetricsBackend",
    "PrefixLayer",
    "ReadOnlyLayer",
    "RetryLayer",
]
