"""The configuration of ``satchel serve``: defaults, a TOML file, ``SATCHEL_*`` variables and command-line flags.

Later sources override earlier ones, a setting at a time: defaults < the TOML file (``--config``, else
``SATCHEL_CONFIG``) < the environment < the command line. A file looks like this::

    host = "127.0.0.1"
    port = 8888
    data = "satchel-data"      # or store = "s3://bucket/prefix"
    enforce_auth = true
    signing_key = "server-key.pem"   # the server's own Ed25519 private key; absent: an ephemeral one
    sweep_interval = 60              # seconds between expiry sweeps, or a duration ("5m"); 0 disables
    max_requests = 512               # requests in flight; more are answered 503
    log_level = "info"
    access_log = true
    server_engine = "uvicorn"        # or "granian"
    allow_open_public = false        # true to listen beyond loopback without enforce_auth

    [auth.keys.mykid]                # one table per key id
    key_files = ["mykid.pub.pem"]    # Ed25519 public keys; several while rotating
    max_permissions = ["object.read", "object.write"]   # default: all three

    [usecases.attachments]
    compression = "zstd"             # compress at rest what arrives uncompressed; default "none"
    expiration = "tti:30d"           # the policy of objects created without one; default "manual"
    max_object_size = "100MiB"       # or plain bytes: 104857600
    [usecases.attachments.expiration_policy]   # which policies clients may ask for, and how long (a.9)
    manual = { allowed = false }
    ttl = { allowed = true, max = "90d" }
    tti = { allowed = true, max = "30d" }

    [usecases._default]              # what every usecase without a table of its own gets

Durations use the protocol's grammar (``30d 1h``, ``90 seconds``). Relative paths in the file (``data``,
``signing_key``, ``key_files``) are taken from the file's folder. The variables are ``SATCHEL_HOST``,
``SATCHEL_PORT``, ``SATCHEL_DATA``, ``SATCHEL_STORE``, ``SATCHEL_ENFORCE_AUTH``, ``SATCHEL_SIGNING_KEY``,
``SATCHEL_SWEEP_INTERVAL``, ``SATCHEL_MAX_REQUESTS``, ``SATCHEL_ALLOW_OPEN_PUBLIC``, ``SATCHEL_LOG_LEVEL``,
``SATCHEL_ACCESS_LOG``, ``SATCHEL_SERVER_ENGINE`` and ``SATCHEL_AUTH_KEYS`` (``kid=path[,kid=path...]``; a
repeated kid adds a key version); an empty variable counts as unset. Keys from a later source replace the
earlier source's keys as a whole.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from satchel.errors import ConfigError
from satchel.server._config_values import (
    LOG_LEVELS,
    SERVER_ENGINES,
    KeyEntry,
    Source,
    read_file_keys,
    read_key_specs,
    read_scalar,
    read_table,
    read_usecase,
)
from satchel.server.auth import ALL_PERMISSIONS, AuthKey
from satchel.server.durations import format_duration, format_policy
from satchel.server.errors import ApiError
from satchel.types import TTI, TTL

__all__ = ["KeyConfig", "ServerConfig", "UsecaseConfig", "load_config"]

_ENV_NAMES = {
    f"SATCHEL_{name.upper()}": name
    for name in (
        *("host", "port", "data", "store", "enforce_auth", "signing_key", "sweep_interval", "max_requests"),
        *("allow_open_public", "log_level", "access_log", "server_engine", "auth_keys"),
    )
}
_PLAIN = frozenset(_ENV_NAMES.values()) - {"auth_keys"}


@dataclass(frozen=True)
class UsecaseConfig:
    """The rules of one usecase: compression at rest, the default expiration and what clients may ask for.

    Raises:
        ConfigError: a maximum or size is not positive, or the default expiration breaks the usecase's own rules.
    """

    compression: Literal["zstd"] | None = None
    expiration: TTL | TTI | None = None
    allow_manual: bool = True
    allow_ttl: bool = True
    allow_tti: bool = True
    max_ttl: timedelta | None = None
    max_tti: timedelta | None = None
    max_object_size: int | None = None

    def __post_init__(self) -> None:
        if self.compression not in (None, "zstd"):
            raise ConfigError(f"compression must be 'zstd' or None, got {self.compression!r}")
        for name in ("max_ttl", "max_tti"):
            limit = getattr(self, name)
            if limit is not None and limit <= timedelta(0):
                raise ConfigError(f"{name} must be positive, got {limit}")
        if self.max_object_size is not None and self.max_object_size <= 0:
            raise ConfigError(f"max_object_size must be positive, got {self.max_object_size}")
        if self.expiration is not None:
            try:
                self.check_policy(self.expiration)
            except ApiError as err:
                raise ConfigError(f"the default expiration breaks the usecase's rules: {err.detail}") from None

    def check_policy(self, policy: TTL | TTI | None) -> None:
        """Check that a create may use ``policy`` (None: manual) under this usecase (a.9).

        Raises:
            ApiError: 400 when the kind of policy is not allowed or its duration exceeds the maximum.
        """
        if policy is None:
            if not self.allow_manual:
                raise ApiError(400, "this usecase does not allow manual expiration; send ttl or tti")
            return
        kind, allowed, limit = (
            ("ttl", self.allow_ttl, self.max_ttl) if isinstance(policy, TTL) else ("tti", self.allow_tti, self.max_tti)
        )
        if not allowed:
            raise ApiError(400, f"this usecase does not allow {kind} expiration")
        if limit is not None and policy.delta > limit:
            asked, maximum = format_policy(policy), format_duration(limit)
            raise ApiError(400, f"expiration {asked} exceeds this usecase's {kind} maximum of {maximum}")


@dataclass(frozen=True)
class KeyConfig:
    """One auth key id: its Ed25519 public key files (several while rotating) and the most it may grant."""

    kid: str
    key_files: tuple[str, ...]
    max_permissions: frozenset[str] = ALL_PERMISSIONS

    def __post_init__(self) -> None:
        if not self.kid:
            raise ConfigError("an auth key id must not be empty")
        if not self.key_files:
            raise ConfigError(f"auth key {self.kid!r} has no key files")
        unknown = set(self.max_permissions) - ALL_PERMISSIONS
        if unknown:
            raise ConfigError(f"auth key {self.kid!r} has unknown max_permissions {sorted(unknown)}")

    def load(self) -> AuthKey:
        """Read the key files into a key-ring entry.

        Raises:
            ConfigError: a file cannot be read or holds no Ed25519 public key.
        """
        return AuthKey.from_pem_files(self.kid, self.key_files, self.max_permissions)


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``satchel serve`` is configured with.

    ``allow_open_public`` is for whoever binds the socket (``satchel serve``): it lets a non-loopback ``host``
    go without auth. Building an app from a config binds nothing, so the config itself does not refuse.

    Raises:
        ConfigError: a value is out of range.
    """

    host: str = "127.0.0.1"
    port: int = 8888
    data: str = "satchel-data"
    store: str | None = None
    enforce_auth: bool = False
    keys: tuple[KeyConfig, ...] = ()
    signing_key: str | None = None
    usecases: Mapping[str, UsecaseConfig] = field(default_factory=dict, hash=False)
    default_usecase: UsecaseConfig = UsecaseConfig()
    sweep_interval: float = 60.0
    max_requests: int = 512
    allow_open_public: bool = False
    log_level: str = "info"
    access_log: bool = True
    server_engine: Literal["uvicorn", "granian"] = "uvicorn"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be from 0 to 65535, got {self.port}")
        if self.max_requests < 1:
            raise ConfigError(f"max_requests must be at least 1, got {self.max_requests}")
        if self.sweep_interval < 0:
            raise ConfigError(f"sweep_interval must not be negative, got {self.sweep_interval}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}")
        if self.server_engine not in SERVER_ENGINES:
            raise ConfigError(f"server_engine must be uvicorn or granian, got {self.server_engine!r}")

    def usecase(self, name: str) -> UsecaseConfig:
        """Return the rules of usecase ``name``: its own, else ``default_usecase``."""
        return self.usecases.get(name, self.default_usecase)


def load_config(
    path: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> ServerConfig:
    """Build the server configuration from defaults, a TOML file, the environment and flags, later ones winning.

    Args:
        path: the TOML file; None reads ``SATCHEL_CONFIG`` from ``env``, and no file is read when that is unset.
        env: the environment (default ``os.environ``); only ``SATCHEL_*`` names are read.
        overrides: values from command-line flags, keyed by :class:`ServerConfig` field name; None values are
            skipped. ``keys`` may hold ``"KID=PATH"`` strings and :class:`KeyConfig` objects.

    Raises:
        ConfigError: the file cannot be read or parsed, or a setting is unknown, of the wrong type or out of
            range; the message names the setting and where it came from.
    """
    env = os.environ if env is None else env
    path = path or env.get("SATCHEL_CONFIG") or None
    settings: dict[str, Any] = {}
    if path is not None:
        settings.update(_file_settings(path))
    settings.update(_env_settings(env))
    settings.update(_override_settings(overrides or {}))
    return ServerConfig(**settings)


def _file_settings(path: str) -> dict[str, Any]:
    file = Path(path).expanduser()
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as err:
        raise ConfigError(f"cannot read the config file {file}: {err.strerror}") from None
    except ValueError as err:  # TOMLDecodeError, or UnicodeDecodeError for a file that is not UTF-8
        raise ConfigError(f"the config file {file} is not valid TOML: {err}") from None
    source = Source("file", file)
    settings: dict[str, Any] = {}
    for name, value in data.items():
        if name == "auth":
            settings["keys"] = _key_configs(read_file_keys(value, source), "auth.keys", source)
        elif name == "usecases":
            usecases = {
                usecase: _usecase_config(entry, f"usecases.{usecase}", source)
                for usecase, entry in read_table(value, "usecases", source).items()
            }
            if "_default" in usecases:
                settings["default_usecase"] = usecases.pop("_default")
            settings["usecases"] = usecases
        elif name in _PLAIN:
            settings[name] = read_scalar(name, value, source)
        elif name == "remotes":
            continue  # the command line's named remotes (satchel.cli.config) share the file
        else:
            raise source.unknown(name, "; it is 'enforce_auth'" if name == "enforce" else "")
    return settings


def _env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    source = Source("env")
    settings: dict[str, Any] = {}
    for variable, name in _ENV_NAMES.items():
        value = env.get(variable)
        if not value:
            continue
        if name == "auth_keys":
            settings["keys"] = _key_configs(read_key_specs(value.split(","), variable, source), variable, source)
        else:
            settings[name] = read_scalar(name, value, source, variable)
    return settings


def _override_settings(overrides: Mapping[str, object]) -> dict[str, Any]:
    source = Source("flag")
    settings: dict[str, Any] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        if name == "keys":
            specs = [value] if isinstance(value, str | KeyConfig) else value
            if not isinstance(specs, list | tuple):
                raise source.error("auth_key", "KID=PATH entries", value)
            entries = [
                (spec.kid, list(spec.key_files), spec.max_permissions)
                if isinstance(spec, KeyConfig)
                else read_key_specs(spec, "auth_key", source)[0]
                for spec in specs
            ]
            settings["keys"] = _key_configs(entries, "auth_key", source)
        elif name == "usecases":
            if not isinstance(value, Mapping) or not all(isinstance(u, UsecaseConfig) for u in value.values()):
                raise source.error(name, "a mapping of names to UsecaseConfig", value)
            settings[name] = dict(value)
        elif name == "default_usecase":
            if not isinstance(value, UsecaseConfig):
                raise source.error(name, "a UsecaseConfig", value)
            settings[name] = value
        elif name in _PLAIN:
            settings[name] = read_scalar(name, value, source)
        elif name == "remotes":
            continue  # the command line's named remotes (satchel.cli.config) share the file
        else:
            raise ConfigError(f"unknown setting {name!r}")
    return settings


def _key_configs(entries: list[KeyEntry], label: str, source: Source) -> tuple[KeyConfig, ...]:
    """Merge entries by kid (files of one kid are versions of one key) into KeyConfigs, in first-seen order."""
    merged: dict[str, tuple[list[str], frozenset[str]]] = {}
    for kid, files, permissions in entries:
        seen = merged.setdefault(kid, ([], permissions))
        if seen[1] != permissions:
            raise ConfigError(f"{source.name(label)} gives key {kid!r} twice with different max_permissions")
        seen[0].extend(files)
    return tuple(KeyConfig(kid, tuple(files), permissions) for kid, (files, permissions) in merged.items())


def _usecase_config(value: object, label: str, source: Source) -> UsecaseConfig:
    settings = read_usecase(value, label, source)
    try:
        return UsecaseConfig(**settings)
    except ConfigError as err:
        raise ConfigError(f"{source.name(label)}: {err.message}") from None
