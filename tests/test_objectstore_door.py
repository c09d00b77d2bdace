"""satchel.objectstore: the objectstore client API of the reference document (0.0.8/0.0.9), over HTTP.

Runs against a real ``satchel serve`` over a local folder and over an S3 bucket on moto, checks the wire form
against a capturing HTTP server, and exchanges objects with the real ``objectstore_client`` 0.2.10.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import random
import secrets
import threading
import tracemalloc
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import objectstore_client
import pytest
import urllib3
import zstandard

import servers
from satchel.objectstore import (
    Client,
    GetResult,
    Metadata,
    MetricsBackend,
    NoOpMetricsBackend,
    RequestError,
    Session,
    TimeToIdle,
    TimeToLive,
    Usecase,
    format_expiration,
    measure_storage_operation,
    parse_expiration,
)
from satchel.objectstore.metadata import itertools_batched
from satchel.testing import RecordingMetrics

USECASE = "attachments"
MiB = 1024 * 1024


def _payload(size: int, seed: int = 0) -> bytes:
    """Compressible but not trivial bytes: random words."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 9)).hex().encode() for _ in range(64)]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


# --- servers ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request: pytest.FixtureRequest) -> Iterator[servers.Server]:
    """``satchel serve`` over a local folder, or over an S3 bucket on moto (options as the door_url fixture's)."""
    store = None
    if request.param == "s3":
        moto: servers.Server = request.getfixturevalue("moto_server")
        bucket = f"door-{secrets.token_hex(6)}"
        made = urllib3.PoolManager(retries=False).request("PUT", f"{moto.endpoint}/{bucket}")
        assert made.status == 200, made.data
        query = urllib.parse.urlencode(
            {
                "endpoint_url": moto.endpoint,
                "region": "us-east-1",
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }
        )
        store = f"s3://{bucket}?{query}"
    try:
        started = servers.start_satchel(store=store)
    except servers.ServerFailed as failure:
        pytest.fail(f"satchel serve did not start: {failure}", pytrace=False)
    try:
        yield started
    finally:
        servers.stop(started)


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def client(server: servers.Server, metrics: RecordingMetrics) -> Client:
    return Client(server.endpoint, metrics_backend=metrics)


@pytest.fixture
def org() -> str:
    """A fresh organization id: each test writes under its own scope."""
    return str(random.randrange(10**12))


@pytest.fixture
def session(client: Client, org: str) -> Session:
    return client.session(Usecase(USECASE), org=org, project=1337)


# --- put / get ------------------------------------------------------------------------------------------------


def test_put_without_id_returns_a_generated_id_and_get_returns_the_bytes(session: Session) -> None:
    data = _payload(300_000)
    first = session.put(data)
    second = session.put(data)
    assert first
    assert second
    assert first != second
    result = session.get(first)
    assert isinstance(result, GetResult)
    metadata, payload = result  # a NamedTuple: (metadata, payload)
    assert payload.read() == data
    assert metadata.compression is None  # decompressed for us
    assert metadata.content_type == "application/octet-stream"
    assert metadata.expiration_policy is None
    assert metadata.custom == {}


def test_default_compression_is_zstd_on_the_wire(session: Session) -> None:
    data = _payload(200_000, seed=1)
    key = session.put(data)
    raw = session.get(key, decompress=False)
    assert raw.metadata.compression == "zstd"
    stored = raw.payload.read()
    assert len(stored) < len(data) // 2
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(stored)).read() == data


@pytest.mark.parametrize("how", ["per-call", "usecase"])
def test_compression_none_stores_the_bytes_as_they_are(client: Client, org: str, how: str) -> None:
    data = _payload(50_000, seed=2)
    if how == "per-call":
        session = client.session(Usecase(USECASE), org=org)
        key = session.put(data, compression="none")
    else:
        session = client.session(Usecase(USECASE, compression="none"), org=org)
        key = session.put(data)
    raw = session.get(key, decompress=False)
    assert raw.metadata.compression is None
    assert raw.payload.read() == data
    assert session.get(key).payload.read() == data


def test_per_call_zstd_overrides_a_usecase_without_compression(client: Client, org: str) -> None:
    session = client.session(Usecase(USECASE, compression="none"), org=org)
    key = session.put(_payload(10_000), compression="zstd")
    assert session.get(key, decompress=False).metadata.compression == "zstd"


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_put_streams_from_a_file_like_object(session: Session, compression: str) -> None:
    data = _payload(3 * MiB + 17, seed=3)
    key = session.put(io.BytesIO(data), compression=compression)  # type: ignore[arg-type]
    assert session.get(key).payload.read() == data


@pytest.mark.parametrize(
    "key",
    [
        "plain",
        "nested/path/segments",
        "with space",
        "café-unicode",
        "emoji-😀",
        "sub!$'()*+,=delims",
        "100%literal-percent",
        "looks%20encoded",
        "semi;colon",
        "equals=sign",
        "colon:separated",
        "at@sign",
    ],
)
def test_put_with_an_id_uses_it_exactly(session: Session, key: str) -> None:
    assert session.put(key.encode(), id=key, compression="none") == key
    assert session.get(key).payload.read() == key.encode()


def test_empty_id_means_a_generated_one(session: Session) -> None:
    key = session.put(b"x", id="")
    assert key
    assert session.get(key).payload.read() == b"x"


def test_put_overwrites_payload_and_metadata(session: Session) -> None:
    session.put(b"one", id="k", metadata={"a": "1"}, expiration_policy=TimeToLive(timedelta(hours=1)))
    session.put(b"two", id="k", content_type="text/plain")
    result = session.get("k")
    assert result.payload.read() == b"two"
    assert result.metadata == Metadata("text/plain", None, None, {})


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_empty_object(session: Session, compression: str) -> None:
    key = session.put(b"", compression=compression)  # type: ignore[arg-type]
    assert session.get(key).payload.read() == b""


def test_content_type_and_unicode_metadata_round_trip(session: Session) -> None:
    custom = {"release": "vérsion-1.0-🚀", "note": "100% done", "plain": "ascii only", "Mixed-Case": "x"}
    key = session.put(b"{}", content_type="application/json; charset=utf-8", metadata=custom)
    metadata = session.get(key).metadata
    assert metadata.content_type == "application/json; charset=utf-8"
    # header names are case-insensitive: custom names come back lowercase
    assert metadata.custom == {name.lower(): value for name, value in custom.items()}


def test_metadata_name_that_is_not_a_header_name_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="header"):
        session.put(b"x", metadata={"bad name": "x"})


@pytest.mark.parametrize(
    "policy",
    [
        TimeToLive(timedelta(seconds=90)),
        TimeToIdle(timedelta(days=30, hours=1)),
        TimeToLive(timedelta(days=400, minutes=18, seconds=31)),
    ],
)
def test_expiration_policy_round_trips_through_metadata(session: Session, policy: TimeToIdle | TimeToLive) -> None:
    key = session.put(b"x", expiration_policy=policy)
    assert session.get(key).metadata.expiration_policy == policy


def test_usecase_expiration_policy_is_the_default_and_a_call_overrides_it(client: Client, org: str) -> None:
    default = TimeToIdle(timedelta(days=1))
    session = client.session(Usecase(USECASE, expiration_policy=default), org=org)
    assert session.get(session.put(b"x")).metadata.expiration_policy == default
    override = TimeToLive(timedelta(hours=2))
    assert session.get(session.put(b"x", expiration_policy=override)).metadata.expiration_policy == override


def test_get_of_a_missing_id_raises_request_error_404(session: Session) -> None:
    with pytest.raises(RequestError) as caught:
        session.get("never-written")
    assert caught.value.status == 404
    assert isinstance(caught.value.response, str)
    assert "404" in str(caught.value)


def test_payload_can_be_read_in_pieces_and_closed_early(session: Session) -> None:
    data = _payload(2 * MiB, seed=4)
    key = session.put(data)
    payload = session.get(key).payload
    head = payload.read(10)
    buffer = bytearray(100)
    assert payload.readinto(buffer) == 100  # type: ignore[attr-defined]
    assert head + bytes(buffer) == data[:110]
    payload.close()
    assert payload.closed
    with pytest.raises(ValueError, match="closed"):
        payload.read(1)
    # the connection went back (or was dropped): the pool keeps working
    for _ in range(3):
        with session.get(key).payload as stream:
            assert stream.read(5) == data[:5]
    assert session.get(key).payload.read() == data


def test_payload_reads_by_line_and_iterates(session: Session) -> None:
    key = session.put(b"a\nbb\nccc")
    assert list(session.get(key).payload) == [b"a\n", b"bb\n", b"ccc"]


# --- delete ---------------------------------------------------------------------------------------------------


def test_delete_removes_and_is_idempotent(session: Session) -> None:
    key = session.put(b"bye")
    session.delete(key)
    with pytest.raises(RequestError) as caught:
        session.get(key)
    assert caught.value.status == 404
    session.delete(key)  # a missing object: no error


# --- object_url -----------------------------------------------------------------------------------------------


def test_object_url_is_fetchable_with_urllib3(server: servers.Server, session: Session, org: str) -> None:
    data = _payload(20_000, seed=5)
    key = session.put(data, id="dir/a b%c", compression="none", content_type="text/plain")
    url = session.object_url(key)
    assert url == f"{server.endpoint}/v1/objects/{USECASE}/org={org};project=1337/dir/a%20b%25c"
    response = urllib3.PoolManager().request("GET", url)
    assert response.status == 200
    assert response.data == data
    assert response.headers["content-type"] == "text/plain"


def test_object_url_serves_a_compressed_object_compressed(session: Session) -> None:
    data = _payload(20_000, seed=6)
    url = session.object_url(session.put(data))
    response = urllib3.PoolManager().request("GET", url, decode_content=False)
    assert response.headers["content-encoding"] == "zstd"
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(response.data)).read() == data


def test_object_url_keeps_the_base_path_and_needs_no_server() -> None:
    session = Client("https://objects.example:8443/api/os/").session(Usecase("u"), a=1)
    assert session.object_url("k é") == "https://objects.example:8443/api/os/v1/objects/u/a=1/k%20%C3%A9"
    bare = Client("http://[::1]:9000").session(Usecase("u"))
    assert bare.object_url("k") == "http://[::1]:9000/v1/objects/u/_/k"


# --- scopes ---------------------------------------------------------------------------------------------------


def test_scope_order_matters(client: Client, org: str) -> None:
    usecase = Usecase(USECASE)
    client.session(usecase, org=org, project=1).put(b"x", id="k")
    assert client.session(usecase, org=org, project=1).get("k").payload.read() == b"x"
    with pytest.raises(RequestError) as caught:
        client.session(usecase, project=1, org=org).get("k")
    assert caught.value.status == 404


def test_scopes_namespace_objects(client: Client, org: str) -> None:
    usecase = Usecase(USECASE)
    client.session(usecase, org=org, project=1).put(b"one", id="k")
    client.session(usecase, org=org, project=2).put(b"two", id="k")
    assert client.session(usecase, org=org, project=1).get("k").payload.read() == b"one"
    assert client.session(usecase, org=org, project=2).get("k").payload.read() == b"two"
    with pytest.raises(RequestError):
        client.session(usecase, org=org).get("k")


def test_scope_values_are_str_of_ints_and_bools(client: Client, org: str) -> None:
    usecase = Usecase(USECASE)
    client.session(usecase, org=org, n=0, flag=True).put(b"x", id="k")
    assert client.session(usecase, org=org, n="0", flag="True").get("k").payload.read() == b"x"


def test_no_scopes(client: Client) -> None:
    session = client.session(Usecase(f"door-{secrets.token_hex(4)}"))
    key = session.put(b"unscoped")
    assert session.get(key).payload.read() == b"unscoped"
    assert "/_/" in session.object_url(key)


def test_every_admitted_character_but_star_is_accepted_by_the_server(client: Client, org: str) -> None:
    session = client.session(Usecase(USECASE), org=org, **{"Az09_-()$!+'": "Az09_-()$!+'"})
    assert session.get(session.put(b"x")).payload.read() == b"x"


def test_star_is_admitted_by_the_document_but_refused_by_the_protocol(client: Client, org: str) -> None:
    session = client.session(Usecase(USECASE), org=org, project="a*b")  # no error here, as documented
    with pytest.raises(RequestError) as caught:
        session.put(b"x")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "scopes",
    [
        {"org": ""},
        {"": "1"},
        {"org": "a.b"},
        {"org": "a/b"},
        {"org": "a b"},
        {"org": "a;b"},
        {"org": "a=b"},
        {"org": "é"},
        {"org": "%41"},
        {"or g": "1"},
        {"org.x": "1"},
        {"org": None},
    ],
)
def test_scope_violations_raise_value_error(client: Client, scopes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"[Ss]cope"):
        client.session(Usecase(USECASE), **scopes)


# --- Usecase and Client arguments -----------------------------------------------------------------------------


def test_usecase_defaults() -> None:
    usecase = Usecase("attachments")
    assert usecase.name == "attachments"
    assert usecase.compression == "zstd"
    assert usecase.expiration_policy is None


@pytest.mark.parametrize("name", ["", "a/b"])
def test_usecase_name_must_be_one_path_segment(name: str) -> None:
    with pytest.raises(ValueError, match="usecase"):
        Usecase(name)


def test_unknown_compression_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="compression"):
        Usecase("u", compression="gzip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compression"):
        session.put(b"x", compression="gzip")  # type: ignore[arg-type]


def test_connection_failures_surface_as_urllib3_errors() -> None:
    port = servers.free_port()
    session = Client(f"http://127.0.0.1:{port}", retries=0, timeout_ms=200).session(Usecase("u"))
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        session.put(b"x")


# --- metrics --------------------------------------------------------------------------------------------------


def _sizes(metrics: RecordingMetrics, name: str, compression: str) -> list[float]:
    return [value for value, tags, _ in metrics.named(name) if tags.get("compression") == compression]


def test_put_metrics_names_tags_units_and_values(session: Session, metrics: RecordingMetrics) -> None:
    data = _payload(500_000, seed=7)
    key = session.put(data)
    stored = len(session.get(key, decompress=False).payload.read())
    ((latency, latency_tags, latency_unit),) = metrics.named("storage.put.latency")
    assert latency > 0
    assert latency_tags == {"usecase": USECASE}
    assert latency_unit is None
    sizes = metrics.named("storage.put.size")
    assert sorted((value, tags["compression"], unit) for value, tags, unit in sizes) == sorted(
        [(len(data), "none", "byte"), (stored, "zstd", "byte")]
    )
    assert all(tags["usecase"] == USECASE for _, tags, _ in sizes)
    ((ratio, ratio_tags, _),) = metrics.named("storage.put.compression_ratio")
    assert ratio == pytest.approx(stored / len(data))
    assert ratio_tags == {"usecase": USECASE, "compression": "zstd"}
    throughputs = {tags["compression"]: value for value, tags, _ in metrics.named("storage.put.throughput")}
    assert throughputs == pytest.approx({"none": len(data) / latency, "zstd": stored / latency})
    inverse = {tags["compression"]: value for value, tags, _ in metrics.named("storage.put.inverse_throughput")}
    assert inverse == pytest.approx({"none": latency / len(data), "zstd": latency / stored})


def test_put_sizes_follow_the_payloads(session: Session, metrics: RecordingMetrics) -> None:
    lengths = [1, 10, 1_000, 100_000, 1_000_000]
    for length in lengths:
        session.put(io.BytesIO(_payload(length, seed=length)), compression="none")
    assert _sizes(metrics, "storage.put.size", "none") == lengths
    assert _sizes(metrics, "storage.put.size", "zstd") == []
    assert metrics.named("storage.put.compression_ratio") == []


def test_get_metrics_latency_then_sizes_at_the_end(session: Session, metrics: RecordingMetrics) -> None:
    data = _payload(400_000, seed=8)
    key = session.put(data)
    stored = len(session.get(key, decompress=False).payload.read())
    metrics.values.clear()
    payload = session.get(key).payload
    assert [name for name, *_ in metrics.values] == ["storage.get.latency"]  # sizes only once read
    payload.read(1000)
    assert len(metrics.values) == 1
    payload.read()
    assert _sizes(metrics, "storage.get.size", "none") == [len(data)]
    assert _sizes(metrics, "storage.get.size", "zstd") == [stored]
    assert all(unit == "byte" for _, _, unit in metrics.named("storage.get.size"))
    ((ratio, _, _),) = metrics.named("storage.get.compression_ratio")
    assert ratio == pytest.approx(stored / len(data))
    assert len(metrics.named("storage.get.throughput")) == 2
    payload.read()  # reading past the end again records nothing more
    assert len(metrics.named("storage.get.size")) == 2


def test_get_metrics_without_decompression_and_on_errors(session: Session, metrics: RecordingMetrics) -> None:
    key = session.put(_payload(10_000))
    metrics.values.clear()
    stored = len(session.get(key, decompress=False).payload.read())
    assert _sizes(metrics, "storage.get.size", "zstd") == [stored]
    assert _sizes(metrics, "storage.get.size", "none") == []
    metrics.values.clear()
    with pytest.raises(RequestError):
        session.get("missing")
    assert [name for name, *_ in metrics.values] == ["storage.get.latency"]


def test_delete_metrics(session: Session, metrics: RecordingMetrics) -> None:
    session.delete("whatever")
    ((_, tags, _),) = metrics.named("storage.delete.latency")
    assert tags == {"usecase": USECASE}
    assert [name for name, *_ in metrics.values] == ["storage.delete.latency"]


def test_measure_storage_operation_records_latency_even_on_errors() -> None:
    recorder = RecordingMetrics()
    with (
        pytest.raises(KeyError),
        measure_storage_operation(recorder, "op", "u", uncompressed_size=100, compressed_size=25, compression="zstd"),
    ):
        raise KeyError("boom")
    names = [name for name, *_ in recorder.values]
    assert names[:2] == ["storage.op.size", "storage.op.size"]
    assert "storage.op.latency" in names
    ((ratio, _, _),) = recorder.named("storage.op.compression_ratio")
    assert ratio == 0.25


def test_measure_storage_operation_with_sizes_learnt_inside() -> None:
    recorder = RecordingMetrics()
    with measure_storage_operation(recorder, "get", "u") as emitter:
        emitter.record_uncompressed_size(10)
    ((latency, _, _),) = recorder.named("storage.get.latency")
    ((throughput, tags, _),) = recorder.named("storage.get.throughput")
    assert throughput == pytest.approx(10 / latency)
    assert tags == {"usecase": "u", "compression": "none"}


def test_metrics_backends_follow_the_protocol() -> None:
    assert isinstance(NoOpMetricsBackend(), MetricsBackend)
    assert isinstance(RecordingMetrics(), MetricsBackend)
    NoOpMetricsBackend().distribution("x", 1, tags={"a": "b"}, unit="byte")
    assert not isinstance(object(), MetricsBackend)


# --- expiration formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (TimeToIdle(timedelta(days=30, hours=1)), "tti:30d 1h"),
        (TimeToLive(timedelta(seconds=90)), "ttl:1m 30s"),
        (TimeToLive(timedelta(days=400)), "ttl:400d"),
        (TimeToLive(timedelta(days=400, seconds=4711, microseconds=5)), "ttl:400d 1h 18m 31s"),
        (TimeToIdle(timedelta(0)), "tti:0s"),
    ],
)
def test_format_expiration(policy: TimeToIdle | TimeToLive, text: str) -> None:
    assert format_expiration(policy) == text
    assert parse_expiration(text) == type(policy)(timedelta(seconds=int(policy.delta.total_seconds())))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tti:30 days 3600 seconds", TimeToIdle(timedelta(days=30, hours=1))),  # the 0.0.9 format
        ("ttl:1 days", TimeToLive(timedelta(days=1))),
        ("ttl:2w", TimeToLive(timedelta(weeks=2))),
        ("ttl:1M", TimeToLive(timedelta(seconds=2_630_016))),
        ("ttl:1m", TimeToLive(timedelta(minutes=1))),
        ("ttl:1500ms", TimeToLive(timedelta(seconds=1.5))),
        ("manual", None),
        ("", None),
    ],
)
def test_parse_expiration(text: str, expected: TimeToIdle | TimeToLive | None) -> None:
    assert parse_expiration(text) == expected


@pytest.mark.parametrize("text", ["ttl:", "ttl:5 fortnights", "tti:d", "ttl:1d x", "ttl:-1d"])
def test_parse_expiration_refuses_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|unit"):
        parse_expiration(text)


def test_format_expiration_refuses_what_is_not_a_policy() -> None:
    with pytest.raises(TypeError):
        format_expiration("ttl:1d")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        format_expiration(TimeToLive(timedelta(seconds=-1)))


def test_itertools_batched() -> None:
    assert list(itertools_batched("abcde", 2)) == [("a", "b"), ("c", "d"), ("e",)]
    with pytest.raises(ValueError, match="shorter"):
        list(itertools_batched("abc", 2, strict=True))
    with pytest.raises(ValueError, match="at least one"):
        list(itertools_batched("abc", 0))


def test_request_error_keeps_its_fields_and_pickles() -> None:
    error = RequestError("failed", 503, "busy")
    assert (str(error), error.status, error.response) == ("failed", 503, "busy")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.status, copy.response) == ("failed", 503, "busy")


# --- flat memory ----------------------------------------------------------------------------------------------


class _Generated(io.RawIOBase):
    """A stream of ``size`` bytes made on the fly, never held whole."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.digest = hashlib.sha256()
        self.block = _payload(64 * 1024, seed=9)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self.block), self.left)
        view[:count] = self.block[:count]
        self.digest.update(self.block[:count])
        self.left -= count
        return count


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_put_and_get_stream_in_flat_memory(session: Session, compression: str) -> None:
    size = 24 * MiB
    source = _Generated(size)
    tracemalloc.start()
    try:
        key = session.put(source, compression=compression)  # type: ignore[arg-type]
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        read = 0
        with session.get(key).payload as payload:
            while chunk := payload.read(256 * 1024):
                digest.update(chunk)
                read += len(chunk)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert read == size
    assert digest.hexdigest() == source.digest.hexdigest()
    assert put_peak < 4 * MiB, put_peak
    assert get_peak < 4 * MiB, get_peak


# --- interop with the real objectstore_client 0.2.10 ----------------------------------------------------------


def test_objects_put_here_are_read_by_objectstore_client(server: servers.Server, session: Session, org: str) -> None:
    theirs = objectstore_client.Client(server.endpoint).session(
        objectstore_client.Usecase(USECASE), org=org, project=1337
    )
    data = _payload(100_000, seed=10)
    policy = TimeToIdle(timedelta(days=30, hours=1))
    custom = {"release": "vérsion-1.0-🚀", "note": "100% done"}
    for compression in ("zstd", "none"):
        key = session.put(
            data,
            compression=compression,
            content_type="text/plain",
            metadata=custom,
            expiration_policy=policy,
        )
        got = theirs.get(key)
        assert got is not None
        assert got.payload.read() == data
        assert got.metadata.content_type == "text/plain"
        assert got.metadata.custom == custom
        assert got.metadata.expiration_policy == objectstore_client.TimeToIdle(policy.delta)
        raw = theirs.get(key, decompress=False)
        assert raw is not None
        assert raw.metadata.compression == (None if compression == "none" else "zstd")
    key = session.put(b"odd", id="dir/a b%20c;d")
    got = theirs.get("dir/a b%20c;d")
    assert got is not None
    assert got.payload.read() == b"odd"
    session.delete(key)
    assert theirs.get(key) is None


def test_objects_put_by_objectstore_client_are_read_here(server: servers.Server, session: Session, org: str) -> None:
    theirs = objectstore_client.Client(server.endpoint).session(
        objectstore_client.Usecase(USECASE), org=org, project=1337
    )
    data = _payload(100_000, seed=11)
    custom = {"release": "vérsion-1.0-🚀", "note": "100% done"}
    key = theirs.put(
        data,
        content_type="text/csv",
        metadata=custom,
        expiration_policy=objectstore_client.TimeToLive(timedelta(days=400, seconds=4711)),
    )
    result = session.get(key)
    assert result.payload.read() == data
    assert result.metadata == Metadata("text/csv", None, TimeToLive(timedelta(days=400, seconds=4711)), custom)
    assert session.get(key, decompress=False).metadata.compression == "zstd"
    uncompressed = theirs.put(data, key="plain/key", compress="none")
    assert session.get(uncompressed, decompress=False).payload.read() == data
    theirs.delete(uncompressed)
    with pytest.raises(RequestError):
        session.get(uncompressed)


# --- the wire, as a capturing server sees it ------------------------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []
    get_headers: ClassVar[dict[str, str]] = {}
    get_body: ClassVar[bytes] = b""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(out)
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self._body()))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self._answer(200, json.dumps({"key": "captured"}).encode(), {"content-type": "application/json"})

    do_POST = do_PUT

    def do_GET(self) -> None:
        self._answer(200, self.get_body, self.get_headers)

    def do_DELETE(self) -> None:
        self._answer(204, b"", {})


@pytest.fixture
def capture() -> Iterator[str]:
    _Capture.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_wire_form_of_a_put(capture: str) -> None:
    client = Client(capture + "/prefix", connection_kwargs={"headers": {"User-Agent": "door-test"}})
    session = client.session(
        Usecase(USECASE, expiration_policy=TimeToIdle(timedelta(days=30, hours=1))), org=42, project=1337
    )
    assert session.put(b"hello", content_type="text/plain", metadata={"release": "vérsion 1.0", "note": "100% done"})
    assert session.put(b"x", id="nested/a b%20c", compression="none", expiration_policy=TimeToLive(timedelta(hours=1)))
    (method, path, headers, body), (method2, path2, headers2, body2) = _Capture.seen
    assert (method, path) == ("POST", "/prefix/v1/objects/attachments/org=42;project=1337/")
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-encoding"] == "zstd"
    assert headers["content-type"] == "text/plain"
    assert headers["x-sn-expiration"] == "tti:30d 1h"
    assert headers["x-snme-release"] == "v%C3%A9rsion 1.0"
    assert headers["x-snme-note"] == "100%25 done"
    assert headers["user-agent"] == "door-test"
    assert "sentry-trace" not in headers
    assert zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)).read() == b"hello"
    assert (method2, path2) == ("PUT", "/prefix/v1/objects/attachments/org=42;project=1337/nested/a%20b%2520c")
    assert "content-encoding" not in headers2
    assert headers2["x-sn-expiration"] == "ttl:1h"
    assert body2 == b"x"


def test_wire_form_of_get_delete_and_traces(capture: str) -> None:
    session = Client(capture, propagate_traces=True).session(Usecase(USECASE))
    _Capture.get_headers = {"content-type": "text/plain"}
    _Capture.get_body = b"body"
    assert session.get("k").payload.read() == b"body"
    session.delete("k")
    assert [(method, path) for method, path, _, _ in _Capture.seen] == [
        ("GET", "/v1/objects/attachments/_/k"),
        ("DELETE", "/v1/objects/attachments/_/k"),
    ]
    assert all("sentry-trace" in headers for _, _, headers, _ in _Capture.seen)


def test_get_reads_old_durations_raw_values_and_refuses_other_encodings(capture: str) -> None:
    session = Client(capture).session(Usecase(USECASE))
    _Capture.get_headers = {"x-sn-expiration": "ttl:1 days", "X-SNME-Name": "plain", "content-encoding": "gzip"}
    _Capture.get_body = b"gz"
    raw = session.get("k", decompress=False)
    expected = Metadata("application/octet-stream", None, TimeToLive(timedelta(days=1)), {"name": "plain"})
    expected.compression = "gzip"  # type: ignore[assignment]
    assert raw.metadata == expected
    assert raw.payload.read() == b"gz"
    with pytest.raises(NotImplementedError):
        session.get("k")
    assert session.get("k", decompress=False).payload.read() == b"gz"  # the connection survived the refusal
