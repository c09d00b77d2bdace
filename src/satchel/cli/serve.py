"""The ``satchel serve`` command: share a Store over HTTP (needs the ``server`` extra).

Settings come from defaults, then the TOML file (``--config`` or ``SATCHEL_CONFIG``), then ``SATCHEL_*``
environment variables, then these flags. The ASGI server is uvicorn (the default, chosen by
``bench/server.py``) or granian; both stop on SIGINT and SIGTERM after finishing the requests in flight.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys

import click

__all__ = ["serve"]

_SETTINGS_ENV = "SATCHEL_SERVE_SETTINGS"


@click.command()
@click.option("--data", default=None, help="Local folder to serve (default ./satchel-data).")
@click.option("--store", default=None, help="Any satchel URL to serve instead of a local folder (s3://..., ...).")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8888).")
@click.option("--config", "config_path", default=None, help="TOML configuration file.")
@click.option(
    "--auth-key",
    "auth_keys",
    multiple=True,
    metavar="KID=PUBLIC_KEY_PEM",
    help="Accept tokens signed by this Ed25519 key (repeatable; a repeated KID is a key rotation).",
)
@click.option("--enforce-auth/--no-enforce-auth", default=None, help="Refuse requests without a valid token.")
@click.option("--engine", type=click.Choice(["uvicorn", "granian"]), default=None, help="The ASGI server.")
@click.option("--allow-open-public", is_flag=True, default=None, help="Allow a non-loopback host with auth off.")
def serve(
    data: str | None,
    store: str | None,
    host: str | None,
    port: int | None,
    config_path: str | None,
    auth_keys: tuple[str, ...],
    enforce_auth: bool | None,
    engine: str | None,
    allow_open_public: bool | None,
) -> None:
    """Serve a Store over HTTP with the Objectstore protocol (a local folder by default)."""
    from satchel.errors import ConfigError

    try:
        from satchel.server.config import load_config
    except ImportError:
        raise click.UsageError("satchel serve needs the server extra: pip install 'satchel[server]'") from None

    overrides: dict[str, object] = {
        "data": data,
        "store": store,
        "host": host,
        "port": port,
        "keys": list(auth_keys) or None,
        "enforce_auth": enforce_auth,
        "server_engine": engine,
        "allow_open_public": allow_open_public,
    }
    overrides = {name: value for name, value in overrides.items() if value is not None}
    try:
        config = load_config(config_path, overrides=overrides)
    except ConfigError as err:
        raise click.UsageError(str(err)) from None
    auth_on = config.enforce_auth
    if not auth_on and not _is_loopback(config.host) and not config.allow_open_public:
        raise click.UsageError(
            f"auth is off, so satchel serve listens on loopback only; {config.host} needs --auth-key/"
            "--enforce-auth, or --allow-open-public to share it with anyone who can reach it"
        )
    logging.basicConfig(level=config.log_level.upper(), format="%(message)s", stream=sys.stderr)
    where = config.store or os.path.abspath(config.data)
    click.echo(f"satchel serve: {where} at http://{config.host}:{config.port}", err=True)
    if not auth_on:
        click.echo("satchel serve: auth is OFF: anyone who can reach this address can read and write", err=True)
        if config.keys:
            click.echo("satchel serve: auth keys are set but not enforced: refusals are only logged", err=True)
    if config.server_engine == "granian":
        _run_granian(config_path, overrides, config.host, config.port)
    else:
        _run_uvicorn(config_path, overrides)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_from_environment() -> object:
    """Build the app from the settings ``serve`` left in the environment (the entry point of worker processes)."""
    from satchel.server.config import load_config
    from satchel.server.main import build_app

    settings = json.loads(os.environ.get(_SETTINGS_ENV, "{}"))
    return build_app(load_config(settings.get("config"), overrides=settings.get("overrides", {})))


def _run_uvicorn(config_path: str | None, overrides: dict[str, object]) -> None:
    import uvicorn

    from satchel.server.config import load_config
    from satchel.server.main import build_app
    from satchel.server.uvicorn_body import BodyChunkProtocol

    config = load_config(config_path, overrides=overrides)
    uvicorn.run(
        build_app(config),
        host=config.host,
        port=config.port,
        loop="uvloop",
        http=BodyChunkProtocol,
        log_level=config.log_level,
        access_log=False,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=30,
        proxy_headers=False,
        server_header=False,
    )


def _run_granian(config_path: str | None, overrides: dict[str, object], host: str, port: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    os.environ[_SETTINGS_ENV] = json.dumps({"config": config_path, "overrides": overrides})
    Granian(
        "satchel.cli.serve:app_from_environment",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
    ).serve()
