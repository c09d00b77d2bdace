"""The server's auth (spec a.7/a.8): JWTs and pre-signed URLs, checked against the real objectstore-client."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import jwt
import objectstore_client.auth
import objectstore_client.client
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from objectstore_client import Client, Usecase
from objectstore_client.auth import Permission, SecretKey
from objectstore_client.presign import build_canonical_form
from objectstore_client.scope import Scope

from satchel.errors import ConfigError
from satchel.server.auth import (
    ALL_PERMISSIONS,
    DELETE,
    READ,
    WRITE,
    Authenticator,
    AuthKey,
    Grant,
    LinkSigner,
    mint_token,
    presign_query,
)
from satchel.server.errors import ApiError
from satchel.server.presign import canonical_form

NOW = datetime(2026, 11, 21, 21, 12, 30, tzinfo=UTC)
SCOPES = [("org", "42"), ("project", "1337")]


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Ring:
    """One Ed25519 key under kid ``k1`` and an enforcing authenticator with a settable clock."""

    key: Ed25519PrivateKey
    clock: Clock
    auth: Authenticator

    def token(self, **kwargs: object) -> str:
        claims: dict[str, object] = {"usecase": "attachments", "scopes": SCOPES, "permissions": ALL_PERMISSIONS}
        claims.update(kwargs)
        return mint_token("k1", self.key, now=self.clock.now, **claims)  # type: ignore[arg-type]

    def check(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        query: str = "",
        usecase: str = "attachments",
        scopes: list[tuple[str, str]] | None = None,
        permission: str = READ,
        method: str = "GET",
        path: str = "/v1/objects/attachments/org=42;project=1337/k",
    ) -> Grant | None:
        return self.auth.authorize(
            method, path, query, headers or {}, usecase, SCOPES if scopes is None else scopes, permission
        )

    def status(self, headers: Mapping[str, str] | None = None, **kwargs: object) -> int:
        with pytest.raises(ApiError) as caught:
            self.check(headers, **kwargs)  # type: ignore[arg-type]
        return caught.value.status


def make_ring(*, max_permissions: frozenset[str] = ALL_PERMISSIONS) -> Ring:
    key = Ed25519PrivateKey.generate()
    clock = Clock()
    auth = Authenticator([AuthKey("k1", (key.public_key(),), max_permissions)], enforce=True, clock=clock)
    return Ring(key, clock, auth)


@pytest.fixture
def ring() -> Ring:
    return make_ring()


def bearer(token: str) -> dict[str, str]:
    return {"x-os-auth": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- keys -----------------------------------------------------------------------------------------------------


def test_auth_key_loads_pem_files_and_refuses_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "k.pub.pem"
    good.write_bytes(public_pem(Ed25519PrivateKey.generate()))
    assert len(AuthKey.from_pem_files("k", [good, str(good)]).public_keys) == 2
    assert AuthKey.from_pem_files("k", str(good)).max_permissions == ALL_PERMISSIONS

    secret = Ed25519PrivateKey.generate()
    private = tmp_path / "private.pem"
    private.write_text(private_pem(secret))
    rsa_file = tmp_path / "rsa.pem"
    rsa_file.write_bytes(
        rsa.generate_private_key(65537, 2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnot-base64-SECRETISH\n-----END PUBLIC KEY-----\n")
    for bad in (private, rsa_file, garbage, tmp_path / "missing.pem"):
        with pytest.raises(ConfigError) as caught:
            AuthKey.from_pem_files("k", [bad])
        assert str(bad) in str(caught.value)
        assert "SECRETISH" not in str(caught.value)
        assert private_pem(secret).splitlines()[1] not in str(caught.value)
    with pytest.raises(ConfigError):
        AuthKey.from_pem_files("k", [])


def test_same_kid_twice_merges_versions_but_not_different_limits() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    auth = Authenticator(
        [AuthKey("k1", (old.public_key(),)), AuthKey("k1", (new.public_key(),))], enforce=True, clock=Clock()
    )
    for key in (old, new):
        token = mint_token("k1", key, usecase="u", scopes={}, permissions=[READ], now=NOW)
        assert auth.authorize("GET", "/p", "", bearer(token), "u", [], READ) is not None
    with pytest.raises(ConfigError):
        Authenticator(
            [AuthKey("k1", (old.public_key(),)), AuthKey("k1", (new.public_key(),), frozenset({READ}))], enforce=True
        )


def test_rotated_key_versions_in_one_auth_key_both_verify() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    auth = Authenticator([AuthKey("k1", (old.public_key(), new.public_key()))], enforce=True, clock=Clock())
    for key in (old, new):
        token = mint_token("k1", key, usecase="u", scopes={}, permissions=[READ], now=NOW)
        assert auth.authorize("GET", "/p", "", bearer(token), "u", [], READ) is not None
    stranger = mint_token("k1", Ed25519PrivateKey.generate(), usecase="u", scopes={}, permissions=[READ], now=NOW)
    with pytest.raises(ApiError) as caught:
        auth.authorize("GET", "/p", "", bearer(stranger), "u", [], READ)
    assert caught.value.status == 401


# --- tokens from the real client ------------------------------------------------------------------------------


@pytest.fixture
def frozen_client_time(monkeypatch: pytest.MonkeyPatch) -> datetime:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz: object = None) -> Frozen:
            return cls.fromtimestamp(NOW.timestamp(), UTC)

    monkeypatch.setattr(objectstore_client.auth, "datetime", Frozen)
    monkeypatch.setattr(objectstore_client.client, "datetime", Frozen)
    return NOW


def test_mint_token_is_byte_identical_to_secret_key(ring: Ring, frozen_client_time: datetime) -> None:
    secret = SecretKey("k1", private_pem(ring.key))
    theirs = secret.token_for_scope("attachments", Scope(org=42, project=1337))
    ours = mint_token(
        "k1",
        ring.key,
        usecase="attachments",
        scopes={"org": 42, "project": 1337},
        permissions=[DELETE, READ, WRITE],
        now=NOW,
    )
    assert ours == theirs
    assert jwt.get_unverified_header(ours) == {"alg": "EdDSA", "kid": "k1", "typ": "JWT"}


def test_client_tokens_verify_in_every_place_the_client_puts_them(ring: Ring) -> None:
    client = Client("http://127.0.0.1:9/", token=SecretKey("k1", private_pem(ring.key)))
    session = client.session(Usecase("attachments"), org=42, project=1337)
    ring.clock.now = datetime.now(UTC)
    token = session.mint_token()
    grant = ring.check(bearer(token), permission=DELETE)
    assert grant == Grant(ALL_PERMISSIONS, "attachments", {"org": "42", "project": "1337"}, False, "k1")
    assert ring.check({"Authorization": f"bEaReR {token}"}) is not None
    url = urlsplit(session.object_url("k", token_validity=timedelta(minutes=5)))
    grant = ring.check(query=url.query, path=url.path)
    assert grant is not None
    assert grant.permissions == {READ}
    assert ring.check(query="os_auth=" + token.replace(".", "%2E")) is not None


def test_pyjwt_tokens_with_audience_and_issuer(ring: Ring) -> None:
    def token(**extra: object) -> str:
        claims = {"res": {"os:usecase": "attachments"}, "permissions": [READ], "exp": NOW + timedelta(seconds=30)}
        return jwt.encode({**claims, **extra}, ring.key, algorithm="EdDSA", headers={"kid": "k1"})

    for good in ({}, {"aud": "objectstore"}, {"aud": ["x", "objectstore"]}, {"iss": "sentry"}, {"iss": "relay"}):
        assert ring.check(bearer(token(**good)), scopes=[]) is not None
    for bad in ({"aud": "other"}, {"aud": 5}, {"iss": "evil"}, {"iss": "Sentry"}, {"nbf": NOW.timestamp() + 61}):
        assert ring.status(bearer(token(**bad)), scopes=[]) == 401


# --- token refusals -------------------------------------------------------------------------------------------


def test_where_the_token_is_read_from(ring: Ring) -> None:
    good = ring.token()
    assert ring.status({}) == 400
    assert ring.status({"Authorization": f"Basic {good}"}) == 400
    assert ring.status({"Authorization": "Bearer "}) == 400
    assert ring.check({"Authorization": "Basic dXNlcjpwYXNz"}, query=f"os_auth={good}") is not None
    assert ring.check({"X-OS-AUTH": good}) is not None  # the Bearer prefix is optional in x-os-auth
    assert ring.status({"x-os-auth": "Bearer garbage", "Authorization": f"Bearer {good}"}) == 401
    assert ring.status({"x-os-auth": "Bearer garbage"}, query=f"os_auth={good}") == 401


def test_header_without_kid_is_400_and_other_algorithms_401(ring: Ring) -> None:
    claims = {"res": {"os:usecase": "attachments"}, "permissions": [READ], "exp": NOW + timedelta(seconds=30)}
    assert ring.status(bearer(jwt.encode(claims, ring.key, algorithm="EdDSA")), scopes=[]) == 400
    assert ring.status(bearer(jwt.encode(claims, "", algorithm="none")), scopes=[]) == 400
    rsa_key = rsa.generate_private_key(65537, 2048)
    for key, alg in ((b"k" * 32, "HS256"), (rsa_key, "RS256"), ("", "none")):
        token = jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1"})
        assert ring.status(bearer(token), scopes=[]) == 401
    # An EdDSA header over an HMAC signature is just a bad signature.
    forged = jwt.encode(claims, b"k" * 32, algorithm="HS256", headers={"kid": "k1"}).split(".")
    header = b64(json.dumps({"alg": "EdDSA", "kid": "k1"}).encode())
    assert ring.status(bearer(f"{header}.{forged[1]}.{forged[2]}"), scopes=[]) == 401


def test_unknown_kid_bad_signature_and_malformed_claims_are_401(ring: Ring) -> None:
    other = Ed25519PrivateKey.generate()
    assert ring.status(bearer(mint_token("k2", ring.key, usecase="u", scopes={}, permissions=[READ], now=NOW))) == 401
    assert ring.status(bearer(mint_token("k1", other, usecase="u", scopes={}, permissions=[READ], now=NOW))) == 401
    exp = NOW.timestamp() + 30
    for claims in (
        [1, 2],
        {"res": {"os:usecase": "attachments"}, "permissions": [READ]},
        {"res": {"os:usecase": "attachments"}, "permissions": [READ], "exp": "soon"},
        {"res": {"os:usecase": "attachments"}, "permissions": [READ], "exp": True},
        {"res": {"os:usecase": "attachments"}, "permissions": [READ], "exp": 1e300},
        {"res": {"os:usecase": 5}, "permissions": [READ], "exp": exp},
        {"res": [], "permissions": [READ], "exp": exp},
        {"res": {"os:usecase": "attachments"}, "permissions": READ, "exp": exp},
    ):
        token = jwt.api_jws.encode(json.dumps(claims).encode(), ring.key, algorithm="EdDSA", headers={"kid": "k1"})
        assert ring.status(bearer(token), scopes=[]) == 401, claims
    no_usecase = jwt.encode({"res": {}, "permissions": [READ], "exp": exp}, ring.key, "EdDSA", headers={"kid": "k1"})
    assert ring.status(bearer(no_usecase), scopes=[]) == 403


def test_expiry_has_60_seconds_of_leeway(ring: Ring) -> None:
    token = ring.token(expires_in=10)
    ring.clock.now = NOW + timedelta(seconds=10 + 59)
    assert ring.check(bearer(token)) is not None
    ring.clock.now = NOW + timedelta(seconds=10 + 61)
    assert ring.status(bearer(token)) == 401


def test_usecase_and_scopes_must_match_or_be_wildcards(ring: Ring) -> None:
    token = ring.token()
    assert ring.status(bearer(token), usecase="other") == 403
    assert ring.status(bearer(token), scopes=[("org", "43"), ("project", "1337")]) == 403
    assert ring.status(bearer(token), scopes=[("org", "42"), ("project", "1337"), ("team", "1")]) == 403
    assert ring.check(bearer(token), scopes=[("org", "42")]) is not None  # extra token scopes are not checked
    assert ring.check(bearer(token), scopes=[]) is not None
    wild = ring.token(usecase="*", scopes={"org": "*", "project": "1337"})
    assert ring.check(bearer(wild), usecase="anything", scopes=[("org", "7"), ("project", "1337")]) is not None
    assert ring.status(bearer(wild), scopes=[("org", "7"), ("project", "1")]) == 403


def test_permissions_are_the_token_intersected_with_the_key_limit() -> None:
    ring = make_ring(max_permissions=frozenset({READ, WRITE}))
    token = ring.token(permissions=[READ, DELETE, "object.list"])
    grant = ring.check(bearer(token))
    assert grant is not None
    assert grant.permissions == {READ}
    assert ring.status(bearer(token), permission=DELETE) == 403
    assert ring.status(bearer(token), permission=WRITE) == 403
    assert ring.status(bearer(ring.token(permissions=[])), permission=READ) == 403


# --- activity and enforcement ---------------------------------------------------------------------------------


def test_inactive_auth_allows_everything() -> None:
    auth = Authenticator([], enforce=False, signer=LinkSigner.generate())
    assert not auth.active
    assert auth.authorize("DELETE", "/p", "", {}, "u", [], DELETE) is None
    assert Authenticator([], enforce=True).active
    with pytest.raises(ApiError) as caught:
        Authenticator([], enforce=True).authorize("GET", "/p", "", {}, "u", [], READ)
    assert caught.value.status == 400


def test_unenforced_keys_verify_log_and_allow(caplog: pytest.LogCaptureFixture) -> None:
    key = Ed25519PrivateKey.generate()
    auth = Authenticator([AuthKey("k1", (key.public_key(),))], enforce=False, clock=Clock())
    assert auth.active
    wrong = mint_token("k1", key, usecase="other", scopes={}, permissions=[READ], now=NOW)
    with caplog.at_level(logging.WARNING, logger="satchel.server.auth"):
        assert auth.authorize("GET", "/p", "", bearer(wrong), "u", [], READ) is None
        assert auth.authorize("GET", "/p", "os_sig=abc&os_kid=k1", {}, "u", [], READ) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert "403" in caplog.records[0].getMessage()
    assert wrong not in caplog.text
    assert "abc" not in caplog.text
    good = mint_token("k1", key, usecase="u", scopes={}, permissions=[READ], now=NOW)
    assert auth.authorize("GET", "/p", "", bearer(good), "u", [], READ) is None


# --- pre-signed URLs ------------------------------------------------------------------------------------------


def presigned(ring: Ring, method: str = "GET", key: str = "a b/c%d", **scopes: str) -> tuple[str, str]:
    client = Client("http://127.0.0.1:9/api/base/", token=SecretKey("k1", private_pem(ring.key)))
    session = client.session(Usecase("attachments"), **(scopes or {"org": "42", "project": "1337"}))
    url = urlsplit(session.presigned_object_url(method, key, timedelta(hours=1)))  # type: ignore[arg-type]
    return url.path, url.query


def test_client_presigned_urls_verify_and_match_presign_query(ring: Ring, frozen_client_time: datetime) -> None:
    path, query = presigned(ring)
    assert path == "/api/base/v1/objects/attachments/org=42;project=1337/a%20b/c%25d"
    for method in ("GET", "HEAD", "get"):
        grant = ring.check(query=query, path=path, method=method, usecase="anything", scopes=[("x", "y")])
        assert grant == Grant(frozenset({READ}), None, {}, True, "k1")
    assert presign_query("GET", path, "k1", ring.key, now=NOW, expires_in=3600) == query
    head_path, head_query = presigned(ring, "HEAD")
    assert ring.check(query=head_query, path=head_path, method="GET") is not None


def test_tampered_presigned_urls_are_401(ring: Ring, frozen_client_time: datetime) -> None:
    path, query = presigned(ring)
    assert ring.status(query=query, path=path.replace("c%25d", "c%25e")) == 401
    assert ring.status(query=query, path=path.replace("a%20b", "a b")) == 401
    assert ring.status(query=f"x=1&{query}", path=path) == 401
    assert ring.status(query=query.replace("os_duration=3600", "os_duration=3601"), path=path) == 401
    sig = parse_qs(query)["os_sig"][0]
    flipped = sig[:40] + ("A" if sig[40] != "A" else "B") + sig[41:]
    assert ring.status(query=query.replace(sig, flipped), path=path) == 401
    assert ring.status(query=query.replace("os_kid=k1", "os_kid=k2"), path=path) == 401
    assert ring.status(query=query, path=path, method="PUT", permission=WRITE) == 401


def test_presigned_window(ring: Ring) -> None:
    path = "/v1/objects/u/_/k"
    query = presign_query("GET", path, "k1", ring.key, now=NOW, expires_in=600)
    for offset, ok in ((-59, True), (-61, False), (600, True), (601, False)):
        ring.clock.now = NOW + timedelta(seconds=offset)
        if ok:
            assert ring.check(query=query, path=path) is not None
        else:
            assert ring.status(query=query, path=path) == 401


def test_presigned_parameters_must_be_present_and_well_formed(ring: Ring) -> None:
    path = "/v1/objects/u/_/k"
    query = presign_query("GET", path, "k1", ring.key, now=NOW, expires_in=600)
    pairs = dict(pair.split("=", 1) for pair in query.split("&"))
    for name in ("os_kid", "os_timestamp", "os_duration"):
        assert ring.status(query="&".join(f"{k}={v}" for k, v in pairs.items() if k != name), path=path) == 400
    for name, value in (
        ("os_duration", "604801"),
        ("os_duration", "-1"),
        ("os_duration", "1e3"),
        ("os_timestamp", "yesterday"),
        ("os_timestamp", "2026-11-21T21:12:30"),
        ("os_sig", "short"),
        ("os_sig", "+" * 86),
        ("os_sig", ""),
    ):
        assert ring.status(query="&".join(f"{k}={value if k == name else v}" for k, v in pairs.items())) == 400
    assert ring.status(query=f"{query}&os_kid=k1", path=path) == 400
    assert ring.status(query=query.replace("os_sig", "OS_SIG"), path=path) == 400  # not pre-signed: no token


def test_presigned_methods_and_permissions() -> None:
    ring = make_ring(max_permissions=frozenset({READ}))
    path = "/v1/objects/u/_/k"
    for method in ("POST", "DELETE", "PATCH"):
        query = f"os_kid=k1&os_sig={'A' * 86}"
        assert ring.status(query=query, path=path, method=method, permission=WRITE) == 403
    put = presign_query("PUT", path, "k1", ring.key, now=NOW, expires_in=600)
    assert ring.status(query=put, path=path, method="PUT", permission=WRITE) == 403

    writer = make_ring()
    put = presign_query("PUT", path, "k1", writer.key, now=NOW, expires_in=600)
    grant = writer.check(query=put, path=path, method="PUT", permission=WRITE)
    assert grant is not None
    assert grant.permissions == {WRITE}
    get = presign_query("GET", path, "k1", writer.key, now=NOW, expires_in=600)
    assert writer.status(query=get, path=path, method="GET", permission=DELETE) == 403

    no_read = make_ring(max_permissions=frozenset({WRITE}))
    get = presign_query("GET", path, "k1", no_read.key, now=NOW, expires_in=600)
    assert no_read.status(query=get, path=path) == 403


def test_presign_query_signs_an_extra_query_and_refuses_bad_arguments(ring: Ring) -> None:
    path = "/v1/objects:multipart:parts/u/_/k"
    query = presign_query("PUT", path, "k1", ring.key, now=NOW, expires_in=60, extra_query="upload_id=x&part_number=2")
    assert query.startswith("upload_id=x&part_number=2&os_kid=k1&os_timestamp=2026-11-21T21:12:30Z&os_duration=60&")
    assert ring.check(query=query, path=path, method="PUT", permission=WRITE) is not None
    assert ring.status(query=query.replace("part_number=2", "part_number=3"), path=path, method="PUT") == 401
    with pytest.raises(ValueError, match="pre-sign"):
        presign_query("POST", path, "k1", ring.key, now=NOW, expires_in=60)
    with pytest.raises(ValueError, match="expires_in"):
        presign_query("GET", path, "k1", ring.key, now=NOW, expires_in=604801)
    with pytest.raises(ValueError, match="aware"):
        presign_query("GET", path, "k1", ring.key, now=datetime(2026, 1, 1), expires_in=60)


_QUERY_TEXT = st.text(alphabet="abcXYZ_=&%20os_sig:.", max_size=40)


@given(method=st.sampled_from(["GET", "HEAD", "put", "Post"]), path=st.text(max_size=20), query=_QUERY_TEXT)
def test_canonical_form_matches_the_client(method: str, path: str, query: str) -> None:
    assert canonical_form(method, path, query) == build_canonical_form(method, path, query)


# --- the server's own signer ----------------------------------------------------------------------------------


def test_link_signer_links_verify_and_its_key_stays_hidden(tmp_path: Path) -> None:
    signer = LinkSigner.generate()
    assert repr(signer) == "LinkSigner(kid='satchel-server')"
    auth = Authenticator([AuthKey("other", (Ed25519PrivateKey.generate().public_key(),))], enforce=True, signer=signer)
    path = "/v1/objects/u/org=1/k"
    for method, permission in (("GET", READ), ("HEAD", READ), ("PUT", WRITE)):
        query = signer.sign(method, path, 60)
        assert auth.authorize(method, path, query, {}, "u", [("org", "1")], permission) is not None
    assert signer.auth_key().max_permissions == {READ, WRITE}
    with pytest.raises(ConfigError):
        Authenticator([signer.auth_key()], enforce=True, signer=signer)

    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "server.pem"
    pem.write_text(private_pem(key))
    loaded = LinkSigner.from_pem_file("srv", pem)
    assert loaded.sign("GET", path, 60, now=NOW) == presign_query("GET", path, "srv", key, now=NOW, expires_in=60)
    public = tmp_path / "public.pem"
    public.write_bytes(public_pem(key))
    rsa_file = tmp_path / "rsa.pem"
    rsa_file.write_bytes(
        rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    for bad in (public, rsa_file, tmp_path / "missing.pem"):
        with pytest.raises(ConfigError) as caught:
            LinkSigner.from_pem_file("srv", bad)
        assert str(bad) in str(caught.value)


# --- garbage never gets past 400/401, and secrets stay out of errors ------------------------------------------


@pytest.fixture(scope="module")
def fuzz_ring() -> Ring:
    return make_ring()


def _json_segment(value: object) -> str:
    return b64(json.dumps(value).encode())


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_HEADERS = st.fixed_dictionaries(
    {}, optional={"alg": st.sampled_from(["EdDSA", "none", "HS256"]) | _JSON, "kid": _JSON}
)
_TOKENS = (
    st.text(max_size=200)
    | st.builds(
        lambda h, p, s: f"{_json_segment(h)}.{_json_segment(p)}.{b64(s)}",
        _HEADERS | _JSON,
        _JSON,
        st.binary(min_size=0, max_size=80),
    )
    | st.just(b64(b"[" * 5000) + ".e30.AA")
)


def status_of(call: Callable[[], object]) -> int | None:
    """Return the ApiError status ``call`` raises, or None when it passes; any other exception propagates."""
    try:
        call()
    except ApiError as err:
        return err.status
    return None


@settings(max_examples=300, deadline=None)
@given(token=_TOKENS, where=st.sampled_from(["x-os-auth", "authorization", "query"]))
def test_any_token_text_is_refused_with_400_or_401(fuzz_ring: Ring, token: str, where: str) -> None:
    if where == "query":
        status = status_of(lambda: fuzz_ring.check(query=f"os_auth={quote(token, safe='')}"))
    else:
        status = status_of(lambda: fuzz_ring.check({where: f"Bearer {token}"}))
    assert status in (400, 401)


@settings(max_examples=300, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.sampled_from(["os_kid", "os_timestamp", "os_duration", "x"]), st.text()), max_size=5)
)
def test_any_presigned_query_is_refused_with_400_or_401(fuzz_ring: Ring, pairs: list[tuple[str, str]]) -> None:
    query = "&".join(f"{k}={quote(v, safe=':')}" for k, v in [*pairs, ("os_sig", "A" * 86)])
    assert status_of(lambda: fuzz_ring.check(query=query, method="HEAD")) in (400, 401)


@settings(max_examples=200, deadline=None)
@given(claims=_JSON | st.dictionaries(st.sampled_from(["res", "permissions", "exp", "nbf", "aud", "iss"]), _JSON))
def test_any_signed_claims_are_refused_cleanly_or_granted(fuzz_ring: Ring, claims: object) -> None:
    payload = json.dumps(claims).encode()
    token = jwt.api_jws.encode(payload, fuzz_ring.key, algorithm="EdDSA", headers={"kid": "k1"})
    assert status_of(lambda: fuzz_ring.check(bearer(token), scopes=[])) in (None, 400, 401, 403)


def test_errors_and_reprs_never_show_tokens_signatures_or_keys(ring: Ring) -> None:
    token = ring.token(usecase="other")
    signature = token.rsplit(".", 1)[1]
    material = private_pem(ring.key)
    for headers, kwargs in (
        (bearer(token), {}),
        (bearer(token[:-3]), {}),
        (bearer(token + "x"), {}),
        ({}, {"query": f"os_auth={token}&x=1"}),
    ):
        with pytest.raises(ApiError) as caught:
            ring.check(headers, **kwargs)  # type: ignore[arg-type]
        shown = f"{caught.value} {caught.value!r} {caught.value.body()}"
        assert signature[:20] not in shown
        assert token[:30] not in shown
    query = presign_query("GET", "/p", "k1", ring.key, now=NOW, expires_in=60)
    sig = parse_qs(query)["os_sig"][0]
    with pytest.raises(ApiError) as caught:
        ring.check(query=query, path="/q")
    assert sig not in str(caught.value.body())
    auth_key = AuthKey("k1", (ring.key.public_key(),))
    for text in (repr(auth_key), repr(ring.auth), repr(LinkSigner("k", ring.key))):
        assert material.splitlines()[1] not in text
        assert b64(ring.key.public_key().public_bytes_raw()) not in text


def test_secret_key_permissions_subset_is_respected(ring: Ring) -> None:
    secret = SecretKey("k1", private_pem(ring.key), permissions=[Permission.OBJECT_READ])
    ring.clock.now = datetime.now(UTC)
    token = secret.token_for_scope("attachments", Scope(org=42, project=1337))
    assert ring.check(bearer(token)) is not None
    assert ring.status(bearer(token), permission=WRITE) == 403
