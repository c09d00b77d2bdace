"""awscli for ``bench/cli.py``: its own environment, built on first use from ``bench/awscli-requirements.txt``.

The environment (``.venv-bench-awscli`` at the repository root) is separate from the project's ``.venv`` so that
awscli's pins never meet the project's lock. It is built with the project's pinned uv (``scripts/bootstrap-uv``)
and installed with ``uv pip sync --require-hashes``; a stamp of the requirements, the uv version and the Python
version skips the build when nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "awscli-requirements.txt"
VENV = ROOT / ".venv-bench-awscli"
STAMP = VENV / ".bench-stamp"
INSTALL_TIMEOUT = 600.0


class AwsCliUnavailable(RuntimeError):
    """The awscli environment could not be built; the message says which step failed and what it printed."""


def _uv() -> tuple[str, dict[str, str]]:
    env = {**os.environ, "UV_SYSTEM_CERTS": "1", "UV_PYTHON_DOWNLOADS": "never"}
    found = _run([str(ROOT / "scripts" / "bootstrap-uv")], env, "scripts/bootstrap-uv")
    return found.strip().splitlines()[-1], env


def _run(argv: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AwsCliUnavailable(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        raise AwsCliUnavailable(f"{what} exited with {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _stamp(uv: str, env: dict[str, str]) -> str:
    version = _run([uv, "--version"], env, "uv --version").strip()
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    return f"{digest} {version} python {sys.version_info[0]}.{sys.version_info[1]}\n"


def ensure() -> Path:
    """Return the path of the ``aws`` command, building its environment first if it is missing or stale.

    Raises:
        AwsCliUnavailable: uv could not be had, or the environment could not be created or installed.
    """
    aws = VENV / "bin" / "aws"
    uv, env = _uv()
    stamp = _stamp(uv, env)
    if aws.exists() and STAMP.exists() and STAMP.read_text() == stamp:
        return aws
    print(f"building {VENV.name} from {REQUIREMENTS.relative_to(ROOT)} ...", file=sys.stderr)
    shutil.rmtree(VENV, ignore_errors=True)
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(VENV)], env, "uv venv")
    python = str(VENV / "bin" / "python")
    _run(
        [uv, "pip", "sync", "--quiet", "--require-hashes", "--python", python, str(REQUIREMENTS)],
        env,
        "uv pip sync --require-hashes",
    )
    if not aws.exists():
        raise AwsCliUnavailable(f"{aws} is missing after the install")
    STAMP.write_text(stamp)
    return aws


def environment(base: dict[str, str], home: Path) -> dict[str, str]:
    """Return ``base`` without its ``AWS_*`` variables, plus moto's credentials and region for both tools.

    The config and credentials files point into ``home`` (where nothing exists), so no user setting changes
    awscli's defaults; the metadata service is never asked; nothing goes through a proxy.
    """
    env = {key: value for key, value in base.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_PAGER="",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env
