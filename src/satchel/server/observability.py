"""Prometheus metrics and structured access logs of the server.

Metrics live in a registry of their own per app (two apps in one process do not mix their counts) and are
served at ``/metrics``: requests by route template, method and status, their latency, bytes received and
sent, requests in flight, and objects expired by the sweeper.

Access logs go to the ``satchel.server.access`` logger, one JSON object per request. They carry the method,
the route template, the path without its query string (where tokens and signatures travel), the status, the
bytes and the duration; never a header value.
"""

from __future__ import annotations

import json
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "Observability"]

_access = logging.getLogger("satchel.server.access")
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Observability:
    """The server's counters and its access log."""

    def __init__(self, *, access_log: bool = True) -> None:
        self.registry = CollectorRegistry()
        self.access_log = access_log
        self.requests = Counter(
            "satchel_requests", "HTTP requests answered", ("route", "method", "status"), registry=self.registry
        )
        self.latency = Histogram(
            "satchel_request_duration_seconds",
            "Time to answer a request (until the response body is sent)",
            ("route", "method"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.bytes_in = Counter("satchel_bytes_received", "Request body bytes received", registry=self.registry)
        self.bytes_out = Counter("satchel_bytes_sent", "Response body bytes sent", registry=self.registry)
        self.in_flight = Gauge("satchel_requests_in_flight", "Requests being answered", registry=self.registry)
        self.expired = Counter(
            "satchel_objects_expired", "Expired objects deleted by the sweeper", registry=self.registry
        )
        # The labelled children by (route, method, status): looking them up in prometheus_client on every
        # request costs more than counting. Routes are templates and methods a fixed set, so this stays small.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.refused = Counter(
            "satchel_requests_refused_overload",
            "Requests answered 503 because too many were in flight",
            registry=self.registry,
        )

    def record(self, route: str, method: str, path: str, status: int, received: int, sent: int, seconds: float) -> None:
        """Count one answered request and write its access-log line."""
        children = self._children.get((route, method, status))
        if children is None:
            children = self._children[route, method, status] = (
                self.requests.labels(route, method, str(status)),
                self.latency.labels(route, method),
            )
        children[0].inc()
        children[1].observe(seconds)
        if received:
            self.bytes_in.inc(received)
        if sent:
            self.bytes_out.inc(sent)
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
