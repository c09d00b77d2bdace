"""The Objectstore protocol's pure parts: durations, metadata headers and addressing, checked against the spec's
examples, the captured wire traffic and the real client's own encoders and decoders."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from objectstore_client import utils as client_utils
from objectstore_client.metadata import Metadata as ClientMetadata
from objectstore_client.metadata import TimeToIdle, TimeToLive, parse_timedelta
from starlette.datastructures import Headers

from satchel.path import Key
from satchel.server.addressing import (
    ObjectAddress,
    ParsedPath,
    logical_key,
    parse_path,
    scope_text,
    storage_key,
    storage_prefix,
)
from satchel.server.durations import (
    format_duration,
    format_policy,
    format_timestamp,
    http_date,
    parse_duration,
    parse_policy,
    parse_timestamp,
)
from satchel.server.errors import ApiError
from satchel.server.headers import (
    ObjectFields,
    content_disposition,
    created_of,
    custom_metadata,
    escape_value,
    fields_from_headers,
    filename_of,
    origin_of,
    request_headers,
    response_headers,
    to_attributes,
    unescape_value,
)
from satchel.server.state import key_response
from satchel.types import NO_ATTRIBUTES, TTI, TTL, Attributes, ObjectMeta

DAY = 86_400
SCOPES = (("org", "42"), ("project", "1337"))
PREFIX = "attachments/org.42/project.1337/objects/"
UUID = "0b69fcf4-23fd-4f3a-b969-1624c39386c0"
# The keys the upstream tests use, plus the awkward segment shapes of a.2.
SPEC_KEYS = [
    "with space",
    "café-unicode",
    "emoji-😀",
    "sub!$'()*+,=delims",
    "100%literal-percent",
    "looks%20encoded",
    "nested/path/segments",
    "semi;colon",
    "equals=sign",
    "colon:separated",
    "at@sign",
    "a//b",
    "/lead",
    "trail/",
    "/",
    ".",
    "..",
    "a/./b/../c",
    "%",
    "%2E",
    "tab\tnew\nline\x00nul\x85c1",
]
unicode_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=120)


def api_error(excinfo: pytest.ExceptionInfo[ApiError], status: int = 400) -> None:
    assert excinfo.value.status == status


# --- durations (a.6) ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30 days 3600 seconds", timedelta(days=30, hours=1)),
        ("1 days", timedelta(days=1)),
        ("90 seconds", timedelta(seconds=90)),
        ("400d 1h 18m 31s", timedelta(days=400, hours=1, minutes=18, seconds=31)),
        ("30d 1h", timedelta(days=30, hours=1)),
        ("3d", timedelta(days=3)),
        ("0s", timedelta(0)),
        ("1month", timedelta(seconds=2_630_016)),
        ("1M", timedelta(seconds=2_630_016)),
        ("1m", timedelta(minutes=1)),
        ("2 months", timedelta(seconds=2 * 2_630_016)),
        ("2weeks", timedelta(seconds=1_209_600)),
        ("1w", timedelta(weeks=1)),
        ("1year", timedelta(seconds=31_557_600)),
        ("2y", timedelta(seconds=2 * 31_557_600)),
        ("1hr 2min 3sec", timedelta(hours=1, minutes=2, seconds=3)),
        ("1hour 1minute 1second", timedelta(seconds=3661)),
        ("1days2h", timedelta(days=1, hours=2)),
        ("  5 m  ", timedelta(minutes=5)),
        ("1h1h", timedelta(hours=2)),
        ("1500ms", timedelta(seconds=1.5)),
        ("2msec 3usec", timedelta(microseconds=2003)),
        ("7us", timedelta(microseconds=7)),
        ("1000ns", timedelta(microseconds=1)),
        ("1999nsec", timedelta(microseconds=1)),
        ("1ns", timedelta(0)),
        ("1s 500000000ns", timedelta(seconds=1.5)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "1",
        "d",
        "-1s",
        "+1s",
        "1.5h",
        "1 parsecs",
        "1S",
        "1D",
        "1 Days",
        "1s,2m",
        "1s x",
        "1s 2",
        "\uff11s",  # a fullwidth digit is a digit to str.isdigit, not to humantime
        "9" * 30 + "s",
        "99999999999999999y",
    ],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_duration(text)
    api_error(excinfo)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=60), "1m"),
        (timedelta(hours=1), "1h"),
        (timedelta(days=1), "1d"),
        (timedelta(days=30, hours=1), "30d 1h"),
        (timedelta(days=2, hours=3, seconds=4), "2d 3h 4s"),
        (timedelta(days=7), "7d"),
        (timedelta(days=400), "400d"),
        (timedelta(days=400, seconds=90), "400d 1m 30s"),
        (timedelta(milliseconds=1500), "1s"),
        (timedelta(milliseconds=500), "0s"),
    ],
)
def test_format_duration(delta: timedelta, expected: str) -> None:
    assert format_duration(delta) == expected


def test_format_duration_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-1))


@given(st.integers(min_value=0, max_value=10**11))
def test_duration_round_trip(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    text = format_duration(delta)
    assert parse_duration(text) == delta
    assert parse_timedelta(text) == delta  # what client 0.2.10 reads back


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("manual", None),
        ("ttl:30 days", TTL(timedelta(days=30))),
        ("ttl:90 seconds", TTL(90)),
        ("ttl:1h", TTL(3600)),
        ("tti:30d 1h", TTI(timedelta(days=30, hours=1))),
        ("tti:30 days 3600 seconds", TTI(timedelta(days=30, hours=1))),
        ("ttl:1ms", TTL(timedelta(milliseconds=1))),
    ],
)
def test_parse_policy(text: str, expected: TTL | TTI | None) -> None:
    assert parse_policy(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "ttl:", "tti:", "ttl:0s", "ttl:1ns", "TTL:1d", "ttl 1d", "ttl", "Manual", "forever", "ttl:1x", "ttx:1d"],
)
def test_parse_policy_rejects(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_policy(text)
    api_error(excinfo)


def test_format_policy() -> None:
    assert format_policy(None) is None
    assert format_policy(TTL(DAY)) == "ttl:1d"
    assert format_policy(TTI(timedelta(days=30, hours=1))) == "tti:30d 1h"
    assert format_policy(TTL(timedelta(days=400))) == "ttl:400d"


def test_policy_as_the_client_reads_it() -> None:
    header = format_policy(TTI(timedelta(days=30, hours=1)))
    assert header is not None
    assert ClientMetadata.from_headers({"x-sn-expiration": header}).expiration_policy == TimeToIdle(
        timedelta(days=30, hours=1)
    )


# --- timestamps ----------------------------------------------------------------------------------------------------


def test_format_timestamp() -> None:
    moment = datetime(2026, 7, 23, 14, 50, 2, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-07-23T14:50:02.123456Z"
    assert format_timestamp(datetime(2026, 7, 23, tzinfo=UTC)) == "2026-07-23T00:00:00.000000Z"
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    assert format_timestamp(plus_two) == "2026-07-23T14:50:02.123456Z"
    assert format_timestamp(moment.replace(tzinfo=None)) == "2026-07-23T14:50:02.123456Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-23T14:50:02.123456Z", datetime(2026, 7, 23, 14, 50, 2, 123456, tzinfo=UTC)),
        ("2030-01-01T00:00:00+00:00", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T00:00:00Z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01t00:00:00z", datetime(2030, 1, 1, tzinfo=UTC)),
        ("2030-01-01T00:00:00+02:00", datetime(2029, 12, 31, 22, tzinfo=UTC)),
        ("2030-01-01T00:00:00-01:30", datetime(2030, 1, 1, 1, 30, tzinfo=UTC)),
        ("2030-01-01T00:00:00.5Z", datetime(2030, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2030-01-01T00:00:00.123456789Z", datetime(2030, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "garbage",
        "2030-01-01",
        "2030-01-01T00:00:00",
        "2030-13-01T00:00:00Z",
        "2030-02-30T00:00:00Z",
        "2030-01-01T24:00:00Z",
        "2030-01-01T00:00:60Z",
        "2030-01-01T00:00:00+24:00",
        "2030-01-01T00:00:00.Z",
        "20300101T000000Z",
        "0001-01-01T00:00:00+01:00",
    ],
)
def test_parse_timestamp_rejects_with_422(text: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_timestamp(text)
    api_error(excinfo, 422)


@given(
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_http_date_is_the_imf_fixdate_of_the_same_instant(naive: datetime, offset_minutes: int) -> None:
    moment = naive.replace(tzinfo=UTC)
    expected = email.utils.format_datetime(moment, usegmt=True)
    assert http_date(moment) == expected
    assert http_date(naive) == expected  # naive is taken as UTC
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert http_date(local) == expected
    assert format_timestamp(local) == format_timestamp(moment) == moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)))
def test_timestamp_round_trip(moment: datetime) -> None:
    text = format_timestamp(moment)
    assert parse_timestamp(text) == moment
    assert datetime.fromisoformat(text) == moment  # what the client does with it


# --- header value escaping (a.5) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logical", "wire"),
    [
        ("100% done", "100%25 done"),
        ("réport.txt", "r%C3%A9port.txt"),
        ("vérsion 1.0", "v%C3%A9rsion 1.0"),
        ("réport-📄.pdf", "r%C3%A9port-%F0%9F%93%84.pdf"),
        ("a\r\nb\tc\x7f", "a%0D%0Ab%09c%7F"),
        ("203.0.113.42", "203.0.113.42"),
        ("has\"quote path/to.txt!$&'()*+,;=:@?<>[]{}|^`~#", "has\"quote path/to.txt!$&'()*+,;=:@?<>[]{}|^`~#"),
        ("", ""),
    ],
)
def test_escape_value(logical: str, wire: str) -> None:
    assert escape_value(logical) == wire
    assert unescape_value(wire) == logical


def test_unescape_value_is_lenient_with_stray_percent_but_strict_with_utf8() -> None:
    assert unescape_value("%6B%65%79%2D%31") == "key-1"
    assert unescape_value("100% done") == "100% done"
    assert unescape_value("50%zz") == "50%zz"
    with pytest.raises(ApiError) as excinfo:
        unescape_value("%FF.pdf")
    api_error(excinfo)


def test_escape_value_replaces_lone_surrogates() -> None:
    # A value written through the Python API can hold one; the answer must still be a valid header.
    assert escape_value("a\ud800b") == "a?b"


@given(unicode_text)
def test_escape_round_trip_matches_the_client(value: str) -> None:
    wire = escape_value(value)
    assert all(" " <= char <= "~" for char in wire)
    assert wire == client_utils.encode_header_value(value)
    assert unescape_value(wire) == value
    assert client_utils.decode_header_value(wire) == value


# --- request headers (a.3) -----------------------------------------------------------------------------------------


def test_fields_from_captured_gen_c_create() -> None:
    headers = Headers(
        {
            "Transfer-Encoding": "chunked",
            "Content-Encoding": "zstd",
            "Content-Type": "text/plain",
            "x-sn-expiration": "tti:30d 1h",
            "x-sn-origin": "203.0.113.42",
            "x-sn-filename": "r%C3%A9port.txt",
            "x-snme-release": "v%C3%A9rsion 1.0",
            "x-snme-note": "100%25 done",
            "x-os-auth": "Bearer abc",
            "User-Agent": "objectstore-client/0.2.10",
        }
    )
    assert fields_from_headers(headers) == ObjectFields(
        content_type="text/plain",
        content_encoding="zstd",
        expiration=TTI(timedelta(days=30, hours=1)),
        expiration_given=True,
        origin="203.0.113.42",
        filename="réport.txt",
        custom={"release": "vérsion 1.0", "note": "100% done"},
    )


def test_fields_from_captured_gen_a_create() -> None:
    headers = Headers(
        {
            "Content-Encoding": "zstd",
            "Content-Type": "text/plain",
            "x-sn-expiration": "tti:30 days 3600 seconds",
            "x-snme-a": "b",
            "User-Agent": "python-urllib3/2.8.0",
        }
    )
    fields = fields_from_headers(headers)
    assert fields.expiration == TTI(timedelta(days=30, hours=1))
    assert fields.custom == {"a": "b"}
    assert fields.origin is None
    assert fields.filename is None


def test_fields_defaults_and_manual() -> None:
    assert fields_from_headers(Headers({})) == ObjectFields()
    assert fields_from_headers(Headers({})).expiration_given is False
    manual = fields_from_headers(Headers({"x-sn-expiration": "manual"}))
    assert manual.expiration is None
    assert manual.expiration_given is True
    assert fields_from_headers(Headers({"x-sn-expiration": "ttl:90 seconds"})).expiration == TTL(90)


def test_fields_from_a_plain_mapping_are_case_insensitive() -> None:
    fields = fields_from_headers({"Content-Type": "image/png", "X-SNME-Build_ID": "7", "X-Sn-Filename": ""})
    assert fields.content_type == "image/png"
    assert fields.custom == {"build_id": "7"}
    assert fields.filename == ""


def test_read_only_headers_are_ignored() -> None:
    headers = Headers({"x-sn-time-created": "garbage", "x-sn-time-expires": "garbage", "x-sn-size": "many"})
    assert fields_from_headers(headers) == ObjectFields()


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "text/plain;charset=UTF-8;format=flowed",
        'multipart/form-data; boundary="a b;c"',
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "text/plain;",
    ],
)
def test_valid_content_types(content_type: str) -> None:
    assert fields_from_headers(Headers({"content-type": content_type})).content_type == content_type


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "not a valid media type!"},
        {"content-type": ""},
        {"content-type": "text"},
        {"content-type": "text/"},
        {"content-type": "/plain"},
        {"content-type": "text/plain; charset"},
        {"content-type": 'text/plain; charset="open'},
        {"content-encoding": "gzip"},
        {"content-encoding": "zstd, gzip"},
        {"content-encoding": "identity"},
        {"content-encoding": ""},
        {"x-sn-expiration": "forever"},
        {"x-sn-expiration": "ttl:"},
        {"x-snme-": "nameless"},
        {"x-sn-filename": "%FF.pdf"},
        {"x-sn-origin": "%C3"},
        {"x-snme-note": "%80"},
    ],
)
def test_invalid_request_headers(headers: dict[str, str]) -> None:
    with pytest.raises(ApiError) as excinfo:
        fields_from_headers(Headers(headers))
    api_error(excinfo)


# --- stored form ---------------------------------------------------------------------------------------------------

CREATED = datetime(2026, 7, 23, 14, 50, 2, 123456, tzinfo=UTC)


def test_to_attributes_stored_form() -> None:
    fields = ObjectFields(
        content_type="text/plain",
        content_encoding="zstd",
        expiration=TTL(60),
        expiration_given=True,
        origin="203.0.113.42",
        filename="réport.txt",
        custom={"note": "100% done", "sn-origin": "forged", "sn-custom-x": "y"},
    )
    attributes = to_attributes(fields, CREATED)
    assert attributes == Attributes(
        content_type="text/plain",
        content_encoding="zstd",
        metadata={
            "note": "100% done",
            "sn-custom-sn-origin": "forged",
            "sn-custom-sn-custom-x": "y",
            "sn-origin": "203.0.113.42",
            "sn-filename": "réport.txt",
            "sn-created": "2026-07-23T14:50:02.123456Z",
        },
    )
    assert attributes.expiration is None
    assert custom_metadata(attributes) == fields.custom
    assert origin_of(attributes) == "203.0.113.42"
    assert filename_of(attributes) == "réport.txt"
    assert created_of(attributes, datetime(2000, 1, 1, tzinfo=UTC)) == CREATED


def test_stored_form_without_optional_fields() -> None:
    attributes = to_attributes(ObjectFields(filename=""), CREATED)
    assert attributes.metadata == {"sn-filename": "", "sn-created": "2026-07-23T14:50:02.123456Z"}
    assert filename_of(attributes) == ""
    assert origin_of(attributes) is None
    assert custom_metadata(attributes) == {}


def test_created_of_falls_back() -> None:
    fallback = datetime(2001, 2, 3, tzinfo=UTC)
    assert created_of(Attributes(), fallback) == fallback
    assert created_of(Attributes(metadata={"sn-created": "yesterday"}), fallback) == fallback


def test_custom_metadata_skips_unknown_server_entries() -> None:
    attributes = Attributes(metadata={"sn-future": "x", "build": "7", "sn-custom-sn-x": "y"})
    assert custom_metadata(attributes) == {"build": "7", "sn-x": "y"}


# --- content-disposition (a.4) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (None, "attachment"),
        ("", "attachment"),
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("a b.txt", 'attachment; filename="a b.txt"'),
        ("dir/sub\\file.txt", 'attachment; filename="dir-sub-file.txt"'),
        ("/", 'attachment; filename="-"'),
        (".", 'attachment; filename="-"'),
        ("..", 'attachment; filename="--"'),
        ("...", 'attachment; filename="---"'),
        ("..a", 'attachment; filename="..a"'),
        ('say "hi".txt', 'attachment; filename="say \\"hi\\".txt"'),
        ("tab\there\x7f", 'attachment; filename="tab_here_"'),
        (
            "réport-📄.pdf",
            "attachment; filename=\"r_port-_.pdf\"; filename*=UTF-8''r%C3%A9port-%F0%9F%93%84.pdf",
        ),
        (
            "réport 📄.pdf",
            "attachment; filename=\"r_port _.pdf\"; filename*=UTF-8''r%C3%A9port%20%F0%9F%93%84.pdf",
        ),
        ('é"b;c/d', 'attachment; filename="_\\"b;c-d"; filename*=UTF-8\'\'%C3%A9%22b%3Bc-d'),
    ],
)
def test_content_disposition(filename: str | None, expected: str) -> None:
    assert content_disposition(filename) == expected


# --- response headers (a.4) ----------------------------------------------------------------------------------------

LAST_MODIFIED = datetime(2026, 7, 24, 9, 0, tzinfo=UTC)
EXPIRES = datetime(2026, 8, 23, 15, 50, 2, 123456, tzinfo=UTC)


def full_meta() -> ObjectMeta:
    fields = ObjectFields(
        content_type="text/plain",
        content_encoding="zstd",
        origin="Ünknown-源",
        filename="réport-📄.pdf",
        custom={"release": "vérsion-1.0-🚀", "note": "100% done", "sn-x": "kept"},
    )
    stored = to_attributes(fields, CREATED)
    attributes = Attributes(
        content_type=stored.content_type,
        content_encoding=stored.content_encoding,
        expiration=TTI(timedelta(days=30, hours=1)),
        expires_at=EXPIRES,
        metadata=stored.metadata,
    )
    return ObjectMeta(key=PREFIX + "k", size=18, etag='"abc"', last_modified=LAST_MODIFIED, attributes=attributes)


def decoded_response_headers(meta: ObjectMeta) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in response_headers(meta)]


def test_response_headers() -> None:
    headers = decoded_response_headers(full_meta())
    assert headers == [
        ("content-type", "text/plain"),
        ("content-encoding", "zstd"),
        ("x-sn-expiration", "tti:30d 1h"),
        ("x-sn-time-created", "2026-07-23T14:50:02.123456Z"),
        ("x-sn-time-expires", "2026-08-23T15:50:02.123456Z"),
        ("x-sn-origin", "%C3%9Cnknown-%E6%BA%90"),
        ("x-sn-filename", "r%C3%A9port-%F0%9F%93%84.pdf"),
        ("x-sn-size", "18"),
        ("x-snme-release", "v%C3%A9rsion-1.0-%F0%9F%9A%80"),
        ("x-snme-note", "100%25 done"),
        ("x-snme-sn-x", "kept"),
        (
            "content-disposition",
            "attachment; filename=\"r_port-_.pdf\"; filename*=UTF-8''r%C3%A9port-%F0%9F%93%84.pdf",
        ),
        ("x-satchel-content-type", "text/plain"),
        ("last-modified", "Fri, 24 Jul 2026 09:00:00 GMT"),
        ("x-satchel-last-modified", "2026-07-24T09:00:00.000000Z"),
        ("accept-ranges", "bytes"),
        ("etag", '"abc"'),
    ]
    for name, value in headers:
        assert name == name.lower()
        assert value.isascii()


def test_response_headers_as_the_client_reads_them() -> None:
    metadata = ClientMetadata.from_headers(dict(decoded_response_headers(full_meta())))
    assert metadata.content_type == "text/plain"
    assert metadata.compression == "zstd"
    assert metadata.expiration_policy == TimeToIdle(timedelta(days=30, hours=1))
    assert metadata.time_created == CREATED
    assert metadata.time_expires == EXPIRES
    assert metadata.origin == "Ünknown-源"
    assert metadata.filename == "réport-📄.pdf"
    assert metadata.size == 18
    assert metadata.custom == {"release": "vérsion-1.0-🚀", "note": "100% done", "sn-x": "kept"}


def test_response_headers_of_a_bare_object() -> None:
    meta = ObjectMeta(key="u/objects/k", size=0, etag=None, last_modified=LAST_MODIFIED)
    assert decoded_response_headers(meta) == [
        ("content-type", "application/octet-stream"),
        ("x-sn-time-created", "2026-07-24T09:00:00.000000Z"),
        ("x-sn-size", "0"),
        ("content-disposition", "attachment"),
        ("last-modified", "Fri, 24 Jul 2026 09:00:00 GMT"),
        ("accept-ranges", "bytes"),
    ]  # no x-satchel-last-modified: it equals x-sn-time-created
    assert ClientMetadata.from_headers(dict(decoded_response_headers(meta))).expiration_policy is None


@pytest.mark.parametrize("etag", [None, "6dfb830e49b566453", "bad\r\nvalue"])
def test_response_headers_of_an_object_without_attributes_take_a_short_path_to_the_same_answer(
    etag: str | None,
) -> None:
    shared = ObjectMeta(key="k", size=7, etag=etag, last_modified=LAST_MODIFIED, attributes=NO_ATTRIBUTES)
    fresh = ObjectMeta(key="k", size=7, etag=etag, last_modified=LAST_MODIFIED, attributes=Attributes())
    assert fresh.attributes is not NO_ATTRIBUTES  # the general path
    assert response_headers(shared) == response_headers(fresh)


def test_response_headers_of_a_ttl_object() -> None:
    meta = ObjectMeta(
        key="k", size=1, etag=None, last_modified=LAST_MODIFIED, attributes=Attributes(expiration=TTL(DAY))
    )
    headers = dict(decoded_response_headers(meta))
    assert headers["x-sn-expiration"] == "ttl:1d"
    assert ClientMetadata.from_headers(headers).expiration_policy == TimeToLive(timedelta(days=1))


def test_response_headers_leave_out_what_a_header_cannot_carry() -> None:
    attributes = Attributes(
        content_type="text/plain\r\nx-injected: 1",
        content_encoding="zstd\r\n",
        metadata={"Build": "7", "bad name": "x", "ok": "line\r\nbreak"},
    )
    meta = ObjectMeta(key="k", size=1, etag='"e"\r\n', last_modified=LAST_MODIFIED, attributes=attributes)
    headers = dict(decoded_response_headers(meta))
    assert headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in headers
    assert "etag" not in headers
    assert headers["x-snme-build"] == "7"
    assert headers["x-snme-ok"] == "line%0D%0Abreak"
    assert not any(" " in name for name in headers)


# --- addressing (a.2, a.10) ----------------------------------------------------------------------------------------


def gen_c(key: str | None = None, resource: str = "objects") -> ParsedPath:
    return ParsedPath("C", resource, ObjectAddress("attachments", SCOPES, key))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"objects/attachments/org=42;project=1337/{UUID}", gen_c(UUID)),
        ("objects/attachments/org=42;project=1337/", gen_c()),
        ("objects/attachments/org=42;project=1337", gen_c()),
        ("objects/attachments/org=42;project=1337/nested/a b%20c", gen_c("nested/a b%20c")),
        ("objects/attachments/org=42;project=1337//x", gen_c("/x")),
        ("objects/attachments/org=42;project=1337/a/", gen_c("a/")),
        ("objects:multipart/attachments/org=42;project=1337/mp", gen_c("mp", "objects:multipart")),
        ("objects:multipart/attachments/org=42;project=1337/", gen_c(None, "objects:multipart")),
        ("objects:multipart:parts/attachments/org=42;project=1337/mp", gen_c("mp", "objects:multipart:parts")),
        ("objects:multipart:complete/attachments/org=42;project=1337/mp", gen_c("mp", "objects:multipart:complete")),
        ("objects:list/attachments/org=42;project=1337/", gen_c(None, "objects:list")),
        ("objects:copy/attachments/org=42;project=1337/a", gen_c("a", "objects:copy")),
        ("objects:sign/attachments/org=42;project=1337/a", gen_c("a", "objects:sign")),
        ("objects/my-usecase/_/k", ParsedPath("C", "objects", ObjectAddress("my-usecase", (), "k"))),
        ("objects/u//key", ParsedPath("C", "objects", ObjectAddress("u", (), "key"))),
        ("objects/u/_/", ParsedPath("C", "objects", ObjectAddress("u", (), None))),
        (
            "objects/u/project=2;org=1;x_-()$!+'=Az09_-()$!+'/k",
            ParsedPath(
                "C", "objects", ObjectAddress("u", (("project", "2"), ("org", "1"), ("x_-()$!+'", "Az09_-()$!+'")), "k")
            ),
        ),
        ("objects/u/a=True/k", ParsedPath("C", "objects", ObjectAddress("u", (("a", "True"),), "k"))),
    ],
)
def test_parse_gen_c(path: str, expected: ParsedPath) -> None:
    assert parse_path(path, {}) == expected


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_keys_as_client_0_2_10_sends_them(key: str) -> None:
    # The client quotes the whole path; the server decodes it exactly once. Any non-empty rest is the key.
    wire = client_utils.encode_path(f"/v1/objects/attachments/org=42;project=1337/{key}")
    decoded = unquote(wire, errors="strict").removeprefix("/v1/")
    assert parse_path(decoded, {}) == gen_c(key)


def test_looks_encoded_is_stored_literally() -> None:
    wire = client_utils.encode_path("objects/attachments/org=42;project=1337/looks%20encoded")
    assert wire.endswith("looks%2520encoded")
    assert parse_path(unquote(wire), {}).address.key == "looks%20encoded"


@pytest.mark.parametrize(
    "path",
    [
        "objects",
        "objects/",
        "objects/u",
        "objects//_/k",
        "objects/./_/k",
        "objects/../_/k",
        "objects/.../_/k",
        "objects/a\x00b/_/k",
        "objects/a\x85b/_/k",
        "objects/u/org/k",
        "objects/u/=1/k",
        "objects/u/org=/k",
        "objects/u/org=4 2/k",
        "objects/u/org=1;/k",
        "objects/u/org=1;;p=2/k",
        "objects/u/org=a=b/k",
        "objects/u/org.42/k",
        "objects/u/org=é/k",
        "objects/u/__/k",
    ],
)
def test_parse_gen_c_rejects(path: str) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_path(path, {})
    api_error(excinfo)


GEN_A_QUERY = {"usecase": "attachments", "scope": "org.42/project.1337"}


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("", GEN_A_QUERY, ObjectAddress("attachments", SCOPES, None)),
        ("my/key 1", GEN_A_QUERY, ObjectAddress("attachments", SCOPES, "my/key 1")),
        (UUID, GEN_A_QUERY, ObjectAddress("attachments", SCOPES, UUID)),
        ("objects/x/y", GEN_A_QUERY, ObjectAddress("attachments", SCOPES, "objects/x/y")),
        ("k", {"usecase": "u", "scope": ""}, ObjectAddress("u", (), "k")),
        ("k", {"usecase": "u", "scope": "v.1.2"}, ObjectAddress("u", (("v", "1.2"),), "k")),
    ],
)
def test_parse_gen_a(path: str, query: dict[str, str], expected: ObjectAddress) -> None:
    assert parse_path(path, query) == ParsedPath("A", "objects", expected)


@pytest.mark.parametrize(
    "query",
    [
        {"usecase": "", "scope": "org.42"},
        {"usecase": "..", "scope": "org.42"},
        {"usecase": "a/b", "scope": "org.42"},
        {"usecase": "u", "scope": "org"},
        {"usecase": "u", "scope": ".42"},
        {"usecase": "u", "scope": "org."},
        {"usecase": "u", "scope": "org.42/"},
        {"usecase": "u", "scope": "org.42//p.1"},
        {"usecase": "u", "scope": "org.4 2"},
    ],
)
def test_parse_gen_a_rejects(query: dict[str, str]) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_path("k", query)
    api_error(excinfo)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("attachments/org.42/project.1337/objects/", ObjectAddress("attachments", SCOPES, None)),
        ("attachments/org.42/project.1337/objects", ObjectAddress("attachments", SCOPES, None)),
        (f"attachments/org.42/project.1337/objects/{UUID}", ObjectAddress("attachments", SCOPES, UUID)),
        ("attachments/org.42/project.1337/objects/a/b", ObjectAddress("attachments", SCOPES, "a/b")),
        ("attachments/org.42/objects/x/objects/y", ObjectAddress("attachments", (("org", "42"),), "x/objects/y")),
        ("u/v.1.2/objects/k", ObjectAddress("u", (("v", "1.2"),), "k")),
    ],
)
def test_parse_gen_b(path: str, expected: ObjectAddress) -> None:
    assert parse_path(path, {}) == ParsedPath("B", "objects", expected)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("", {}),
        ("attachments/objects/k", {}),
        ("attachments/org.42/k", {}),
        ("attachments/org/objects/k", {}),
        ("attachments/org.42//objects/k", {}),
        ("./org.42/objects/k", {}),
        ("my/key", {"usecase": "attachments"}),  # Gen A needs both parameters
    ],
)
def test_parse_gen_b_rejects(path: str, query: dict[str, str]) -> None:
    with pytest.raises(ApiError) as excinfo:
        parse_path(path, query)
    api_error(excinfo)


def test_all_generations_share_storage() -> None:
    a = parse_path("a/b", GEN_A_QUERY).address
    b = parse_path("attachments/org.42/project.1337/objects/a/b", {}).address
    c = parse_path("objects/attachments/org=42;project=1337/a/b", {}).address
    assert a == b == c
    assert storage_key(a) == PREFIX + "a/b"


def test_scope_text_and_prefix() -> None:
    assert scope_text(SCOPES) == "org=42;project=1337"
    assert scope_text(()) == "_"
    assert storage_prefix("attachments", SCOPES) == PREFIX
    assert storage_prefix("u", ()) == "u/objects/"
    assert parse_path(f"objects/attachments/{scope_text(SCOPES)}/k", {}).address.scopes == SCOPES


@pytest.mark.parametrize(
    ("key", "stored"),
    [
        ("nested/path/segments", "nested/path/segments"),
        ("emoji-😀", "emoji-😀"),
        ("semi;colon", "semi;colon"),
        ("with space", "with space"),
        ("100%literal-percent", "100%25literal-percent"),
        ("looks%20encoded", "looks%2520encoded"),
        ("a//b", "a/%/b"),
        ("/lead", "%/lead"),
        ("trail/", "trail/%"),
        ("/", "%/%"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("a/./b/../c", "a/%2E/b/%2E%2E/c"),
        ("...", "..."),
        ("%", "%25"),
        ("tab\tnul\x00", "tab%09nul%00"),
    ],
)
def test_storage_key(key: str, stored: str) -> None:
    address = ObjectAddress("attachments", SCOPES, key)
    assert storage_key(address) == PREFIX + stored
    assert isinstance(storage_key(address), Key)
    assert logical_key(PREFIX + stored, PREFIX) == key


@pytest.mark.parametrize("key", SPEC_KEYS)
def test_spec_keys_round_trip(key: str) -> None:
    stored = storage_key(ObjectAddress("attachments", SCOPES, key))
    assert Key.parse(stored) == stored
    assert logical_key(stored, PREFIX) == key


@given(unicode_text)
def test_storage_key_round_trip(key: str) -> None:
    stored = storage_key(ObjectAddress("u", (("org", "1"),), key))
    assert logical_key(stored, "u/org.1/objects/") == key


def test_storage_key_rejects() -> None:
    with pytest.raises(ValueError, match="key-less"):
        storage_key(ObjectAddress("u", (), None))
    for key in ["x" * 1100, "a/" + "é" * 600, "lone\ud800"]:
        with pytest.raises(ApiError) as excinfo:
            storage_key(ObjectAddress("u", (), key))
        api_error(excinfo)


def test_logical_key_rejects_foreign_keys() -> None:
    with pytest.raises(ValueError, match="not a key under"):
        logical_key("other/objects/k", PREFIX)
    with pytest.raises(ValueError, match="not a key under"):
        logical_key(PREFIX, PREFIX)


def test_fields_of_a_request_without_metadata_headers_are_empty() -> None:
    assert fields_from_headers({"host": "h", "content-length": "3", "accept-encoding": "identity"}) == ObjectFields()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("X-Snme-Color", "red", ObjectFields(custom={"color": "red"})),
        ("x-sn-origin", "1.2.3.4", ObjectFields(origin="1.2.3.4")),
        ("x-sn-expiration", "manual", ObjectFields(expiration_given=True)),
        ("Content-Type", "text/plain", ObjectFields(content_type="text/plain")),
        ("x-satchel-cache-control", "no-cache", ObjectFields(cache_control="no-cache")),
    ],
)
def test_one_metadata_header_is_read(name: str, value: str, expected: ObjectFields) -> None:
    assert fields_from_headers({"host": "h", name: value}) == expected


def test_request_headers_keep_the_first_of_repeated_names_and_are_built_once() -> None:
    scope: dict[str, object] = {"headers": [(b"x-snme-a", b"1"), (b"host", b"h"), (b"x-snme-a", b"2")]}
    headers = request_headers(scope)
    assert headers == {"x-snme-a": "1", "host": "h"}
    assert request_headers(scope) is headers


@pytest.mark.parametrize("key", ["plain", "café/😀", 'quote"back\\slash', "ctl\x01\n", ""])
def test_key_response_is_the_json_of_the_key(key: str) -> None:
    response = key_response(key, 201, "abc")
    assert json.loads(bytes(response.body)) == {"key": key}
    assert response.status_code == 201
    assert response.headers["etag"] == "abc"
    assert response.headers["content-length"] == str(len(response.body))
    assert response.headers["content-type"] == "application/json"
