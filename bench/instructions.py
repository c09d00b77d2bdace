"""Instructions per request: ``satchel serve``'s app beside the two floors of ``bench/server.py``, in-process.

Timings on the shared 2-core VM move by 10-30% from one run to the next, so a change that saves 3% of a
request cannot be seen in ``bench/server.py``. Valgrind's cachegrind counts the instructions a process
executes, and a Python program run twice with ``PYTHONHASHSEED=0`` gives the same count to within 0.01%.

This script drives each ASGI app in its own process with synthetic ASGI messages: no socket, no uvicorn, so
the count is the app's own work. After 300 writes and 300 reads to warm up, the process makes N more 1 KiB
PUTs (new keys) or GETs (of the warm-up keys). It runs once with N = 100 and once with N = 100 + ``--requests``
under ``valgrind --tool=cachegrind``; the difference of the two counts divided by ``--requests`` is the count
per request, free of start-up and imports. Contenders:

* ``satchel``: the app ``satchel serve`` builds over a local folder without fsync and without access logs, from
  this checkout's ``src``, or from each tree given with ``--src NAME=PATH`` (to compare two commits: check one
  out into another folder with ``git worktree add``);
* ``file-floor`` (``bench/_file_floor_app.py``): satchel's local-folder system calls and nothing else;
* ``asgi-floor`` (``bench/_floor_app.py``): objects in a dict, the least an app can do.

The file floor is what any app of satchel's design must spend, the ASGI floor what any app at all must;
satchel's count minus the file floor's is satchel's own Python. Served, a request costs more than its
instructions say (cold caches after each wait for the client; see ``docs/server.md``), so confirm a saving
with an interleaved served run before trusting its size.

Valgrind 3.19 (Debian 12) does not know ``openat2``: under it the local backend falls back to its directory walk,
so satchel's PUT counts include the walk, not the single ``openat2`` call it makes otherwise.

    python bench/instructions.py [--requests 600] [--src NAME=PATH ...] [--no-floors] [--modes PUT,GET] [--jobs 2]

Needs ``valgrind`` (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import uvloop
from starlette.types import ASGIApp, Message, Scope

from satchel.server.config import load_config
from satchel.server.main import build_app

WARM_UP = 300
BASE = 100
BODY = bytes(range(256)) * 4  # 1 KiB
MODES = ("PUT", "GET")


class CountFailed(RuntimeError):
    """A counting run under valgrind failed or printed no instruction count."""


# --- the driven process ---------------------------------------------------------------------------------------


def _satchel_app(folder: Path) -> tuple[ASGIApp, str]:
    config = load_config(None, overrides={"store": f"file://{folder}?fsync=false", "access_log": False})
    return build_app(config), "/v1/objects/bench/_/"


def _floor_app(name: str, folder: Path) -> tuple[ASGIApp, str]:
    os.chdir(folder)  # the file floor keeps its objects in ./data
    module = __import__("_file_floor_app" if name == "file-floor" else "_floor_app")
    app: ASGIApp = module.app
    return app, "/"


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8888),
        "client": ("127.0.0.1", 5555),
        "scheme": "http",
        "method": method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
    }


_PUT_HEADERS = [(b"host", b"127.0.0.1:8888"), (b"content-length", b"%d" % len(BODY))]
_GET_HEADERS = [(b"host", b"127.0.0.1:8888")]


async def _call(app: ASGIApp, method: str, path: str) -> None:
    pending: list[Message] = [{"type": "http.request", "body": BODY if method == "PUT" else b"", "more_body": False}]
    status: list[int] = []

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(_scope(method, path, _PUT_HEADERS if method == "PUT" else _GET_HEADERS), receive, send)
    if status != [200]:
        raise CountFailed(f"{method} {path} answered {status}")


async def _drive(app: ASGIApp, prefix: str, mode: str, count: int) -> None:
    for i in range(WARM_UP):
        await _call(app, "PUT", f"{prefix}warm/{i:06d}")
        await _call(app, "GET", f"{prefix}warm/{i:06d}")
    for i in range(count):
        if mode == "PUT":
            await _call(app, "PUT", f"{prefix}new/{i:06d}")
        else:
            await _call(app, "GET", f"{prefix}warm/{i % WARM_UP:06d}")


def drive(contender: str, mode: str, count: int) -> None:
    """Build ``contender``'s app over a fresh folder and make the warm-up and ``count`` ``mode`` requests."""
    with tempfile.TemporaryDirectory(prefix="instructions-") as folder:
        app, prefix = (
            _floor_app(contender, Path(folder)) if contender.endswith("-floor") else _satchel_app(Path(folder))
        )
        uvloop.run(_drive(app, prefix, mode, count))


# --- the counting side ----------------------------------------------------------------------------------------

_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count_instructions(contender: str, src: Path | None, mode: str, count: int) -> int:
    """Run the driven process under cachegrind and return the instructions it executed.

    Raises:
        CountFailed: valgrind or the driven process failed, or no count was printed.
    """
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    argv = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--drive",
        contender,
        mode,
        str(count),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    found = _REFS.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise CountFailed(f"{contender} {mode} {count}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def per_request(contender: str, src: Path | None, mode: str, requests: int, jobs: int) -> float:
    """Instructions per ``mode`` request: the difference of two counting runs, divided by ``requests``."""
    with ThreadPoolExecutor(jobs) as pool:
        low, high = pool.map(lambda n: count_instructions(contender, src, mode, n), (BASE, BASE + requests))
    return (high - low) / requests


def _parse_src(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not Path(path, "satchel").is_dir():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH with PATH holding the satchel package, got {value!r}")
    return name, Path(path).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600, help="requests counted per mode (default 600)")
    parser.add_argument("--src", type=_parse_src, action="append", help="NAME=PATH of a satchel source tree")
    parser.add_argument("--jobs", type=int, default=2, help="counting runs at once (default 2)")
    parser.add_argument("--no-floors", action="store_true", help="count the satchel trees only")
    parser.add_argument("--modes", default="PUT,GET", help="PUT, GET or both (default PUT,GET)")
    parser.add_argument("--drive", nargs=3, metavar=("CONTENDER", "MODE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        contender, mode, count = args.drive
        drive(contender, mode, int(count))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind: apt-get install valgrind")
    trees: list[tuple[str, Path | None]] = list(args.src or [("satchel", None)])
    contenders = trees if args.no_floors else [*trees, ("file-floor", None), ("asgi-floor", None)]
    modes = [mode for mode in MODES if mode in args.modes.upper().split(",")]
    print(f"instructions per 1 KiB request, in-process, {args.requests} requests counted per mode\n")
    print(f"{'app':<16}" + "".join(f"{mode:>12}" for mode in modes))
    for name, src in contenders:
        counts = [
            per_request(name if name.endswith("-floor") else "satchel", src, m, args.requests, args.jobs) for m in modes
        ]
        print(f"{name:<16}" + "".join(f"{c / 1000:>11.1f}K" for c in counts))


if __name__ == "__main__":
    main()
