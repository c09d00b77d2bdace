"""Real servers for the remote backends' tests, each started on a free 127.0.0.1 port and stopped by its PID.

moto in server mode (S3), Azurite (Azure Blob, from npm), gcp-storage-emulator (GCS) and OpenSSH's sshd (SFTP).
A server that cannot start raises :class:`ServerFailed` with the reason and the end of its log: the tests then
fail loudly, never skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Server",
    "ServerFailed",
    "start_azurite",
    "start_gcs",
    "start_moto",
    "start_satchel",
    "start_sshd",
    "stop",
]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
# Azurite's well-known development account: public, documented, and accepted only by the emulator.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class ServerFailed(RuntimeError):
    """A test server did not start; the message says which, why, and what it printed."""


@dataclass
class Server:
    """A running server: its process, endpoint and whatever a client needs to reach it."""

    name: str
    process: subprocess.Popen[bytes]
    host: str
    port: int
    workdir: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server printed."""
        log = self.workdir / "server.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _launch(name: str, argv: list[str], port: int, workdir: Path, extra: dict[str, str] | None = None) -> Server:
    log = (workdir / "server.log").open("wb")
    try:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True)
    except OSError as exc:
        raise ServerFailed(f"{name} could not be started ({argv[0]}): {exc}") from exc
    finally:
        log.close()
    server = Server(name, process, HOST, port, workdir, extra or {})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{name} exited with {process.returncode} at start:\n{server.log_tail()}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    stop(server)
    raise ServerFailed(f"{name} did not listen on {HOST}:{port} within {START_TIMEOUT:.0f}s:\n{server.log_tail()}")


def stop(server: Server) -> None:
    """Stop the server by the PID it was started with (SIGTERM, then SIGKILL) and remove its work folder."""
    process = server.process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # its own session: helpers it spawned go too
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    shutil.rmtree(server.workdir, ignore_errors=True)


def _workdir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"satchel-{name}-"))


def start_moto() -> Server:
    """Start moto's S3 server (in memory)."""
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    return _launch("moto (S3)", argv, port, _workdir("moto"))


def start_azurite() -> Server:
    """Start Azurite's blob service from the project's node_modules (installed by ``npm ci``)."""
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise ServerFailed(f"Azurite is not installed at {binary}: run scripts/test (it runs npm ci)")
    port = free_port()
    workdir = _workdir("azurite")
    argv = [
        str(binary),
        "--blobHost",
        HOST,
        "--blobPort",
        str(port),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
    ]
    extra = {"account": AZURITE_ACCOUNT, "key": AZURITE_KEY}
    return _launch("Azurite (Azure Blob)", argv, port, workdir, extra)


def start_gcs() -> Server:
    """Start gcp-storage-emulator in memory."""
    port = free_port()
    argv = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", HOST, "--port", str(port), "--in-memory"]
    return _launch("gcp-storage-emulator (GCS)", argv, port, _workdir("gcs"))


def start_sshd() -> Server:
    """Start OpenSSH's sshd with a throwaway host key and a client key made here; SFTP via internal-sftp.

    ``extra`` holds ``user``, ``client_key`` (a private key path), ``known_hosts`` (a file naming the host key
    for ``[127.0.0.1]:PORT``) and ``home`` (a folder the SFTP tests may use as their root).
    """
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        raise ServerFailed("OpenSSH's sshd is not installed: run scripts/test (it installs openssh-server)")
    workdir = _workdir("sshd")
    os.chmod(workdir, 0o700)
    for key in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / key)], check=True, capture_output=True
        )
    (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
    port = free_port()
    host_public = (workdir / "host_key.pub").read_text().split()
    (workdir / "known_hosts").write_text(f"[{HOST}]:{port} {host_public[0]} {host_public[1]}\n")
    home = workdir / "home"
    home.mkdir()
    config = workdir / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"ListenAddress {HOST}",
                f"Port {port}",
                f"HostKey {workdir / 'host_key'}",
                f"PidFile {workdir / 'sshd.pid'}",
                f"AuthorizedKeysFile {workdir / 'authorized_keys'}",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp",
                "LogLevel INFO",
                "",
            ]
        )
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege-separation directory
    argv = [sshd, "-D", "-e", "-f", str(config)]
    user = os.environ.get("USER") or _current_user()
    extra = {
        "user": user,
        "client_key": str(workdir / "client_key"),
        "known_hosts": str(workdir / "known_hosts"),
        "home": str(home),
    }
    return _launch("OpenSSH sshd (SFTP)", argv, port, workdir, extra)


def start_satchel(
    *args: str, store: str | None = None, env: dict[str, str] | None = None, workdir: Path | None = None
) -> Server:
    """Start ``satchel serve`` (this checkout's) on a free port; ready when ``/health`` answers 200.

    ``store`` is the satchel URL it serves (default: a ``data`` folder in its work folder); ``args`` are more
    command-line flags. ``extra["data"]`` names the data folder when there is one.
    """
    workdir = workdir or _workdir("serve")
    port = free_port()
    argv = [sys.executable, "-m", "satchel.cli", "serve", "--host", HOST, "--port", str(port)]
    extra = {}
    if store is None:
        extra["data"] = str(workdir / "data")
        argv += ["--data", extra["data"]]
    else:
        argv += ["--store", store]
    argv += list(args)
    log = (workdir / "server.log").open("wb")
    environment = {**os.environ, **(env or {})}
    try:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True, env=environment
        )
    finally:
        log.close()
    server = Server("satchel serve", process, HOST, port, workdir, extra)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"satchel serve exited with {process.returncode} at start:\n{server.log_tail()}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as connection:
                connection.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                if connection.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        time.sleep(0.05)
    stop(server)
    raise ServerFailed(f"satchel serve did not answer /health within {START_TIMEOUT:.0f}s:\n{server.log_tail()}")


def _current_user() -> str:
    return pwd.getpwuid(os.getuid()).pw_name
