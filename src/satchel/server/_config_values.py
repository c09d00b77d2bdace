"""Readers that turn raw configuration values (TOML, ``SATCHEL_*`` strings, flags) into typed ones.

Each reader takes the :class:`Source` the value came from, so an error names the setting the way the user wrote
it: ``'port' in /etc/satchel.toml``, ``SATCHEL_PORT`` or ``--port``. :mod:`satchel.server.config` assembles
the results into its dataclasses.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from satchel.errors import ConfigError
from satchel.server.auth import ALL_PERMISSIONS
from satchel.server.durations import parse_duration, parse_policy
from satchel.server.errors import ApiError

__all__ = [
    "LOG_LEVELS",
    "SERVER_ENGINES",
    "KeyEntry",
    "Source",
    "read_file_keys",
    "read_key_specs",
    "read_scalar",
    "read_table",
    "read_usecase",
]

LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical")
SERVER_ENGINES = ("uvicorn", "granian")
# A key id, its key files and its max_permissions.
KeyEntry = tuple[str, list[str], frozenset[str]]

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_SIZE = re.compile(r"\s*([0-9]{1,20}(?:\.[0-9]{1,9})?)\s*([A-Za-z]*)\s*")
_SIZE_UNITS = {
    unit.lower(): factor
    for units, factor in (
        (("", "B"), 1),
        (("K", "KB"), 1000),
        (("M", "MB"), 1000**2),
        (("G", "GB"), 1000**3),
        (("T", "TB"), 1000**4),
        (("KiB",), 1024),
        (("MiB",), 1024**2),
        (("GiB",), 1024**3),
        (("TiB",), 1024**4),
    )
    for unit in units
}
# Past this a number of seconds is a typo, and timedelta would overflow soon after.
_MAX_SECONDS = 1e12


class Source:
    """Where settings come from: a TOML file, the environment or the command line."""

    def __init__(self, kind: Literal["file", "env", "flag"], path: Path | None = None) -> None:
        self.kind = kind
        self.path = path

    def name(self, setting: str) -> str:
        """Return how the user wrote ``setting`` in this source."""
        if self.kind == "file":
            return f"{setting!r} in {self.path}"
        if self.kind == "env":
            return setting
        return f"--{setting.replace('_', '-')}"

    def error(self, setting: str, expected: str, value: object) -> ConfigError:
        """Return the error for a value of ``setting`` that is not what was ``expected``."""
        return ConfigError(f"{self.name(setting)} must be {expected}, got {value!r}")

    def unknown(self, setting: str, hint: str = "") -> ConfigError:
        """Return the error for a setting that does not exist."""
        return ConfigError(f"unknown setting {self.name(setting)}{hint}")

    def path_of(self, value: str) -> str:
        """Resolve a relative path of a file against the file's folder; other paths stay as given."""
        expanded = Path(value).expanduser()
        if self.kind == "file" and self.path is not None and not expanded.is_absolute():
            return os.path.normpath(self.path.parent / expanded)
        return str(expanded)


def read_scalar(name: str, value: object, source: Source, label: str | None = None) -> object:
    """Check and convert a plain :class:`~satchel.server.config.ServerConfig` setting ``name``.

    ``label`` is how the source names the setting (default: ``name``).

    Raises:
        ConfigError: the value has the wrong type or is out of range.
    """
    label = label or name
    if name in ("enforce_auth", "allow_open_public", "access_log"):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise source.error(label, "true or false", value)
    if name in ("port", "max_requests"):
        low, high = (0, 65535) if name == "port" else (1, 1 << 31)
        number = _integer(value)
        if number is None or not low <= number <= high:
            raise source.error(label, f"an integer from {low} to {high}", value)
        return number
    if name == "sweep_interval":
        return _duration(value, label, source).total_seconds()
    if not isinstance(value, str) or not value.strip():
        raise source.error(label, "a non-empty string", value)
    if name in ("data", "signing_key"):
        return source.path_of(value.strip())
    if name in ("log_level", "server_engine"):
        choices = LOG_LEVELS if name == "log_level" else SERVER_ENGINES
        if value.strip().lower() not in choices:
            raise source.error(label, f"one of {', '.join(choices)}", value)
        return value.strip().lower()
    return value.strip()


def read_table(value: object, label: str, source: Source) -> dict[str, Any]:
    """Return ``value`` when it is a TOML table.

    Raises:
        ConfigError: it is not.
    """
    if not isinstance(value, dict):
        raise source.error(label, "a table", value)
    return value


def read_file_keys(value: object, source: Source) -> list[KeyEntry]:
    """Read the ``[auth]`` table of a file: ``[auth.keys.<kid>]`` with ``key_files`` and ``max_permissions``.

    Raises:
        ConfigError: an unknown setting, no key files, or a permission that does not exist.
    """
    auth = read_table(value, "auth", source)
    for name in auth:
        if name != "keys":
            hint = "; 'enforce_auth' is a top-level setting" if name == "enforce" else ""
            raise source.unknown(f"auth.{name}", hint)
    entries = []
    for kid, entry in read_table(auth.get("keys", {}), "auth.keys", source).items():
        label = f"auth.keys.{kid}"
        table = read_table(entry, label, source)
        for name in set(table) - {"key_files", "max_permissions"}:
            raise source.unknown(f"{label}.{name}")
        files = _strings(table.get("key_files"), f"{label}.key_files", source)
        if not files:
            raise source.error(f"{label}.key_files", "a list of at least one file", files)
        everything = sorted(ALL_PERMISSIONS)
        permissions = _strings(table.get("max_permissions", everything), f"{label}.max_permissions", source)
        if not ALL_PERMISSIONS.issuperset(permissions):
            expected = f"a list drawn from {', '.join(sorted(ALL_PERMISSIONS))}"
            raise source.error(f"{label}.max_permissions", expected, permissions)
        entries.append((kid, [source.path_of(f) for f in files], frozenset(permissions)))
    return entries


def read_key_specs(specs: object, label: str, source: Source) -> list[KeyEntry]:
    """Read ``KID=PATH`` strings (one string, or a list or tuple of them); each grants all permissions.

    Raises:
        ConfigError: an entry without ``=``, or with an empty kid or path.
    """
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list | tuple):
        raise source.error(label, "KID=PATH entries", specs)
    entries = []
    for spec in specs:
        kid, sep, path = spec.partition("=") if isinstance(spec, str) else ("", "", "")
        kid, path = kid.strip(), path.strip()
        if not (sep and kid and path):
            raise source.error(label, "KID=PATH entries", spec)
        entries.append((kid, [source.path_of(path)], ALL_PERMISSIONS))
    return entries


def read_usecase(value: object, label: str, source: Source) -> dict[str, Any]:
    """Read a ``[usecases.<name>]`` table into keyword arguments of :class:`~satchel.server.config.UsecaseConfig`.

    Raises:
        ConfigError: an unknown setting, or a compression, policy, size or duration that does not parse.
    """
    settings: dict[str, Any] = {}
    for name, item in read_table(value, label, source).items():
        where = f"{label}.{name}"
        if name == "compression":
            if item not in ("zstd", "none"):
                raise source.error(where, "'zstd' or 'none'", item)
            settings["compression"] = "zstd" if item == "zstd" else None
        elif name == "expiration":
            settings["expiration"] = _policy(item, where, source)
        elif name == "max_object_size":
            settings["max_object_size"] = _size(item, where, source)
        elif name == "expiration_policy":
            settings.update(_expiration_rules(item, where, source))
        else:
            raise source.unknown(where)
    return settings


def _expiration_rules(value: object, label: str, source: Source) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for kind, rule in read_table(value, label, source).items():
        if kind not in ("manual", "ttl", "tti"):
            raise source.unknown(f"{label}.{kind}")
        for option, item in read_table(rule, f"{label}.{kind}", source).items():
            where = f"{label}.{kind}.{option}"
            if option == "allowed":
                if not isinstance(item, bool):
                    raise source.error(where, "true or false", item)
                settings[f"allow_{kind}"] = item
            elif option == "max" and kind != "manual":
                settings[f"max_{kind}"] = _duration(item, where, source)
            else:
                raise source.unknown(where)
    return settings


def _policy(value: object, label: str, source: Source) -> object:
    if isinstance(value, str):
        try:
            return parse_policy(value)
        except ApiError:
            pass
    raise source.error(label, "'manual', 'ttl:<duration>' or 'tti:<duration>'", value)


def _integer(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    # Twenty digits is past any sensible setting, and keeps int() far from its digit limit.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 20:
        return int(value)
    return None


def _duration(value: object, label: str, source: Source) -> timedelta:
    """Read seconds (a number) or the protocol's duration grammar (``30d``, ``1h 30m``)."""
    number = _integer(value) if isinstance(value, str) else value
    if isinstance(number, int | float) and not isinstance(number, bool) and 0 <= number < _MAX_SECONDS:
        return timedelta(seconds=number)
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ApiError:
            pass
    raise source.error(label, "seconds or a duration such as '30d' or '1h 30m'", value)


def _size(value: object, label: str, source: Source) -> int:
    """Read bytes: an integer, or a number with a unit (``100MiB``, ``1.5GB``)."""
    number = _integer(value)
    if number is not None:
        return number
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None or match[2].lower() not in _SIZE_UNITS:
        raise source.error(label, "a size in bytes, or a number with a unit such as '100MiB'", value)
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])


def _strings(value: object, label: str, source: Source) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise source.error(label, "a list of non-empty strings", value)
    return value
