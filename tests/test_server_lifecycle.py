"""``satchel serve`` as a process: start-up, the loopback rule, settings from the environment, clean stops."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import servers
from satchel.server.app import SWEEP_SHARE, sweep_delay


def test_health_answers_within_a_second_of_launch(tmp_path: Path) -> None:
    started = time.monotonic()
    server = servers.start_satchel(workdir=tmp_path)
    try:
        assert time.monotonic() - started < 5  # generous for a loaded CI machine; typically ~0.5 s
        log = server.log_tail()
        assert f"http://127.0.0.1:{server.port}" in log
        assert "auth is OFF" in log
    finally:
        servers.stop(server)


def test_settings_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text("[usecases.small]\nmax_object_size = 10\n")
    server = servers.start_satchel(env={"SATCHEL_CONFIG": str(config)}, workdir=tmp_path)
    try:
        connection = http.client.HTTPConnection(server.host, server.port)
        connection.request("PUT", "/v1/objects/small/_/k", body=b"x" * 11)
        response = connection.getresponse()
        assert response.status == 413
        assert "detail" in json.loads(response.read())
        connection.close()
        connection = http.client.HTTPConnection(server.host, server.port)
        connection.request("PUT", "/v1/objects/small/_/k", body=b"x" * 10)
        assert connection.getresponse().status == 200
    finally:
        servers.stop(server)


def test_a_public_host_without_auth_is_refused(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "satchel.cli", "serve", "--host", "0.0.0.0", "--data", str(tmp_path / "d")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "loopback" in done.stderr


def _chunks(count: int, pause: float) -> Iterator[bytes]:
    for _ in range(count):
        time.sleep(pause)
        yield b"z" * 65536


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_finishes_the_writes_in_flight(tmp_path: Path, signum: int) -> None:
    server = servers.start_satchel(workdir=tmp_path)
    try:
        result: dict[str, object] = {}

        def upload() -> None:
            connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
            connection.request("PUT", "/v1/objects/life/_/slow", body=_chunks(20, 0.05), encode_chunked=True)
            response = connection.getresponse()
            result["status"] = response.status
            result["body"] = response.read()

        writer = threading.Thread(target=upload)
        writer.start()
        time.sleep(0.3)  # the upload is under way
        os.killpg(server.process.pid, signum)
        writer.join(timeout=30)
        assert result.get("status") == 200, result
        # uvicorn re-raises the signal once it has shut down, as a process stopped by it should.
        assert server.process.wait(timeout=30) in (0, -signum)
        stored = tmp_path / "data" / "life" / "objects" / "slow"
        assert stored.read_bytes() == b"z" * 65536 * 20
    finally:
        servers.stop(server)


@pytest.mark.parametrize(("last_sweep", "delay"), [(0.0, 60.0), (1.0, 60.0), (3.0, 60.0), (10.0, 190.0)])
def test_a_long_sweep_waits_longer_for_the_next(last_sweep: float, delay: float) -> None:
    assert sweep_delay(60.0, last_sweep) == pytest.approx(delay)
    assert last_sweep / (last_sweep + sweep_delay(60.0, last_sweep)) <= SWEEP_SHARE + 1e-9


def test_the_sweeper_deletes_expired_objects(tmp_path: Path) -> None:
    server = servers.start_satchel(env={"SATCHEL_SWEEP_INTERVAL": "1"}, workdir=tmp_path)
    try:
        connection = http.client.HTTPConnection(server.host, server.port)
        connection.request("PUT", "/v1/objects/sweep/_/brief", body=b"x", headers={"x-sn-expiration": "ttl:1s"})
        assert connection.getresponse().read()
        connection.request("PUT", "/v1/objects/sweep/_/kept", body=b"y")
        assert connection.getresponse().read()
        stored = tmp_path / "data" / "sweep" / "objects"
        assert (stored / "brief").exists()
        deadline = time.monotonic() + 20
        while (stored / "brief").exists():
            assert time.monotonic() < deadline, "the sweeper never deleted the expired object"
            time.sleep(0.2)
        assert (stored / "kept").exists()
        connection.request("GET", "/metrics")
        metrics = connection.getresponse().read().decode()
        assert "satchel_objects_expired_total 1.0" in metrics
    finally:
        servers.stop(server)


def test_overload_is_answered_503(tmp_path: Path) -> None:
    server = servers.start_satchel(env={"SATCHEL_MAX_REQUESTS": "1"}, workdir=tmp_path)
    try:
        slow = threading.Thread(target=lambda: _put(server, "/v1/objects/busy/_/slow", _chunks(10, 0.1)), daemon=True)
        slow.start()
        time.sleep(0.3)
        connection = http.client.HTTPConnection(server.host, server.port)
        connection.request("GET", "/v1/objects/busy/_/other")
        response = connection.getresponse()
        assert response.status == 503
        assert response.getheader("retry-after") == "1"
        slow.join(timeout=30)
    finally:
        servers.stop(server)


def _put(server: servers.Server, path: str, body: Iterator[bytes]) -> int:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    connection.request("PUT", path, body=body, encode_chunked=True)
    response = connection.getresponse()
    response.read()
    return response.status
