"""The servers ``bench/server.py`` compares, each started on a free 127.0.0.1 port and reached by plain HTTP.

nginx's WebDAV is the ceiling; Azurite (with an account SAS in the query string) and moto (unsigned path-style
requests) are the emulators the tests already use; ``satchel serve`` is started once per ASGI engine. The ASGI
floor (``_floor_app.py`` under uvicorn) shows how far any app under uvicorn can go on the machine; the file floor
(``_file_floor_app.py``) how far one that makes satchel's local-folder system calls can.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _nginx
import _process
import servers
from _http import LeanClient

HEALTH_TIMEOUT = 30.0
BUCKET = "bench"
SAS_VERSION = "2021-08-06"


@dataclass
class Contender:
    """A running server and how to address an object on it with the lean client."""

    name: str
    server: servers.Server
    prefix: str  # the request path up to the key
    suffix: str = ""  # appended after the key (Azurite's SAS query)
    put_headers: dict[str, str] = field(default_factory=dict)
    put_ok: tuple[int, ...] = (200,)
    client: LeanClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = LeanClient(self.server.host, self.server.port)

    def path(self, key: str) -> str:
        """The request target of object ``key``."""
        return f"{self.prefix}{key}{self.suffix}"

    @property
    def pid(self) -> int:
        """The PID the server was started with (the root of its process tree)."""
        return self.server.process.pid

    def stop(self) -> None:
        """Close the client's connections and stop the server by its PID."""
        self.client.close()
        servers.stop(self.server)


def start_nginx() -> Contender:
    """nginx with ``dav_methods PUT``: 201 on create, 204 on overwrite."""
    return Contender("nginx", _nginx.start(), "/", put_ok=(201, 204))


def start_floor() -> Contender:
    """A bare ASGI app under uvicorn (``bench/_floor_app.py``), configured as ``satchel serve`` runs uvicorn."""
    return _start_uvicorn_app("asgi-floor", "_floor_app")


def start_file_floor() -> Contender:
    """satchel's local-folder system calls in a bare ASGI app under uvicorn (``bench/_file_floor_app.py``)."""
    return _start_uvicorn_app("file-floor", "_file_floor_app")


def _start_uvicorn_app(name: str, module: str) -> Contender:
    port = servers.free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(Path(__file__).resolve().parent),
        f"{module}:app",
        "--host",
        servers.HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--no-server-header",
        "--timeout-keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    return Contender(name, _start_healthy(name, argv, workdir, port), "/bench/")


def start_moto() -> Contender:
    """moto's S3 server with one bucket, reached by unsigned path-style requests that a bucket policy allows.

    Without the policy moto answers an unsigned GET with 403; with a policy naming only GetObject it refuses an
    unsigned overwrite, so the policy allows both.
    """
    contender = Contender("moto", servers.start_moto(), f"/{BUCKET}/")
    actions = ["s3:GetObject", "s3:PutObject"]
    statement = {"Effect": "Allow", "Principal": "*", "Action": actions, "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]}).encode()
    try:
        contender.client.put(f"/{BUCKET}", b"", {}, ok=(200,))
        contender.client.put(f"/{BUCKET}?policy", policy, {}, ok=(200, 204))
    except BaseException:
        contender.stop()
        raise
    return contender


def start_azurite() -> Contender:
    """Azurite's blob service with one container, addressed with an account SAS made from the dev account key."""
    server = servers.start_azurite()
    account = server.extra["account"]
    sas = account_sas(account, server.extra["key"])
    contender = Contender(
        "azurite",
        server,
        f"/{account}/{BUCKET}/",
        suffix=f"?{sas}",
        put_headers={"x-ms-blob-type": "BlockBlob"},
        put_ok=(201,),
    )
    try:
        contender.client.put(f"/{account}/{BUCKET}?restype=container&{sas}", b"", {}, ok=(201,))
    except BaseException:
        contender.stop()
        raise
    return contender


def account_sas(account: str, key: str, hours: int = 12) -> str:
    """Return an account SAS query string (blob service, every resource type, read/write/create/delete).

    The signature is HMAC-SHA256, under the base64-decoded account key, of the fields Azure's "account SAS"
    string-to-sign lists for versions from 2020-12-06 on (the last is the empty encryption scope).
    """
    expiry = (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = {"sp": "rwdlac", "ss": "b", "srt": "sco", "se": expiry, "sv": SAS_VERSION}
    to_sign = "\n".join([account, fields["sp"], fields["ss"], fields["srt"], "", expiry, "", "", SAS_VERSION, "", ""])
    digest = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()
    return urllib.parse.urlencode({**fields, "sig": base64.b64encode(digest).decode()})


def serve_argv(engine: str, store: Path, port: int) -> list[str]:
    """The command that starts ``satchel serve`` with ``engine`` on ``port`` over a local folder without fsync
    (nginx's WebDAV does not fsync either)."""
    return [
        sys.executable,
        "-m",
        "satchel.cli",
        "serve",
        "--store",
        f"file://{store}?fsync=false",
        "--host",
        servers.HOST,
        "--port",
        str(port),
        "--engine",
        engine,
    ]


def start_satchel(engine: str) -> Contender:
    """Start ``satchel serve --engine ENGINE`` and wait until ``GET /health`` answers 200.

    Raises :class:`servers.ServerFailed` with the command and the end of its log if it exits or is not
    healthy within 30 s.
    """
    workdir = Path(tempfile.mkdtemp(prefix=f"satchel-serve-{engine}-"))
    store = workdir / "store"
    store.mkdir()
    port = servers.free_port()
    server = _start_healthy(f"satchel serve ({engine})", serve_argv(engine, store, port), workdir, port)
    return Contender(f"satchel-{engine}", server, f"/v1/objects/{BUCKET}/_/")


def _start_healthy(name: str, argv: list[str], workdir: Path, port: int) -> servers.Server:
    """Start ``argv`` in ``workdir`` (its output in ``server.log`` there) and wait until ``GET /health`` is 200.

    Raises :class:`servers.ServerFailed` with the command and the end of its log if it exits or is not
    healthy within 30 s.
    """
    log = (workdir / "server.log").open("wb")
    try:
        # Access logs off, as nginx's are (``access_log off``): the same work on both sides.
        env = {**os.environ, "SATCHEL_ACCESS_LOG": "false"}
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True, env=env
        )
    finally:
        log.close()
    server = servers.Server(name, process, servers.HOST, port, workdir)
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = server.log_tail()
            servers.stop(server)
            raise servers.ServerFailed(f"{' '.join(argv)}\nexited with {process.returncode} at start:\n{tail}")
        if _healthy(port):
            return server
        time.sleep(0.1)
    tail = server.log_tail()
    servers.stop(server)
    raise servers.ServerFailed(
        f"{' '.join(argv)}\ndid not answer GET /health with 200 within {HEALTH_TIMEOUT:.0f}s:\n{tail}"
    )


def _healthy(port: int) -> bool:
    if not _process.listening(servers.HOST, port):
        return False
    conn = http.client.HTTPConnection(servers.HOST, port, timeout=2)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def probe(contender: Contender) -> None:
    """PUT a small object and read it back, so a server that misbehaves fails before any timing starts.

    Raises :class:`AssertionError` or :class:`_http.RequestFailed` with the contender's name.
    """
    data = os.urandom(100)
    buffer = memoryview(bytearray(4096))
    answer = contender.client.put(contender.path("probe/object"), data, contender.put_headers, contender.put_ok)
    if contender.name.startswith("satchel"):
        assert json.loads(answer).get("key") == "probe/object", f"{contender.name}: PUT answered {answer[:300]!r}"
    got = contender.client.get_into(contender.path("probe/object"), buffer, {})
    assert buffer[:got] == data, f"{contender.name}: GET returned other bytes than PUT sent"
