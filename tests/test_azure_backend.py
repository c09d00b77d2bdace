"""The Azure Blob backend against Azurite: the whole conformance suite, SAS signing, configuration and bad input.

Containers are made with Azure's Create Container REST call signed with the development account's shared key
(the Azure SDK is not a dependency): one fresh container per store case.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import pytest

import satchel
import servers
from satchel.backend import innermost
from satchel.backends.obstore._azure_metadata import (
    escape_attributes,
    escape_name,
    unescape_attributes,
    unescape_name,
)
from satchel.backends.obstore.azure import AzureBackend, AzureConfig
from satchel.errors import ConfigError, InvalidPath, NotFound, PermissionDenied, SatchelError, Unauthenticated
from satchel.secret import Secret
from satchel.testing import ConformanceTests
from satchel.testing._putget import ODD_NAMES
from satchel.types import TTL, Attributes


def create_container(server: servers.Server, name: str) -> None:
    """Create container ``name`` on Azurite with a request signed by the account's shared key."""
    account, key = server.extra["account"], server.extra["key"]
    headers = {"x-ms-date": formatdate(usegmt=True), "x-ms-version": "2021-08-06"}
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in sorted(headers.items()))
    content_type = "application/octet-stream"
    resource = f"/{account}/{account}/{name}\nrestype:container"
    to_sign = "\n".join(["PUT", "", "", "", "", content_type, "", "", "", "", "", ""]) + "\n"
    to_sign += canonical_headers + resource
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    headers["Authorization"] = f"SharedKey {account}:{base64.b64encode(digest).decode()}"
    headers["Content-Type"] = content_type
    url = f"{server.endpoint}/{account}/{name}?restype=container"
    request = urllib.request.Request(url, data=b"", method="PUT", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def fresh_container(server: servers.Server) -> str:
    """Create a container with a random name and return the name."""
    name = f"c-{secrets.token_hex(8)}"
    create_container(server, name)
    return name


def endpoint(server: servers.Server) -> str:
    """Azurite's blob endpoint for its development account."""
    return f"{server.endpoint}/{server.extra['account']}"


def options(server: servers.Server, **extra: Any) -> dict[str, Any]:
    """The keyword options of ``satchel.open`` that reach Azurite with the development account."""
    return {
        "account_name": server.extra["account"],
        "account_key": server.extra["key"],
        "endpoint_url": endpoint(server),
        "max_retries": 0,
        **extra,
    }


def backend(server: servers.Server, container: str, **extra: Any) -> AzureBackend:
    """A bare Azure backend on ``container``."""
    fields = dict(options(server, **extra).items())
    return AzureBackend.from_config(AzureConfig(container=container, **fields))


STORE_CASES = ["azure-bare", "azure-stack"]


@pytest.fixture(scope="module")
def containers(azurite_server: servers.Server) -> dict[str, str]:
    """One fresh container per store case for the module."""
    return {case: fresh_container(azurite_server) for case in STORE_CASES}


@pytest.fixture(params=STORE_CASES)
def store(
    request: pytest.FixtureRequest, azurite_server: servers.Server, containers: dict[str, str]
) -> Iterator[satchel.Store]:
    """The Azure store: the bare backend, or ``satchel.open``'s whole stack with a URL prefix."""
    container = containers[request.param]
    if request.param == "azure-bare":
        built = satchel.Store(backend(azurite_server, container))
    else:
        built = satchel.open(f"az://{container}/ns", **options(azurite_server))
    with built:
        yield built


class TestAzureConformance(ConformanceTests):
    """Every conformance test against Azurite."""

    @pytest.fixture
    def many_keys(self, request: pytest.FixtureRequest) -> int:
        # Azurite lists 1,100 keys quickly; once per module is enough to cover the paging.
        return 1100 if "azure-bare" in request.node.callspec.id else 0

    @pytest.fixture
    def advance(self) -> Callable[[float], None]:
        return time.sleep

    @pytest.mark.parametrize(
        "name",
        [
            pytest.param(
                name,
                marks=pytest.mark.xfail(
                    raises=InvalidPath,
                    strict=True,
                    reason="Azure Blob turns '\\' in blob names into '/': the backend refuses such keys",
                ),
            )
            if "\\" in name
            else name
            for name in ODD_NAMES
        ],
    )
    def test_odd_keys_round_trip(self, store: satchel.Store, prefix: str, name: str) -> None:
        super().test_odd_keys_round_trip(store, prefix, name)


# --- signing --------------------------------------------------------------------------------------------------


@pytest.fixture
def az_store(azurite_server: servers.Server) -> Iterator[satchel.Store]:
    """A bare Azure store on a fresh container."""
    with satchel.Store(backend(azurite_server, fresh_container(azurite_server))) as store:
        yield store


def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    headers = {"x-ms-blob-type": "BlockBlob"} if method == "PUT" else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_signed_get_needs_no_credentials(az_store: satchel.Store) -> None:
    az_store.put("signed/object", b"shared")
    url = az_store.sign("signed/object", "GET", expires_in=60)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["sp"] == ["r"]
    assert "sig" in query
    assert "se" in query
    assert _fetch(url) == (200, b"shared")


def test_signed_put_uploads_without_credentials(az_store: satchel.Store) -> None:
    url = az_store.sign("signed/upload", "PUT", expires_in=60)
    status, _ = _fetch(url, "PUT", b"uploaded")
    assert status == 201
    assert az_store.get_bytes("signed/upload") == b"uploaded"


def test_signed_url_only_allows_its_method(az_store: satchel.Store) -> None:
    az_store.put("signed/object", b"original")
    get_url = az_store.sign("signed/object", "GET", expires_in=60)
    put_url = az_store.sign("signed/object", "PUT", expires_in=60)
    assert _fetch(get_url, "PUT", b"tampered")[0] == 403
    assert _fetch(put_url)[0] == 403
    assert az_store.get_bytes("signed/object") == b"original"


def test_expired_signed_url_is_refused(az_store: satchel.Store) -> None:
    az_store.put("signed/object", b"data")
    url = az_store.sign("signed/object", "GET", expires_in=1)
    time.sleep(2.2)  # Azurite enforces the SAS expiry (seconds resolution), as Azure does
    assert _fetch(url)[0] == 403


def test_tampered_signed_url_is_refused(az_store: satchel.Store) -> None:
    az_store.put("signed/object", b"data")
    az_store.put("signed/other", b"other")
    url = az_store.sign("signed/object", "GET", expires_in=60)
    assert _fetch(url.replace("signed/object", "signed/other"))[0] == 403


def test_sas_token_store_reads_but_cannot_sign(azurite_server: servers.Server) -> None:
    container = fresh_container(azurite_server)
    keyed = satchel.Store(backend(azurite_server, container))
    keyed.put("k", b"via sas")
    token = urllib.parse.urlsplit(keyed.sign("k", "GET", expires_in=300)).query
    sas = satchel.open(
        f"az://{container}",
        account_name=azurite_server.extra["account"],
        sas_token="?" + token,
        endpoint_url=endpoint(azurite_server),
        max_retries=0,
    )
    assert sas.get_bytes("k") == b"via sas"
    assert not innermost(sas.backend).capabilities.signing
    with pytest.raises(PermissionDenied):
        sas.put("k", b"read-only token")  # the token grants read only
    with pytest.raises(satchel.NotSupported):
        sas.sign("k")


# --- configuration ----------------------------------------------------------------------------------------------


def test_url_options_and_prefix(azurite_server: servers.Server) -> None:
    container = fresh_container(azurite_server)
    query = urllib.parse.urlencode(options(azurite_server))
    store = satchel.open(f"az://{container}/some/prefix?{query}")
    store.put("k", b"v")
    bare = satchel.Store(backend(azurite_server, container))
    assert [meta.key for meta in bare.list()] == ["some/prefix/k"]


def test_connection_string(azurite_server: servers.Server) -> None:
    container = fresh_container(azurite_server)
    account, key = azurite_server.extra["account"], azurite_server.extra["key"]
    text = (
        f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint(azurite_server)};"
    )
    store = satchel.open(f"az://{container}", connection_string=text, max_retries=0)
    store.put("k", b"v")
    assert store.get_bytes("k") == b"v"
    config = AzureConfig(container=container, connection_string=Secret(text))
    assert (config.account_name, config.endpoint_url) == (account, endpoint(azurite_server))
    assert isinstance(config.account_key, Secret)


def test_emulator_defaults() -> None:
    config = AzureConfig(container="box", use_emulator=True)
    assert config.account_name == "devstoreaccount1"
    assert config.endpoint == "http://127.0.0.1:10000/devstoreaccount1"
    assert config.account_key is not None
    development = AzureConfig(container="box", connection_string=Secret("UseDevelopmentStorage=true"))
    assert development.endpoint == config.endpoint


def test_secrets_stay_hidden(azurite_server: servers.Server) -> None:
    key = azurite_server.extra["key"]
    config = AzureConfig(container="box", account_name="acct", account_key=Secret(key), endpoint_url="http://h/acct")
    assert key not in repr(config)
    assert key not in str(config)
    built = AzureBackend.from_config(config)
    assert key not in repr(built)
    sas = AzureConfig(container="box", account_name="acct", sas_token=Secret("sv=1&sig=SECRETSIG"))
    assert "SECRETSIG" not in repr(sas)


@pytest.mark.parametrize(
    "fields",
    [
        {"container": "Bad_Name", "account_name": "a"},
        {"container": "ab", "account_name": "a"},
        {"container": "box"},
        {"container": "box", "account_name": "a", "account_key": "k", "sas_token": "t"},
        {"container": "box", "connection_string": "no pairs here"},
    ],
)
def test_bad_configuration(fields: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        AzureConfig(**fields)  # type: ignore[arg-type]


# --- bad input ----------------------------------------------------------------------------------------------------


def test_wrong_key_is_refused_without_leaking_it(azurite_server: servers.Server) -> None:
    container = fresh_container(azurite_server)
    wrong = base64.b64encode(b"not the key" * 6).decode()
    store = satchel.Store(backend(azurite_server, container, account_key=wrong))
    for call in (lambda: store.get_bytes("k"), lambda: store.put("k", b"x"), lambda: list(store.list())):
        with pytest.raises((Unauthenticated, PermissionDenied)) as info:
            call()
        error = info.value
        assert isinstance(error, SatchelError)
        assert error.backend == "azure"
        for text in (str(error), repr(error)):
            assert wrong not in text
            assert azurite_server.extra["key"] not in text


def test_missing_container_is_a_clear_error(azurite_server: servers.Server) -> None:
    store = satchel.Store(backend(azurite_server, "no-such-container"))
    with pytest.raises(ConfigError) as info:
        store.put("k", b"x")
    assert "container" in str(info.value)
    assert "no-such-container" in str(info.value)
    with pytest.raises(ConfigError):
        store.get_bytes("k")
    with pytest.raises(ConfigError):
        list(store.list())


def test_unreachable_endpoint_is_retryable() -> None:
    config = AzureConfig(
        container="box", use_emulator=True, endpoint_url="http://127.0.0.1:9/devstoreaccount1", max_retries=0
    )
    store = satchel.Store(AzureBackend.from_config(config))
    with pytest.raises(SatchelError) as info:
        store.get_bytes("k")
    assert info.value.retryable
    assert "127.0.0.1:9" in str(info.value)


def test_missing_key_in_a_batch_delete(az_store: satchel.Store) -> None:
    az_store.put("a", b"1")
    az_store.put("c", b"3")
    az_store.delete_many(["a", "b", "c"])
    assert list(az_store.list()) == []
    with pytest.raises(NotFound):
        az_store.head("a")


# --- metadata names -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plain", "with-dash", "dot.ted", "under_score", "_lead", "9digit", "é", "a_2d"])
def test_metadata_names_escape_reversibly(name: str) -> None:
    escaped = escape_name(name)
    assert escaped.replace("_", "a").isalnum()
    assert not escaped[0].isdigit()
    assert unescape_name(escaped) == name


def test_layer_attributes_escape_reversibly() -> None:
    attributes = Attributes(content_type="text/plain", compression="zstd", expiration=TTL(30), metadata={"x-y": "z"})
    escaped = escape_attributes(attributes)
    assert escaped.compression is None
    assert escaped.expiration is None
    assert all("-" not in name for name in escaped.metadata)
    assert unescape_attributes(escaped) == attributes


def test_metadata_names_azure_refuses_round_trip(az_store: satchel.Store) -> None:
    az_store.put("k", b"v", metadata={"my-key": "1", "dot.ted": "2", "plain": "3"})
    assert dict(az_store.head("k").metadata) == {"my-key": "1", "dot.ted": "2", "plain": "3"}
