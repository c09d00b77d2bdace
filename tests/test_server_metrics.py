"""The server's metrics: what ``Observability.record`` counts is what ``/metrics`` exposes, in Prometheus' format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

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
