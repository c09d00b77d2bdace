"""The ``satchel`` command as a real process: exit codes, progress lines off a terminal, Ctrl-C, broken pipes.

A slow source is a FIFO the test writes into a chunk at a time, so the command is mid-transfer for as long as the
test wants, with no timing luck involved.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

import satchel
import servers

CLI = [sys.executable, "-m", "satchel.cli"]
CHUNK = b"x" * 65536


def satchel_run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """Run ``satchel ARGS`` as a subprocess and wait for it."""
    return subprocess.run(
        [*CLI, *args], capture_output=True, timeout=timeout, env={**os.environ, **(env or {})}, check=False
    )


def satchel_start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``satchel ARGS`` as a subprocess, its output captured."""
    return subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "source.fifo"
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def writing(fifo: Path) -> Iterator[IO[bytes]]:
    """Open the FIFO for writing (once the command opened it for reading); a gone reader is not an error."""
    with contextlib.suppress(BrokenPipeError), open(fifo, "wb", buffering=0) as pipe:
        yield pipe


@pytest.fixture(scope="module")
def memory_server() -> Iterator[servers.Server]:
    try:
        server = servers.start_satchel(store="memory://")
    except servers.ServerFailed as failure:
        pytest.fail(f"test server did not start: {failure}", pytrace=False)
    yield server
    servers.stop(server)


def test_exit_codes(tmp_path: Path) -> None:
    missing = satchel_run("cat", str(tmp_path / "missing.txt"))
    assert missing.returncode == 3
    assert missing.stderr.decode() == f"satchel: {tmp_path / 'missing.txt'}: no such file or directory\n"
    assert b"Traceback" in satchel_run("--debug", "cat", str(tmp_path / "missing.txt")).stderr
    assert satchel_run("cp", "only-one-argument").returncode == 2
    assert satchel_run("sync", "a", "b", "--size-only", "--checksum").returncode == 2
    refused = satchel_run("ls", f"satchel+http://127.0.0.1:{servers.free_port()}/usecase/_/")
    assert refused.returncode == 5
    assert len(refused.stderr.splitlines()) == 1
    helped = satchel_run("--help").stdout.decode()
    assert "Exit codes:" in helped
    assert "130  interrupted" in helped


def test_progress_lines_when_not_a_terminal(fifo: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.bin"
    process = satchel_start("cp", str(fifo), str(target), env={"SATCHEL_PROGRESS_INTERVAL": "0.1"})
    with writing(fifo) as pipe:
        for _ in range(30):
            pipe.write(CHUNK)
            time.sleep(0.04)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert target.read_bytes() == CHUNK * 30
    lines = stderr.decode().splitlines()
    progress = [line for line in lines if line.startswith("satchel: cp: 0/1 files, ")]
    assert len(progress) >= 3, lines
    assert all(re.fullmatch(r"satchel: cp: 0/1 files, [\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)/s", p) for p in progress)
    assert b"\r" not in stderr
    assert b"\x1b" not in stderr  # no terminal redraws or colours
    assert lines[-1].startswith("satchel: copied 1 file (")
    assert stdout.decode() == f"copy: {fifo} -> {target}\n"
    quiet = satchel_run("cp", "-q", str(target), str(tmp_path / "quiet.bin"))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, b"", b"")


def _interrupt(process: subprocess.Popen[bytes], pipe: IO[bytes], *, finish_source: bool) -> None:
    for _ in range(16):
        pipe.write(CHUNK)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    if finish_source:
        pipe.write(CHUNK)  # the transfer sees the interrupt at its next chunk


def test_ctrl_c_leaves_no_partial_file(fifo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    process = satchel_start("cp", str(fifo), str(folder / "big.bin"))
    with writing(fifo) as pipe:
        _interrupt(process, pipe, finish_source=True)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.decode().splitlines()[-1] == "satchel: interrupted"
    assert list(folder.iterdir()) == []  # neither the file nor its temporary


def test_ctrl_c_leaves_no_partial_object(fifo: Path, memory_server: servers.Server) -> None:
    url = f"satchel+http://{memory_server.host}:{memory_server.port}/interrupt/_"
    process = satchel_start("cp", str(fifo), f"{url}/big.bin")
    with writing(fifo) as pipe:
        _interrupt(process, pipe, finish_source=True)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert list(satchel.open(url).list()) == []


def test_ctrl_c_with_a_silent_source(fifo: Path, tmp_path: Path) -> None:
    # The source sends nothing after the interrupt: the worker stays blocked in its read, so the command
    # cleans up what it knows of and leaves without waiting for it.
    folder = tmp_path / "out"
    process = satchel_start("cp", str(fifo), str(folder / "big.bin"))
    with writing(fifo) as pipe:
        _interrupt(process, pipe, finish_source=False)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert list(folder.iterdir()) == []


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 << 20))
    process = satchel_start("cat", str(big))
    assert process.stdout is not None
    assert len(process.stdout.read(10)) == 10
    process.stdout.close()
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None
    assert process.stderr.read() == b""


def test_interrupted_download_by_a_thread(memory_server: servers.Server, tmp_path: Path) -> None:
    """A recursive download interrupted mid-way: the files written are whole, and nothing partial is left."""
    url = f"satchel+http://{memory_server.host}:{memory_server.port}/many/_"
    store = satchel.open(url)
    payload = os.urandom(2 << 20)
    for index in range(40):
        store.put(f"f{index:02d}.bin", payload)
    folder = tmp_path / "down"
    process = satchel_start("cp", "-r", "--transfers", "2", url, str(folder))
    deadline = time.monotonic() + 30
    while not (folder.exists() and any(folder.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    written = list(folder.iterdir())
    assert len(written) < 40
    for path in written:
        assert not path.name.endswith(".satchel-part")
        assert path.read_bytes() == payload


# VmHWM (the peak resident size of this address space) rather than ru_maxrss, which Linux carries over from
# the parent across exec.
_MEASURED = (
    "import atexit, re, sys\n"
    "peak = lambda: re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "atexit.register(lambda: print('MAXRSS', peak(), file=sys.stderr))\n"
    "from satchel.cli import main\n"
    "main()\n"
)


def _peak_kib(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.decode().rsplit("MAXRSS ", 1)[1].split()[0])


def test_memory_stays_flat(tmp_path: Path, memory_server: servers.Server) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for _ in range(96):
            out.write(os.urandom(1 << 20))
    url = f"satchel+http://{memory_server.host}:{memory_server.port}/flat/_"
    store = f"file://{tmp_path / 'store'}?fsync=false"
    peaks = [
        _peak_kib("cp", str(big), f"{url}/big.bin"),
        _peak_kib("cp", f"{url}/big.bin", str(tmp_path / "down.bin")),
        _peak_kib("cp", f"{url}/big.bin", store),
        _peak_kib("cat", f"file://{tmp_path / 'store'}//big.bin"),
    ]
    assert (tmp_path / "down.bin").read_bytes() == big.read_bytes()
    assert all(peak < 80 * 1024 for peak in peaks), peaks  # a 96 MiB object, far less memory
