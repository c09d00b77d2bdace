"""Layer-specific behaviour of the layers; the conformance suite checks the Backend contract through them."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from satchel.backend import Backend, ForwardingBackend, GetResult, Payload
from satchel.backends.memory import MemoryBackend
from satchel.errors import (
    AlreadyExists,
    ConfigError,
    InvalidPath,
    NotFound,
    NotModified,
    NotSupported,
    PermissionDenied,
    PreconditionFailed,
    RangeNotSatisfiable,
    SatchelError,
    TransientError,
)
from satchel.layers import (
    CompressionLayer,
    ExpirationLayer,
    MetricsLayer,
    NoOpMetricsBackend,
    PrefixLayer,
    ReadOnlyLayer,
    RetryLayer,
)
from satchel.layers.expiration import MARKER
from satchel.path import Key
from satchel.testing import RecordingMetrics
from satchel.types import (
    TTI,
    TTL,
    Attributes,
    ByteRange,
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ObjectMeta,
    Part,
    PutMode,
    PutOptions,
    PutResult,
)

K = Key.parse
TEXT = b"".join(b"line %d of a fairly repetitive text\n" % i for i in range(5000))
ZSTD = PutOptions(compression="zstd")


def read(result: GetResult) -> bytes:
    with result.body as body:
        return body.read()


def get(backend: Backend, key: str, **options: object) -> bytes:
    return read(backend.get(K(key), GetOptions(**options)))  # type: ignore[arg-type]


def keys(backend: Backend, prefix: str = "") -> list[str]:
    return [meta.key for meta in backend.list(prefix)]


class Trickle:
    """A non-seekable stream that hands out at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self._data = data
        self._step = step
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        chunk, self._data = self._data[:n], self._data[n:]
        self.read_bytes += len(chunk)
        return chunk


# ---- compression -------------------------------------------------------------------------------------------


def test_compression_round_trip_bytes_records_zstd_and_compresses() -> None:
    inner = MemoryBackend()
    layer = CompressionLayer(inner)
    layer.put(K("a"), TEXT, ZSTD)
    result = layer.get(K("a"), GetOptions())
    assert read(result) == TEXT
    assert result.meta.attributes.compression == "zstd"
    assert result.meta.size < len(TEXT) / 10  # size is the stored size
    assert result.range == (0, len(TEXT))
    assert result.body.size == len(TEXT)


def test_compression_only_when_asked_or_by_default() -> None:
    inner = MemoryBackend()
    CompressionLayer(inner).put(K("plain"), TEXT, PutOptions())
    CompressionLayer(inner, default="zstd").put(K("auto"), TEXT, PutOptions())
    assert get(inner, "plain") == TEXT
    assert inner.get(K("auto"), GetOptions()).meta.attributes.compression == "zstd"


def test_compression_stream_of_unknown_length_sets_range_at_the_end() -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("s"), Trickle(TEXT), ZSTD)
    result = layer.get(K("s"), GetOptions())
    assert result.body.size is None
    assert result.range == (0, 0)
    assert read(result) == TEXT
    assert result.range == (0, len(TEXT))


def test_compression_seekable_stream_records_its_length() -> None:
    layer = CompressionLayer(MemoryBackend())
    stream = io.BytesIO(TEXT)
    stream.seek(10)
    layer.put(K("s"), stream, ZSTD)
    result = layer.get(K("s"), GetOptions(range=ByteRange.from_offset(5)))
    assert result.range == (5, len(TEXT) - 10)
    assert read(result) == TEXT[15:]


def test_compression_multipart_out_of_order_is_one_multi_frame_stream() -> None:
    inner = MemoryBackend()
    layer = CompressionLayer(inner)
    chunks = [TEXT[:7000], TEXT[7000:20000], TEXT[20000:]]
    upload = layer.put_multipart(K("m"), ZSTD)
    parts = [upload.put_part(n, chunks[n - 1]) for n in (3, 1, 2)]
    upload.complete(parts)
    assert get(layer, "m") == TEXT
    stored = get(inner, "m")
    reader = zstandard.ZstdDecompressor().stream_reader(stored, read_across_frames=True)
    assert reader.read() == TEXT
    ranged = layer.get(K("m"), GetOptions(range=ByteRange.bounded(6990, 7010)))
    assert read(ranged) == TEXT[6990:7010]
    assert ranged.range == (6990, 7010)


class MinPartSize(ForwardingBackend):
    """Declares a minimum part size, as S3 does (5 MiB there)."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(self.inner.capabilities, min_part_size=4096)


def test_compression_pads_parts_to_the_backend_minimum() -> None:
    inner = MemoryBackend()
    layer = CompressionLayer(MinPartSize(inner))
    upload = layer.put_multipart(K("m"), ZSTD)
    big, small = upload.put_part(1, TEXT[:10_000]), upload.put_part(2, TEXT[10_000:10_100])
    assert big.size >= 4096  # stored size, padded with a skippable frame
    assert small.size < 4096  # a final part may be short, and was short before compression
    upload.complete([big, small])
    assert get(layer, "m") == TEXT[:10_100]


def test_compression_decompress_false_returns_a_valid_zstd_frame() -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("a"), TEXT, ZSTD)
    stored = get(layer, "a", decompress=False)
    assert stored.startswith(zstandard.FRAME_HEADER)
    assert zstandard.ZstdDecompressor().decompress(stored) == TEXT
    assert get(layer, "a", decompress=False, range=ByteRange.bounded(0, 4)) == zstandard.FRAME_HEADER


def _expected(data: bytes, byte_range: ByteRange) -> tuple[tuple[int, int], bytes]:
    start, end = byte_range.resolve(len(data))
    return (start, end), data[start:end]


RANGES = [
    ByteRange.bounded(0, 1),
    ByteRange.bounded(100, 5000),
    ByteRange.bounded(len(TEXT) - 10, len(TEXT) + 1000),
    ByteRange.from_offset(12345),
    ByteRange.from_offset(len(TEXT) - 1),
    ByteRange.last(1),
    ByteRange.last(777),
    ByteRange.last(len(TEXT) * 2),
]


@pytest.mark.parametrize("streamed", [False, True], ids=["sized", "unsized"])
@pytest.mark.parametrize("byte_range", RANGES, ids=repr)
def test_compression_ranges_equal_slicing(byte_range: ByteRange, streamed: bool) -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("a"), Trickle(TEXT) if streamed else TEXT, ZSTD)
    result = layer.get(K("a"), GetOptions(range=byte_range))
    expected_range, expected = _expected(TEXT, byte_range)
    assert read(result) == expected
    assert result.range == expected_range


@pytest.mark.parametrize("streamed", [False, True], ids=["sized", "unsized"])
@pytest.mark.parametrize("byte_range", [ByteRange.from_offset(len(TEXT)), ByteRange.bounded(len(TEXT) + 5, 10**9)])
def test_compression_range_past_the_end_is_not_satisfiable(byte_range: ByteRange, streamed: bool) -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("a"), Trickle(TEXT) if streamed else TEXT, ZSTD)
    with pytest.raises(RangeNotSatisfiable) as caught:
        layer.get(K("a"), GetOptions(range=byte_range))
    assert (caught.value.key, caught.value.operation) == ("a", "get")


def test_compression_empty_object() -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("e"), b"", ZSTD)
    assert get(layer, "e") == b""
    for byte_range in (ByteRange.from_offset(0), ByteRange.last(3)):
        with pytest.raises(RangeNotSatisfiable):
            layer.get(K("e"), GetOptions(range=byte_range))


def test_compression_ranges_of_uncompressed_objects_pass_through() -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("p"), TEXT, PutOptions())
    result = layer.get(K("p"), GetOptions(range=ByteRange.bounded(3, 9)))
    assert (read(result), result.range) == (TEXT[3:9], (3, 9))
    with pytest.raises(RangeNotSatisfiable):
        layer.get(K("p"), GetOptions(range=ByteRange.from_offset(len(TEXT))))


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3000),
    start=st.integers(0, 3100),
    length=st.integers(1, 3100),
    kind=st.sampled_from(["bounded", "offset", "suffix", "whole"]),
    streamed=st.booleans(),
)
def test_compression_any_bytes_and_range(data: bytes, start: int, length: int, kind: str, streamed: bool) -> None:
    layer = CompressionLayer(MemoryBackend())
    layer.put(K("h"), Trickle(data, 97) if streamed else data, ZSTD)
    if kind == "whole":
        assert get(layer, "h") == data
        return
    byte_range = {
        "bounded": ByteRange.bounded(start, start + length),
        "offset": ByteRange.from_offset(start),
        "suffix": ByteRange.last(length),
    }[kind]
    try:
        expected_range, expected = _expected(data, byte_range)
    except RangeNotSatisfiable:
        with pytest.raises(RangeNotSatisfiable):
            layer.get(K("h"), GetOptions(range=byte_range))
        return
    result = layer.get(K("h"), GetOptions(range=byte_range))
    assert read(result) == expected
    assert result.range == expected_range


def test_compression_unknown_codec_in_metadata_is_not_supported() -> None:
    inner = MemoryBackend()
    inner.put(K("x"), b"data", PutOptions(attributes=Attributes(compression="lz4")))  # type: ignore[arg-type]
    with pytest.raises(NotSupported) as caught:
        CompressionLayer(inner).get(K("x"), GetOptions())
    assert (caught.value.key, caught.value.operation) == ("x", "get")


def test_compression_precompressed_payload_is_stored_verbatim() -> None:
    inner = MemoryBackend()
    layer = CompressionLayer(inner, default="zstd")
    frame = zstandard.ZstdCompressor().compress(TEXT)
    layer.put(K("c"), frame, PutOptions(attributes=Attributes(compression="zstd")))
    assert get(inner, "c") == frame
    assert get(layer, "c") == TEXT
    with pytest.raises(ConfigError):
        layer.put(K("c"), frame, replace(ZSTD, attributes=Attributes(compression="zstd")))


def test_compression_corrupt_and_truncated_data_raise() -> None:
    inner = MemoryBackend()
    layer = CompressionLayer(inner)
    zstd_attributes = PutOptions(attributes=Attributes(compression="zstd"))
    inner.put(K("bad"), zstandard.FRAME_HEADER + b"garbage" * 10, zstd_attributes)
    frame = zstandard.ZstdCompressor().compress(TEXT)
    inner.put(K("cut"), frame[: len(frame) // 2], zstd_attributes)
    for key in ("bad", "cut"):
        with pytest.raises(SatchelError) as caught:
            get(layer, key)
        assert (caught.value.key, caught.value.operation) == (key, "get")


# ---- expiration --------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_expiration_ttl_hides_the_object_at_once(clock: Clock) -> None:
    inner = MemoryBackend()
    layer = ExpirationLayer(inner, clock=clock)
    layer.put(K("d/a"), b"x", PutOptions(expiration=TTL(10)))
    layer.put(K("d/keep"), b"y", PutOptions())
    meta = layer.get(K("d/a"), GetOptions(head=True)).meta
    assert meta.attributes.expiration == TTL(10)
    assert meta.expires_at == clock.now + timedelta(seconds=10)
    clock.advance(10)
    for options in (GetOptions(), GetOptions(head=True), GetOptions(if_none_match=meta.etag)):
        with pytest.raises(NotFound):
            layer.get(K("d/a"), options)
    assert keys(layer) == ["d/keep"]
    assert [m.key for m in layer.list_with_delimiter("d/").objects] == ["d/keep"]
    for move in (layer.copy, layer.rename):
        with pytest.raises(NotFound):
            move(K("d/a"), K("d/b"), CopyOptions())
    assert keys(inner) == [MARKER, "d/a", "d/keep"]  # still stored until the sweep


def test_expiration_writes_treat_an_expired_object_as_absent(clock: Clock) -> None:
    layer = ExpirationLayer(MemoryBackend(), clock=clock)
    etag = layer.put(K("a"), b"old", PutOptions(expiration=TTL(5))).etag
    assert etag is not None
    clock.advance(6)
    with pytest.raises(PreconditionFailed):
        layer.put(K("a"), b"new", PutOptions(mode=PutMode.UPDATE, if_match=etag))
    layer.put(K("a"), b"new", PutOptions(mode=PutMode.CREATE))
    assert get(layer, "a") == b"new"
    with pytest.raises(AlreadyExists):
        layer.put(K("a"), b"again", PutOptions(mode=PutMode.CREATE))


def test_expiration_tti_bumps_only_when_due_and_answers_the_old_deadline(clock: Clock) -> None:
    inner = MemoryBackend()
    layer = ExpirationLayer(inner, clock=clock)
    start = clock.now
    layer.put(K("t"), b"x", PutOptions(expiration=TTI(100)))  # debounce: 25 s

    def stored_deadline() -> datetime | None:
        return inner.get(K("t"), GetOptions(head=True)).meta.expires_at

    clock.advance(20)  # new deadline start+120, within 25 s of start+100: no bump
    assert layer.get(K("t"), GetOptions(head=True)).meta.expires_at == start + timedelta(seconds=100)
    assert stored_deadline() == start + timedelta(seconds=100)
    clock.advance(10)  # new deadline start+130: due
    result = layer.get(K("t"), GetOptions())
    assert read(result) == b"x"
    assert result.meta.expires_at == start + timedelta(seconds=100)
    assert stored_deadline() == start + timedelta(seconds=130)
    clock.advance(90)  # past the first deadline, alive thanks to the bump (and bumped again, to +220)
    assert get(layer, "t") == b"x"
    clock.advance(100)
    with pytest.raises(NotFound):
        layer.get(K("t"), GetOptions())


class FailingCopy(ForwardingBackend):
    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        raise TransientError("copy failed", key=src, operation="copy")


def test_expiration_failed_bump_does_not_fail_the_read(clock: Clock) -> None:
    layer = ExpirationLayer(FailingCopy(MemoryBackend()), clock=clock)
    layer.put(K("t"), b"x", PutOptions(expiration=TTI(100)))
    clock.advance(90)
    assert get(layer, "t") == b"x"


class NoListAttributes(ForwardingBackend):
    """Lists without attributes, as backends with ``list_attributes=False`` do."""

    @property
    def capabilities(self) -> Capabilities:
        return replace(self.inner.capabilities, list_attributes=False)

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        for meta in self.inner.list(prefix, offset):
            yield replace(meta, attributes=Attributes())


@pytest.mark.parametrize("wrap", [False, True], ids=["list-attributes", "no-list-attributes"])
def test_expiration_sweep_deletes_only_expired(clock: Clock, wrap: bool) -> None:
    inner = MemoryBackend()
    layer = ExpirationLayer(NoListAttributes(inner) if wrap else inner, clock=clock)
    layer.put(K("old"), b"1", PutOptions(expiration=TTL(10)))
    layer.put(K("young"), b"2", PutOptions(expiration=TTL(100)))
    layer.put(K("forever"), b"3", PutOptions())
    clock.advance(50)
    assert keys(layer) == ["forever", "young"]
    assert layer.sweep() == 1
    assert keys(inner) == [MARKER, "forever", "young"]  # the marker says deadlines exist (see the next tests)


class CountingHeads(NoListAttributes):
    """Counts the metadata reads (heads) that reach the backend."""

    heads = 0

    def get(self, key: Key, options: GetOptions) -> GetResult:
        if options.head:
            self.heads += 1
        return self.inner.get(key, options)


def test_listing_without_deadlines_costs_one_head(clock: Clock) -> None:
    inner = CountingHeads(MemoryBackend())
    layer = ExpirationLayer(inner, clock=clock)
    for i in range(20):
        layer.put(K(f"k{i:02d}"), b"x", PutOptions())
    inner.heads = 0
    assert len(keys(layer)) == 20
    assert inner.heads == 1  # the marker only: no object was ever written with a deadline
    assert layer.sweep() == 0
    assert inner.heads == 2


def test_the_first_deadline_turns_on_per_object_checks(clock: Clock) -> None:
    inner = CountingHeads(MemoryBackend())
    layer = ExpirationLayer(inner, clock=clock)
    for i in range(5):
        layer.put(K(f"k{i}"), b"x", PutOptions())
    layer.put(K("short"), b"x", PutOptions(expiration=TTL(10)))
    clock.advance(60)
    inner.heads = 0
    assert keys(layer) == ["k0", "k1", "k2", "k3", "k4"]  # expired "short" hidden, marker hidden
    assert inner.heads == 6
    listing = layer.list_with_delimiter("")
    assert [m.key for m in listing.objects] == ["k0", "k1", "k2", "k3", "k4"]
    # Another process (a fresh layer over the same backend) sees the marker and checks deadlines too.
    other = ExpirationLayer(inner, clock=clock)
    assert keys(other) == ["k0", "k1", "k2", "k3", "k4"]
    assert other.sweep() == 1


class CountingLists(ForwardingBackend):
    """Counts the listings that reach the backend."""

    lists = 0

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        self.lists += 1
        return self.inner.list(prefix, offset)


def test_sweeps_of_a_store_without_deadlines_list_it_once(clock: Clock) -> None:
    inner = CountingLists(MemoryBackend())
    layer = ExpirationLayer(inner, clock=clock)
    for i in range(5):
        layer.put(K(f"k{i}"), b"x", PutOptions())
    assert layer.sweep() == 0
    assert inner.lists == 1  # the first sweep looks for deadlines written before the marker existed
    assert layer.sweep() == 0
    assert inner.lists == 1  # no marker, no deadline: nothing to list
    layer.put(K("short"), b"x", PutOptions(expiration=TTL(10)))
    clock.advance(11)
    assert layer.sweep() == 1
    assert inner.lists == 2
    assert keys(inner) == [MARKER, "k0", "k1", "k2", "k3", "k4"]


def test_a_first_sweep_finds_deadlines_written_without_the_marker(clock: Clock) -> None:
    inner = MemoryBackend()
    for key, seconds in (("gone", -1), ("later", 100)):  # as a store written before the marker was kept
        deadline = Attributes(expiration=TTL(100), expires_at=clock.now + timedelta(seconds=seconds))
        inner.put(K(key), b"x", PutOptions(attributes=deadline))
    layer = ExpirationLayer(inner, clock=clock)
    assert layer.sweep() == 1
    assert keys(inner) == [MARKER, "later"]  # a live deadline: the marker keeps later sweeps looking
    clock.advance(101)
    assert ExpirationLayer(inner, clock=clock).sweep() == 1
    assert layer.sweep() == 0
    assert keys(inner) == [MARKER]


@pytest.mark.parametrize("operation", ["put", "get", "delete", "copy-from", "copy-to", "rename"])
def test_the_marker_key_is_reserved(clock: Clock, operation: str) -> None:
    layer = ExpirationLayer(NoListAttributes(MemoryBackend()), clock=clock)
    layer.put(K("k"), b"x", PutOptions(expiration=TTL(10)))
    calls: dict[str, Callable[[], object]] = {
        "put": lambda: layer.put(MARKER, b"mine", PutOptions()),
        "get": lambda: layer.get(MARKER, GetOptions()),
        "delete": lambda: layer.delete([MARKER]),
        "copy-from": lambda: layer.copy(MARKER, K("x"), CopyOptions()),
        "copy-to": lambda: layer.copy(K("k"), MARKER, CopyOptions()),
        "rename": lambda: layer.rename(K("k"), MARKER, CopyOptions()),
    }
    with pytest.raises(InvalidPath, match="reserved"):
        calls[operation]()


class RewriteOnFirstDelete(ForwardingBackend):
    """Rewrites the object just before the first delete reaches the backend, as a concurrent writer would."""

    rewritten = False

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        if not self.rewritten:
            self.rewritten = True
            for key in keys:
                self.inner.put(key, b"fresh", PutOptions())
        self.inner.delete(keys, options)


def test_expiration_sweep_never_deletes_a_rewritten_object(clock: Clock) -> None:
    inner = MemoryBackend()
    layer = ExpirationLayer(RewriteOnFirstDelete(inner), clock=clock)
    layer.put(K("a"), b"stale", PutOptions(expiration=TTL(1)))
    clock.advance(2)
    assert layer.sweep() == 0
    assert get(layer, "a") == b"fresh"


# ---- retry -------------------------------------------------------------------------------------------------


class Flaky(ForwardingBackend):
    """Fails the first ``failures`` calls of each method with ``error``, then forwards."""

    def __init__(self, inner: Backend, failures: int, error: SatchelError | None = None) -> None:
        super().__init__(inner)
        self.failures = failures
        self.error = error or TransientError("try again")
        self.calls: dict[str, int] = {}

    def _maybe_fail(self, operation: str, payload: Payload | None = None) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if self.calls[operation] <= self.failures:
            if payload is not None and not isinstance(payload, bytes | bytearray | memoryview):
                payload.read(10)  # a failure midway: part of the stream is gone
            raise self.error

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        self._maybe_fail("put", payload)
        return self.inner.put(key, payload, options)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        self._maybe_fail("get")
        return self.inner.get(key, options)


def retrying(inner: Backend, **options: object) -> tuple[RetryLayer, list[float]]:
    sleeps: list[float] = []
    return RetryLayer(inner, sleep=sleeps.append, **options), sleeps  # type: ignore[arg-type]


def test_retry_retries_transient_errors_with_bounded_backoff() -> None:
    inner = MemoryBackend()
    inner.put(K("a"), b"x", PutOptions())
    flaky = Flaky(inner, failures=4)
    layer, sleeps = retrying(flaky, attempts=5, backoff=1.0, max_backoff=1.5)
    assert get(layer, "a") == b"x"
    assert flaky.calls["get"] == 5
    assert len(sleeps) == 4
    assert all(0.5 <= s <= 1.5 for s in sleeps)


def test_retry_gives_up_after_the_attempts() -> None:
    flaky = Flaky(MemoryBackend(), failures=10)
    layer, sleeps = retrying(flaky, attempts=3)
    with pytest.raises(TransientError):
        layer.get(K("a"), GetOptions())
    assert flaky.calls["get"] == 3
    assert len(sleeps) == 2


def test_retry_gives_up_on_a_write_after_the_attempts() -> None:
    inner = MemoryBackend()
    flaky = Flaky(inner, failures=10)
    layer, sleeps = retrying(flaky, attempts=3)
    with pytest.raises(TransientError):
        layer.put(K("a"), io.BytesIO(TEXT), PutOptions())
    assert flaky.calls["put"] == 3
    assert len(sleeps) == 2
    assert keys(inner) == []


@pytest.mark.parametrize("error", [NotFound("gone"), TransientError("fatal", retryable=False)])
def test_retry_does_not_retry_errors_not_marked_retryable(error: SatchelError) -> None:
    flaky = Flaky(MemoryBackend(), failures=1, error=error)
    layer, sleeps = retrying(flaky)
    with pytest.raises(type(error)):
        layer.get(K("a"), GetOptions())
    assert (flaky.calls["get"], sleeps) == (1, [])


def test_retry_replays_bytes_and_seekable_streams_from_where_they_were() -> None:
    inner = MemoryBackend()
    layer, _ = retrying(Flaky(inner, failures=2))
    layer.put(K("b"), b"bytes", PutOptions())
    stream = io.BytesIO(TEXT)
    stream.seek(3)
    layer.put(K("s"), stream, PutOptions())
    assert get(inner, "b") == b"bytes"
    assert get(inner, "s") == TEXT[3:]


def test_retry_does_not_replay_a_non_seekable_stream() -> None:
    inner = MemoryBackend()
    flaky = Flaky(inner, failures=1)
    layer, sleeps = retrying(flaky)
    with pytest.raises(TransientError):
        layer.put(K("s"), Trickle(TEXT), PutOptions())
    assert (flaky.calls["put"], sleeps, keys(inner)) == (1, [], [])


class BreaksListing(ForwardingBackend):
    """Fails a listing after every ``every`` objects it yields, the first ``times`` times."""

    def __init__(self, inner: Backend, every: int, times: int) -> None:
        super().__init__(inner)
        self.every = every
        self.times = times
        self.offsets: list[str | None] = []

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        self.offsets.append(offset)
        for n, meta in enumerate(self.inner.list(prefix, offset), 1):
            yield meta
            if n == self.every and self.times > 0:
                self.times -= 1
                raise TransientError("connection reset")


def test_retry_list_resumes_after_the_last_key_without_duplicates() -> None:
    inner = MemoryBackend()
    names = [f"k{i:03d}" for i in range(25)]
    for name in names:
        inner.put(K(name), b"", PutOptions())
    broken = BreaksListing(inner, every=7, times=3)
    layer, sleeps = retrying(broken, attempts=2)
    assert keys(layer) == names
    assert broken.offsets == [None, "k006", "k013", "k020"]
    assert len(sleeps) == 3


class FlakyParts(ForwardingBackend):
    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.failed: set[int] = set()

    def put_multipart(self, key: Key, options: PutOptions) -> FlakyUpload:
        return FlakyUpload(self.inner.put_multipart(key, options), self.failed)


class FlakyUpload:
    def __init__(self, inner: object, failed: set[int]) -> None:
        self.inner = inner
        self.failed = failed

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        if number not in self.failed:
            self.failed.add(number)
            raise TransientError("part lost")
        return self.inner.put_part(number, data)  # type: ignore[attr-defined, no-any-return]

    def complete(self, parts: Sequence[Part]) -> PutResult:
        return self.inner.complete(parts)  # type: ignore[attr-defined, no-any-return]

    def abort(self) -> None:
        self.inner.abort()  # type: ignore[attr-defined]


def test_retry_multipart_parts_are_retried_one_by_one() -> None:
    inner = MemoryBackend()
    layer, sleeps = retrying(FlakyParts(inner))
    upload = layer.put_multipart(K("m"), PutOptions())
    parts = [upload.put_part(2, b"world"), upload.put_part(1, b"hello ")]
    upload.complete(parts)
    assert get(inner, "m") == b"hello world"
    assert len(sleeps) == 2


def test_retry_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError):
        RetryLayer(MemoryBackend(), attempts=0)


# ---- metrics -----------------------------------------------------------------------------------------------


class Ticks:
    """A timer that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def measured() -> tuple[MetricsLayer, RecordingMetrics]:
    recorder = RecordingMetrics()
    return MetricsLayer(MemoryBackend(), recorder, timer=Ticks()), recorder


def test_metrics_put_records_latency_size_and_throughput_with_tags() -> None:
    layer, recorder = measured()
    layer.put(K("a"), b"12345678", PutOptions())
    tags = {"backend": "memory", "operation": "put", "outcome": "ok"}
    assert recorder.named("satchel.put.latency") == [(1.0, tags, "second")]
    assert recorder.named("satchel.put.size") == [(8, tags, "byte")]
    assert recorder.named("satchel.put.throughput") == [(8.0, tags, "byte/second")]


def test_metrics_streamed_put_counts_the_bytes_read() -> None:
    layer, recorder = measured()
    layer.put(K("a"), Trickle(TEXT), PutOptions())
    assert [v for v, _, _ in recorder.named("satchel.put.size")] == [len(TEXT)]


def test_metrics_streamed_get_records_the_bytes_read_when_closed() -> None:
    layer, recorder = measured()
    layer.put(K("a"), TEXT, PutOptions())
    result = layer.get(K("a"), GetOptions())
    assert [v for v, _, _ in recorder.named("satchel.get.latency")] == [1.0]
    assert recorder.named("satchel.get.size") == []
    result.body.read(100)
    result.body.read(50)
    result.body.close()
    tags = {"backend": "memory", "operation": "get", "outcome": "ok"}
    assert recorder.named("satchel.get.size") == [(150, tags, "byte")]
    assert len(recorder.named("satchel.get.throughput")) == 1
    assert get(layer, "a") == TEXT
    assert recorder.named("satchel.get.size")[-1][0] == len(TEXT)


def test_metrics_errors_are_tagged_with_their_class() -> None:
    layer, recorder = measured()
    with pytest.raises(NotFound):
        layer.get(K("missing"), GetOptions(head=True))
    assert [tags["outcome"] for _, tags, _ in recorder.named("satchel.head.latency")] == ["NotFound"]


def test_metrics_list_latency_covers_the_whole_listing() -> None:
    layer, recorder = measured()
    layer.put(K("a"), b"", PutOptions())
    listing = layer.list("")
    assert recorder.named("satchel.list.latency") == []
    assert [m.key for m in listing] == ["a"]
    assert len(recorder.named("satchel.list.latency")) == 1


def test_metrics_keep_a_seekable_payload_replayable_by_retry() -> None:
    recorder = RecordingMetrics()
    inner = MemoryBackend()
    layer = MetricsLayer(RetryLayer(Flaky(inner, failures=1), sleep=lambda _: None), recorder)
    layer.put(K("a"), io.BytesIO(TEXT), PutOptions())
    assert get(inner, "a") == TEXT
    assert [v for v, _, _ in recorder.named("satchel.put.size")] == [len(TEXT)]


def test_metrics_multipart_steps_are_measured() -> None:
    layer, recorder = measured()
    upload = layer.put_multipart(K("m"), PutOptions())
    upload.complete([upload.put_part(1, b"abc"), upload.put_part(2, b"de")])
    assert [v for v, _, _ in recorder.named("satchel.put_part.size")] == [3, 2]
    operations = {tags["operation"] for _, _, tags, _ in recorder.values}
    assert operations == {"put_multipart", "put_part", "complete_multipart"}


def test_metrics_noop_backend_accepts_values() -> None:
    NoOpMetricsBackend().distribution("x", 1, {"a": "b"}, "byte")


# ---- prefix ------------------------------------------------------------------------------------------------


def test_prefix_isolates_namespaces_over_one_backend() -> None:
    inner = MemoryBackend()
    one, two = PrefixLayer(inner, "one/"), PrefixLayer(inner, "two/")
    one.put(K("dir/a"), b"1", PutOptions())
    two.put(K("dir/a"), b"2", PutOptions())
    one.put(K("dir/sub/b"), b"3", PutOptions())
    assert (get(one, "dir/a"), get(two, "dir/a")) == (b"1", b"2")
    assert one.get(K("dir/a"), GetOptions()).meta.key == "dir/a"
    assert keys(one) == ["dir/a", "dir/sub/b"]
    assert [m.key for m in one.list("dir/", offset="dir/a")] == ["dir/sub/b"]
    listing = one.list_with_delimiter("dir/")
    assert ([m.key for m in listing.objects], listing.common_prefixes) == (["dir/a"], ["dir/sub/"])
    one.rename(K("dir/a"), K("moved"), CopyOptions())
    one.delete([K("dir/sub/b")])
    assert keys(one) == ["moved"]
    assert keys(two) == ["dir/a"]
    assert keys(inner) == ["one/moved", "two/dir/a"]


class Signing(ForwardingBackend):
    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        return f"https://signed/{key}?{method}"


def test_prefix_maps_signed_keys_and_error_keys() -> None:
    layer = PrefixLayer(Signing(MemoryBackend()), "ns/")
    assert layer.sign(K("a/b"), "GET", 60) == "https://signed/ns/a/b?GET"
    with pytest.raises(NotFound) as caught:
        layer.get(K("missing"), GetOptions())
    assert caught.value.key == "missing"
    layer.put(K("here"), b"", PutOptions())
    with pytest.raises(AlreadyExists) as exists:
        layer.copy(K("here"), K("here"), CopyOptions(overwrite=False))
    assert exists.value.key == "here"


@pytest.mark.parametrize("prefix", ["one", "/one/", "a//", "a/../", "/"])
def test_prefix_rejects_invalid_prefixes(prefix: str) -> None:
    with pytest.raises(ConfigError):
        PrefixLayer(MemoryBackend(), prefix)


def test_prefix_empty_is_the_identity() -> None:
    inner = MemoryBackend()
    PrefixLayer(inner, "").put(K("a"), b"", PutOptions())
    assert keys(inner) == ["a"]


# ---- read-only ---------------------------------------------------------------------------------------------


def test_readonly_refuses_every_write_and_changes_nothing() -> None:
    inner = MemoryBackend()
    inner.put(K("a"), b"x", PutOptions())
    layer = ReadOnlyLayer(inner)
    writes: dict[str, Callable[[], object]] = {
        "put": lambda: layer.put(K("b"), b"y", PutOptions()),
        "put_multipart": lambda: layer.put_multipart(K("b"), PutOptions()),
        "delete": lambda: layer.delete([K("a")]),
        "copy": lambda: layer.copy(K("a"), K("b"), CopyOptions()),
        "rename": lambda: layer.rename(K("a"), K("b"), CopyOptions()),
        "sign": lambda: layer.sign(K("a"), "PUT", 60),
    }
    for operation, write in writes.items():
        with pytest.raises(PermissionDenied) as caught:
            write()
        assert (caught.value.operation, caught.value.backend) == (operation, "memory")
    assert keys(layer) == ["a"]
    assert get(layer, "a") == b"x"
    with pytest.raises(NotModified):
        layer.get(K("a"), GetOptions(if_none_match=inner.get(K("a"), GetOptions(head=True)).meta.etag))
