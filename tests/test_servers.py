"""The test servers start on loopback and answer their protocol (the remote backends' tests rely on them)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import servers


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


def test_moto_answers_s3(moto_server: servers.Server) -> None:
    assert moto_server.host == "127.0.0.1"
    assert _status(moto_server.endpoint + "/") == 200  # ListBuckets


def test_azurite_answers_blob(azurite_server: servers.Server) -> None:
    assert azurite_server.host == "127.0.0.1"
    # Unauthenticated: Azurite answers, and refuses.
    assert _status(f"{azurite_server.endpoint}/{azurite_server.extra['account']}?comp=list") in (400, 403)


def test_gcs_emulator_answers_json_api(gcs_server: servers.Server) -> None:
    assert _status(gcs_server.endpoint + "/storage/v1/b?project=test") == 200


def test_sshd_speaks_ssh(sshd_server: servers.Server) -> None:
    with socket.create_connection((sshd_server.host, sshd_server.port), timeout=10) as connection:
        assert connection.recv(64).startswith(b"SSH-2.0-OpenSSH")
