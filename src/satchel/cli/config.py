"""Named remotes from the configuration file, for ``NAME:path`` arguments.

The file is ``$SATCHEL_CONFIG``, else ``~/.config/satchel/config.toml`` (``$XDG_CONFIG_HOME`` is honoured). It
may be the same file ``satchel serve`` reads: the command line reads only its ``[remotes.NAME]`` tables::

    [remotes.prod]
    url = "s3://bucket/prefix"           # any satchel URL; its path is the remote's root
    region = "eu-west-1"                 # any option of that URL's backend, or of the layer stack
    secret_access_key = "${PROD_AWS_SECRET}"

``${VAR}`` in a string value is replaced by that environment variable (an unset one is an error), so secrets can
stay out of the file; options not given come from each service's usual environment (``AWS_*``, ...).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from satchel.errors import ConfigError

__all__ = ["Remote", "config_path", "load_remotes"]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Remote:
    """A named remote: the URL of its root and the options to open it with."""

    name: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)


def config_path() -> Path:
    """Return the configuration file's path (it need not exist)."""
    given = os.environ.get("SATCHEL_CONFIG")
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "satchel" / "config.toml"


def load_remotes(path: Path | None = None) -> dict[str, Remote]:
    """Read the ``[remotes.NAME]`` tables of the configuration file; a missing file has none.

    Raises:
        ConfigError: the file cannot be read or is not valid TOML, a remote has no ``url``, a value is not a
            string, number or boolean, or names an unset ``${VAR}``.
    """
    path = path or config_path()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise ConfigError(f"cannot read the config file {path}: {err.strerror}") from None
    except ValueError as err:
        raise ConfigError(f"the config file {path} is not valid TOML: {err}") from None
    tables = data.get("remotes", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'remotes' must be a table of [remotes.NAME] tables")
    remotes: dict[str, Remote] = {}
    for name, table in tables.items():
        where = f"{path}: [remotes.{name}]"
        if not _NAME.fullmatch(name):
            raise ConfigError(f"{where}: a remote's name takes letters, digits, '_', '.' and '-'")
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise ConfigError(f'{where} needs url = "scheme://..."')
        values = {option: _value(option, value, where) for option, value in table.items()}
        url = values.pop("url")
        remotes[name] = Remote(name, url, values)
    return remotes


def _value(option: str, value: object, where: str) -> Any:
    if isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {option} must be a string, a number or a boolean")

    def substitute(match: re.Match[str]) -> str:
        variable = match.group(1)
        found = os.environ.get(variable)
        if found is None:
            raise ConfigError(f"{where}: {option} names ${{{variable}}}, which is not set in the environment")
        return found

    return _VARIABLE.sub(substitute, value)
