"""Debian's nginx with WebDAV PUT, as the benchmark's ceiling: installed if missing, started on a free port.

The server runs from its own temporary prefix with its own configuration: ``daemon off``, one process
(``master_process off``), pid file, error log, body and proxy temp folders all inside the temporary folder,
``access_log off``. It is stopped by its PID like the test servers, and the system's nginx service is never
started, stopped or reconfigured.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import _process
import servers

NGINX = "/usr/sbin/nginx"
POLICY = Path("/usr/sbin/policy-rc.d")
START_TIMEOUT = 30.0

# One process, one event loop: the satchel contenders serve from one worker too, and the other core is left to
# the benchmark's client (two workers measured no faster here: they compete with the client for the two cores).
# ``master_process off`` removes the idle master, so the pid we start is the server. A PUT body is written to a
# temp file one buffer at a time and then renamed into place: 1 MiB buffers instead of the 16 KiB default halve
# nginx's CPU on a 256 MiB PUT, and a temp folder without hashed levels saves a directory lookup per small PUT.
CONFIG = """\
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 600s;
    keepalive_requests 100000000;
    client_max_body_size 0;
    client_body_buffer_size 1m;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen {host}:{port};
        root {root}/data;
        location / {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw;
        }}
    }}
}}
"""


def ensure_installed() -> None:
    """Install Debian's ``nginx`` package if ``/usr/sbin/nginx`` is missing, without starting its service.

    Raises :class:`servers.ServerFailed` if it cannot be installed or was built without the WebDAV module.
    """
    if not os.path.exists(NGINX):
        _apt_install("nginx")
    built = subprocess.run([NGINX, "-V"], capture_output=True, text=True, check=False)
    if "--with-http_dav_module" not in built.stderr + built.stdout:
        raise servers.ServerFailed(f"{NGINX} was built without http_dav_module:\n{built.stderr}")


def _apt_install(package: str) -> None:
    sudo = [] if os.getuid() == 0 else ["sudo"]
    # policy-rc.d answering 101 stops the package from starting the system nginx (as scripts/test does for sshd).
    made_policy = not POLICY.exists()
    if made_policy:
        script = f"printf '#!/bin/sh\\nexit 101\\n' > {POLICY} && chmod +x {POLICY}"
        subprocess.run([*sudo, "sh", "-c", script], check=True)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        done = subprocess.run(
            [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if done.returncode != 0:
            raise servers.ServerFailed(f"apt-get install {package} failed:\n{done.stdout}\n{done.stderr}")
    finally:
        if made_policy:
            subprocess.run([*sudo, "rm", "-f", str(POLICY)], check=True)


def start() -> servers.Server:
    """Start nginx serving WebDAV PUT/GET from a new temporary folder on a free 127.0.0.1 port.

    Objects live under ``http://127.0.0.1:PORT/<key>``; ``extra["data"]`` is the folder they are written to.
    Stop it with ``servers.stop``, which also removes the folder.
    """
    ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="satchel-nginx-"))
    (root / "data").mkdir()
    port = servers.free_port()
    conf = root / "nginx.conf"
    conf.write_text(CONFIG.format(root=root, host=servers.HOST, port=port))
    argv = [NGINX, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)]
    log = (root / "server.log").open("wb")
    try:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True)
    finally:
        log.close()
    server = servers.Server("nginx (WebDAV)", process, servers.HOST, port, root, {"data": str(root / "data")})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors = (root / "error.log").read_text(errors="replace") if (root / "error.log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise servers.ServerFailed(f"nginx exited with {process.returncode} at start:\n{errors}")
        if _process.listening(servers.HOST, port):
            return server
        time.sleep(0.05)
    servers.stop(server)
    raise servers.ServerFailed(f"nginx did not listen on {servers.HOST}:{port} within {START_TIMEOUT:.0f}s")
