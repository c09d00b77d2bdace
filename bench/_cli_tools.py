"""The two command lines ``bench/cli.py`` compares, and how one of their commands is run and timed.

Each tool turns a transfer into an argv: ``satchel`` (this checkout's, as ``python -m satchel.cli``) addresses
moto with the options in the URL's query; ``aws`` (awscli 1.x from ``.venv-bench-awscli``) with
``--endpoint-url`` and the credentials in its environment (``_awscli.environment``).
"""

from __future__ import annotations

import resource
import shlex
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import _process

SATCHEL = [sys.executable, "-m", "satchel.cli"]
COMMAND_TIMEOUT = 900.0  # seconds one command may take before it is killed and the run fails


class ToolFailed(RuntimeError):
    """A command exited with an error or ran past COMMAND_TIMEOUT; the message holds its argv and output."""


class Tool(Protocol):
    """How a command line spells each transfer the benchmark runs."""

    name: str

    def url(self, bucket: str, key: str) -> str: ...
    def copy_tree(self, source: str, destination: str) -> list[str]: ...
    def copy_file(self, source: str, destination: str) -> list[str]: ...
    def sync(self, source: str, destination: str) -> list[str]: ...
    def version(self) -> list[str]: ...


@dataclass
class Satchel:
    """``satchel cp``/``sync`` with its default ``--transfers`` and no progress display."""

    endpoint: str
    name: str = "satchel"

    def url(self, bucket: str, key: str) -> str:
        query = urllib.parse.urlencode(
            {
                "endpoint_url": self.endpoint,
                "region": "us-east-1",
                "access_key_id": "testing",
                "secret_access_key": "testing",
            }
        )
        return f"s3://{bucket}/{key}?{query}"

    def copy_tree(self, source: str, destination: str) -> list[str]:
        return [*SATCHEL, "cp", "-r", "--no-progress", "--quiet", source, destination]

    def copy_file(self, source: str, destination: str) -> list[str]:
        return [*SATCHEL, "cp", "--no-progress", "--quiet", source, destination]

    def sync(self, source: str, destination: str) -> list[str]:
        return [*SATCHEL, "sync", "--no-progress", "--quiet", source, destination]

    def version(self) -> list[str]:
        return [*SATCHEL, "--version"]


@dataclass
class Aws:
    """``aws s3 cp``/``sync`` with its default ``max_concurrent_requests`` (10), errors only, no pager."""

    aws: Path
    endpoint: str
    name: str = "aws"

    def _s3(self, *args: str) -> list[str]:
        return [str(self.aws), "--endpoint-url", self.endpoint, "s3", *args, "--only-show-errors"]

    def url(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"

    def copy_tree(self, source: str, destination: str) -> list[str]:
        return self._s3("cp", "--recursive", source, destination)

    def copy_file(self, source: str, destination: str) -> list[str]:
        return self._s3("cp", source, destination)

    def sync(self, source: str, destination: str) -> list[str]:
        return self._s3("sync", source, destination)

    def version(self) -> list[str]:
        return [str(self.aws), "--version"]


@dataclass
class Run:
    """One command's wall time, its own CPU time (children included) and moto's CPU time meanwhile."""

    seconds: float
    tool_cpu: float
    moto_cpu: float


def timed(argv: list[str], env: dict[str, str], moto_pid: int) -> Run:
    """Run ``argv`` to its end and return its times.

    Raises:
        ToolFailed: the command exited with an error or ran past COMMAND_TIMEOUT (it is then killed).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    moto0 = _process.cpu_seconds(moto_pid)
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{shlex.join(argv)} ran past {COMMAND_TIMEOUT:.0f} s and was killed") from exc
    seconds = time.perf_counter() - start
    moto = _process.cpu_seconds(moto_pid) - moto0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        output = "\n".join((done.stdout + done.stderr).splitlines()[-15:])
        raise ToolFailed(f"{shlex.join(argv)} exited with {done.returncode}:\n{output}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Run(seconds, cpu, moto)
