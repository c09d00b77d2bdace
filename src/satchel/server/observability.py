"""Prometheus metrics and structured access logs of the server.

Metrics live in a registry of their own per app (two apps in one process do not mix their counts) and are
served at ``/metrics``: requests by route template, method and status, their latency, bytes received and
sent, requests in flight, and objects expired by the sweeper.

The per-request figures are kept in plain ints and lists, and turned into metric families only when
``/metrics`` is scraped (:class:`_RequestCollector`): prometheus_client's own counters take a lock and walk
their buckets on every update, which cost several percent of a small request's CPU. The event loop is the
only writer, so nothing needs a lock.

Access logs go to the ``satchel.server.access`` logger, one JSON object per request. They carry the method,
the route template, the path without its query string (where tokens and signatures travel), the status, the
bytes and the duration; never a header value.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "Observability"]

_access = logging.getLogger("satchel.server.access")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BUCKET_LABELS = [*(str(float(bound)) for bound in _BUCKETS), "+Inf"]


class _Latency:
    """One histogram series: the count in each bucket (the last one past every bound) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.total = 0.0


class Observability:
    """The server's counters and its access log."""

    def __init__(self, *, access_log: bool = True) -> None:
        self.registry = CollectorRegistry()
        self.access_log = access_log
        self.requests: dict[tuple[str, str, int], int] = {}
        """Requests answered, by (route template, method, status)."""
        self.latency: dict[tuple[str, str], _Latency] = {}
        """Time to answer, by (route template, method)."""
        self.bytes_in = 0
        self.bytes_out = 0
        self.in_flight = 0
        self.registry.register(_RequestCollector(self))
        self.expired = Counter(
            "satchel_objects_expired", "Expired objects deleted by the sweeper", registry=self.registry
        )
        self.refused = Counter(
            "satchel_requests_refused_overload",
            "Requests answered 503 because too many were in flight",
            registry=self.registry,
        )

    def record(self, route: str, method: str, path: str, status: int, received: int, sent: int, seconds: float) -> None:
        """Count one answered request and write its access-log line."""
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        latency = self.latency.get((route, method))
        if latency is None:
            latency = self.latency[route, method] = _Latency()
        latency.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1  # bounds are inclusive ("le")
        latency.total += seconds
        self.bytes_in += received
        self.bytes_out += sent
        if self.access_log and _access.isEnabledFor(logging.INFO):
            line = {
                "method": method,
                "route": route,
                "path": path,
                "status": status,
                "bytes_in": received,
                "bytes_out": sent,
                "ms": round(seconds * 1000, 3),
            }
            _access.info(json.dumps(line, ensure_ascii=False))

    def exposition(self) -> bytes:
        """Return the metrics in Prometheus' text format."""
        return generate_latest(self.registry)


class _RequestCollector(Collector):
    """The per-request metrics of an :class:`Observability`, as metric families at scrape time."""

    def __init__(self, source: Observability) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        """Yield the request counts, the latency histograms, the byte counts and the requests in flight."""
        source = self.source
        requests = CounterMetricFamily(
            "satchel_requests", "HTTP requests answered", labels=("route", "method", "status")
        )
        for (route, method, status), count in list(source.requests.items()):
            requests.add_metric((route, method, str(status)), count)
        yield requests
        latency = HistogramMetricFamily(
            "satchel_request_duration_seconds",
            "Time to answer a request (until the response body is sent)",
            labels=("route", "method"),
        )
        for (route, method), series in list(source.latency.items()):
            cumulative, running = [], 0
            for label, count in zip(_BUCKET_LABELS, series.counts, strict=True):
                running += count
                cumulative.append((label, running))
            latency.add_metric((route, method), cumulative, series.total)
        yield latency
        yield CounterMetricFamily("satchel_bytes_received", "Request body bytes received", value=source.bytes_in)
        yield CounterMetricFamily("satchel_bytes_sent", "Response body bytes sent", value=source.bytes_out)
        yield GaugeMetricFamily("satchel_requests_in_flight", "Requests being answered", value=source.in_flight)
