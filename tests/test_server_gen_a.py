"""The real ``objectstore-client`` 0.0.9 (protocol generation A, spec a.10) against ``satchel serve``.

0.0.9 cannot share ``.venv`` with 0.2.10, so it lives in ``.venv-gen-a`` (``scripts/gen-a-env``, run by
``scripts/test``) and ``gen_a_driver.py`` drives it there in a subprocess: the test sends it operations as JSON
and checks what it printed. The client keeps its defaults, 0.5 s connect and read timeouts included. Objects
written by one generation must be read whole, with their metadata, by the other (0.2.10 in this process).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import urllib3
from objectstore_client import Client, Usecase
from objectstore_client.client import Session
from objectstore_client.metadata import TimeToIdle, TimeToLive

import servers

ROOT = Path(__file__).resolve().parent.parent
GEN_A_PYTHON = ROOT / ".venv-gen-a" / "bin" / "python"
DRIVER = Path(__file__).with_name("gen_a_driver.py")
SCOPES = {"org": 42, "project": 1337}
USECASE = "attachments"
TTI_30D_1H = 30 * 86400 + 3600


def payload(seed: int, size: int) -> bytes:
    """The bytes the driver makes for ``{"seed": seed, "size": size}``."""
    return random.Random(seed).randbytes(size)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gen_a(server: servers.Server, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``ops`` with the 0.0.9 client in ``.venv-gen-a``; return one result per operation."""
    if not GEN_A_PYTHON.exists():
        pytest.fail(f"{GEN_A_PYTHON} is missing: run scripts/gen-a-env (scripts/test runs it) to build it")
    request = {"endpoint": server.endpoint, "usecase": USECASE, "scopes": SCOPES, "ops": ops}
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(
        [str(GEN_A_PYTHON), str(DRIVER)],
        input=json.dumps(request).encode(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"the gen A driver failed:\n{done.stderr.decode(errors='replace')}"
    answer = json.loads(done.stdout)
    assert answer["version"] == "0.0.9"
    results: list[dict[str, Any]] = answer["results"]
    assert len(results) == len(ops)
    return results


@pytest.fixture(scope="module")
def server() -> Iterator[servers.Server]:
    started = servers.start_satchel()
    yield started
    servers.stop(started)


@pytest.fixture
def gen_c(server: servers.Server) -> Session:
    return Client(server.endpoint).session(Usecase(USECASE), **SCOPES)


def test_gen_a_api(server: servers.Server) -> None:
    big = {"seed": 2, "size": 2 << 20}  # several 1 MiB response chunks, each within the 0.5 s read timeout
    ops: list[dict[str, Any]] = [
        {
            "op": "put",
            "payload": {"seed": 1, "size": 5000},
            "content_type": "text/plain",
            "metadata": {"a": "b"},
            "expiration": {"tti": TTI_30D_1H},
        },
        {"op": "put", "payload": big, "key": "my/key 1", "compression": "none", "expiration": {"ttl": 90}},
        {"op": "get", "key": "my/key 1"},
        {"op": "object_url", "key": "my/key 1"},
        {"op": "put", "payload": {"seed": 3, "size": 10}, "key": "my/key 1", "compression": "zstd"},
        {"op": "get", "key": "my/key 1"},
    ]
    put, big_put, big_get, url, overwrite, small_get = gen_a(server, ops)
    key = put["key"]
    assert len(key) == 36  # a uuid4 made by the server
    assert big_put == {"key": "my/key 1"}
    assert big_get == {
        "size": big["size"],
        "sha256": sha256(payload(**big)),
        "content_type": "application/octet-stream",
        "compression": None,
        "custom": {},
        "expiration": {"ttl": 90},
    }
    # 0.0.9 writes the key into the URL unencoded; urllib3 encodes the space when it is fetched.
    assert url["url"] == f"{server.endpoint}/v1/my/key 1?usecase={USECASE}&scope=org.42%2Fproject.1337"
    assert overwrite == {"key": "my/key 1"}
    assert small_get["sha256"] == sha256(payload(3, 10))
    assert small_get["expiration"] is None  # the overwrite replaced the metadata too

    later = gen_a(
        server,
        [
            {"op": "get", "key": key},
            {"op": "get", "key": key, "decompress": False},
            {"op": "delete", "key": key},
            {"op": "get", "key": key},
            {"op": "delete", "key": key},
        ],
    )
    got, raw, deleted, missing, deleted_again = later
    assert got == {
        "size": 5000,
        "sha256": sha256(payload(1, 5000)),
        "content_type": "text/plain",
        "compression": None,  # decompressed by the client
        "custom": {"a": "b"},
        "expiration": {"tti": TTI_30D_1H},
    }
    assert raw["compression"] == "zstd"
    assert raw["sha256"] != got["sha256"]
    assert deleted == {}
    assert missing["error"] == "RequestError"
    assert missing["status"] == 404  # generation A raises instead of returning None
    assert deleted_again == {}


def test_gen_a_object_url_is_fetchable(server: servers.Server) -> None:
    put, url = gen_a(
        server,
        [
            {"op": "put", "payload": {"seed": 4, "size": 300}, "key": "linked", "compression": "none"},
            {"op": "object_url", "key": "linked"},
        ],
    )
    assert put == {"key": "linked"}
    response = urllib3.request("GET", url["url"], retries=False)
    assert response.status == 200
    assert response.data == payload(4, 300)


def test_gen_a_writes_are_read_by_gen_c(server: servers.Server, gen_c: Session) -> None:
    ops: list[dict[str, Any]] = [
        {
            "op": "put",
            "payload": {"seed": 5, "size": 70_000},
            "key": "from-a/zstd",
            "content_type": "text/plain",
            "metadata": {"origin-gen": "a"},
            "expiration": {"tti": TTI_30D_1H},
        },
        {"op": "put", "payload": {"seed": 6, "size": 1234}, "key": "from-a/plain key", "compression": "none"},
        {"op": "put", "payload": {"seed": 7, "size": 50}, "expiration": {"ttl": 90}},
    ]
    zstd_put, plain_put, keyless_put = gen_a(server, ops)
    assert plain_put == {"key": "from-a/plain key"}
    got = gen_c.get(zstd_put["key"])
    assert got is not None
    assert got.payload.read() == payload(5, 70_000)
    assert got.metadata.content_type == "text/plain"
    assert got.metadata.custom == {"origin-gen": "a"}
    assert got.metadata.expiration_policy == TimeToIdle(timedelta(seconds=TTI_30D_1H))
    stored = gen_c.head(zstd_put["key"])
    assert stored is not None
    assert stored.compression == "zstd"
    plain = gen_c.get("from-a/plain key")
    assert plain is not None
    assert plain.payload.read() == payload(6, 1234)
    assert plain.metadata.compression is None
    keyless = gen_c.get(keyless_put["key"])
    assert keyless is not None
    assert keyless.payload.read() == payload(7, 50)
    assert keyless.metadata.expiration_policy == TimeToLive(timedelta(seconds=90))
    gen_c.delete("from-a/plain key")
    (missing,) = gen_a(server, [{"op": "get", "key": "from-a/plain key"}])
    assert missing["status"] == 404


def test_gen_c_writes_are_read_by_gen_a(gen_c: Session, server: servers.Server) -> None:
    gen_c.put(
        payload(8, 90_000),
        key="from-c/zstd",
        compress="zstd",
        content_type="application/json",
        metadata={"origin-gen": "c"},
        expiration_policy=TimeToLive(timedelta(days=2, seconds=30)),
    )
    gen_c.put(payload(9, 4321), key="from-c/plain key", compress="none", metadata={"n": "1"})
    zstd_get, raw_get, plain_get, plain_delete = gen_a(
        server,
        [
            {"op": "get", "key": "from-c/zstd"},
            {"op": "get", "key": "from-c/zstd", "decompress": False},
            {"op": "get", "key": "from-c/plain key"},
            {"op": "delete", "key": "from-c/plain key"},
        ],
    )
    assert zstd_get == {
        "size": 90_000,
        "sha256": sha256(payload(8, 90_000)),
        "content_type": "application/json",
        "compression": None,
        "custom": {"origin-gen": "c"},
        "expiration": {"ttl": 2 * 86400 + 30},
    }
    assert raw_get["compression"] == "zstd"
    assert plain_get["sha256"] == sha256(payload(9, 4321))
    assert plain_get["custom"] == {"n": "1"}
    assert plain_get["compression"] is None
    assert plain_delete == {}
    assert gen_c.get("from-c/plain key") is None
