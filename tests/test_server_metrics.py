"""The server's metrics: what ``Observability.record`` counts is what ``/metrics`` exposes, in Prometheus' format."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import urllib3
from prometheus_client.parser import text_string_to_metric_families

import servers
from satchel.server.observability import Observability

OBJECT = "/v1/objects/{usecase}/{scopes}/{key}"


def samples(observability: Observability) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and sorted labels, parsed back by prometheus_client."""
    text = observability.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_latency_and_bytes_are_exposed() -> None:
    observability = Observability(access_log=False)
    observability.record(OBJECT, "GET", "/v1/objects/u/_/a", 200, 0, 1024, 0.0004)
    observability.record(OBJECT, "GET", "/v1/objects/u/_/b", 200, 0, 2048, 0.003)
    observability.record(OBJECT, "GET", "/v1/objects/u/_/c", 404, 0, 40, 0.0025)  # on a bound: counted in it
    observability.record(OBJECT, "PUT", "/v1/objects/u/_/a", 200, 1024, 12, 75.0)  # past every bound
    observability.in_flight = 3
    got = samples(observability)
    route = ("route", OBJECT)
    assert got["satchel_requests_total", (("method", "GET"), route, ("status", "200"))] == 2
    assert got["satchel_requests_total", (("method", "GET"), route, ("status", "404"))] == 1
    assert got["satchel_requests_total", (("method", "PUT"), route, ("status", "200"))] == 1
    get = (("method", "GET"), route)
    buckets = {
        labels[0][1]: value for (name, labels), value in got.items() if name.endswith("_bucket") and labels[1:] == get
    }
    assert buckets["0.001"] == 1
    assert buckets["0.0025"] == 2
    assert buckets["0.005"] == 3
    assert buckets["+Inf"] == 3
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative, in the order of the bounds
    assert got["satchel_request_duration_seconds_count", get] == 3
    assert abs(got["satchel_request_duration_seconds_sum", get] - 0.0059) < 1e-9
    put = (("method", "PUT"), route)
    assert got["satchel_request_duration_seconds_bucket", (("le", "60.0"), *put)] == 0
    assert got["satchel_request_duration_seconds_bucket", (("le", "+Inf"), *put)] == 1
    assert got["satchel_bytes_received_total", ()] == 1024
    assert got["satchel_bytes_sent_total", ()] == 1024 + 2048 + 40 + 12
    assert got["satchel_requests_in_flight", ()] == 3


def test_two_apps_keep_their_own_counts() -> None:
    first, second = Observability(access_log=False), Observability(access_log=False)
    first.record(OBJECT, "GET", "/v1/objects/u/_/a", 200, 0, 1, 0.001)
    first.expired.inc(2)
    assert samples(first)["satchel_requests_total", (("method", "GET"), ("route", OBJECT), ("status", "200"))] == 1
    assert samples(first)["satchel_objects_expired_total", ()] == 2
    untouched = samples(second)
    assert not any(name == "satchel_requests_total" for name, _ in untouched)
    assert untouched["satchel_objects_expired_total", ()] == 0
    assert untouched["satchel_bytes_sent_total", ()] == 0


@pytest.fixture(scope="module")
def server() -> Iterator[servers.Server]:
    running = servers.start_satchel()
    yield running
    servers.stop(running)


def scraped(pool: urllib3.HTTPConnectionPool) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], int]:
    """Every sample ``/metrics`` of a running server exposes, by name and sorted labels; and the answer's size."""
    text = pool.request("GET", "/metrics").data.decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    return samples, len(text)


def test_a_server_counts_the_bytes_and_statuses_of_every_kind_of_answer(server: servers.Server) -> None:
    pool = urllib3.HTTPConnectionPool(server.host, server.port, retries=False)
    base = "/v1/objects/attachments/_/"
    small, large = os.urandom(1000), os.urandom(300 << 10)  # read whole on the loop, and streamed both ways
    before, scrape = scraped(pool)
    assert pool.request("PUT", base + "small", body=small).status == 200
    chunked = pool.urlopen("PUT", base + "large", body=iter([large[:1000], large[1000:]]), chunked=True)
    assert chunked.status == 200
    assert pool.request("GET", base + "small").data == small
    assert pool.request("GET", base + "large").data == large
    missing = pool.request("GET", base + "missing")
    refused = pool.request("PUT", base + "refused", body=b"x" * 77, headers={"Content-Encoding": "gzip"})
    after, _ = scraped(pool)

    def grew(name: str, labels: tuple[tuple[str, str], ...] = ()) -> float:
        return after[name, labels] - before.get((name, labels), 0.0)

    written = len(b'{"key":"small"}') + len(b'{"key":"large"}')
    assert grew("satchel_bytes_received_total") == len(small) + len(large) + 77  # a refused body is drained
    # The first scrape's own answer is counted once it is sent, after its figures were taken.
    answers = written + len(small) + len(large) + len(missing.data) + len(refused.data)
    assert grew("satchel_bytes_sent_total") == scrape + answers
    route = ("route", OBJECT)
    assert grew("satchel_requests_total", (("method", "PUT"), route, ("status", "200"))) == 2
    assert grew("satchel_requests_total", (("method", "GET"), route, ("status", "200"))) == 2
    assert grew("satchel_requests_total", (("method", "GET"), route, ("status", "404"))) == 1
    assert grew("satchel_requests_total", (("method", "PUT"), route, ("status", "400"))) == 1
