"""Request bodies on their way in: uvicorn's protocol as ``satchel serve`` runs it, and :class:`RequestReader`.

The server tests run ``satchel serve`` as a process, so every upload in them passes through both; these tests
aim at the two ways each can go wrong: chunks that arrive together or one at a time, a body that ends while
the next hop is already under way, and a read-ahead left behind by a writer that failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import random
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.requests import Request
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.server import ServerState

import servers
from satchel.server.bodies import READ_SIZE, RequestReader
from satchel.server.uvicorn_body import BodyChunkProtocol

MIB = 1 << 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Server]:
    workdir = tmp_path_factory.mktemp("bodies")
    started = servers.start_satchel(workdir=workdir)
    yield started
    servers.stop(started)


def _get(server: servers.Server, path: str) -> bytes:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        connection.close()


def _raw_put(server: servers.Server, path: str, headers: dict[str, str], body: bytes) -> int:
    """Send the whole request with one ``sendall`` so that many body chunks reach the server in one read."""
    head = f"PUT {path} HTTP/1.1\r\nhost: {server.host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        reply = sock.makefile("rb")
        status = int(reply.readline().split()[1])
        reply.close()
    return status


def _chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"


def test_many_small_chunks_arriving_together_are_stored_whole(server: servers.Server) -> None:
    rng = random.Random(7)
    pieces = [rng.randbytes(rng.randint(1, 13)) for _ in range(20_000)]
    status = _raw_put(server, "/v1/objects/bodies/_/tiny", {"transfer-encoding": "chunked"}, _chunked(pieces))
    assert status == 200
    assert _get(server, "/v1/objects/bodies/_/tiny") == b"".join(pieces)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_large_body_in_odd_pieces_is_stored_whole(server: servers.Server, framing: str) -> None:
    # Not a multiple of any read size, so the body ends in the middle of a hop, while the next one is under way.
    data = random.Random(framing).randbytes(5 * MIB + 12_345)
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    pieces = [data[i : i + 300_001] for i in range(0, len(data), 300_001)]
    if framing == "chunked":
        connection.request("PUT", f"/v1/objects/bodies/_/{framing}", body=iter(pieces), encode_chunked=True)
    else:
        headers = {"content-length": str(len(data))}
        connection.request("PUT", f"/v1/objects/bodies/_/{framing}", body=iter(pieces), headers=headers)
    assert connection.getresponse().status == 200
    connection.close()
    stored = _get(server, f"/v1/objects/bodies/_/{framing}")
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


# --- the protocol on its own ----------------------------------------------------------------------------------------


class _Transport:
    """What the protocol calls on its transport; it records writes and whether reading is paused."""

    def __init__(self) -> None:
        self.paused = False
        self.written = bytearray()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8888), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        pass

    def set_protocol(self, protocol: object) -> None:
        pass


async def _never_reads(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.Event().wait()


def _protocol(transport: _Transport) -> BodyChunkProtocol:
    config = Config(app=_never_reads, http=BodyChunkProtocol, lifespan="off", log_level="warning")
    config.load()
    protocol = BodyChunkProtocol(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol


def test_protocol_passes_a_lone_chunk_as_it_is_and_appends_later_ones() -> None:
    async def scenario() -> None:
        transport = _Transport()
        protocol = _protocol(transport)
        head = b"PUT /x HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
        protocol.data_received(head + _chunked([b"first"])[:-5])
        body: bytes | bytearray = protocol.cycle.body
        assert type(body) is bytes
        assert body == b"first"
        # Two more chunks before the app reads: they are appended to a bytearray, in order, as uvicorn does.
        protocol.data_received(b"3\r\nsec\r\n4\r\nond!\r\n")
        assert type(protocol.cycle.body) is bytearray
        assert protocol.cycle.body == b"firstsecond!"
        assert not transport.paused
        protocol.connection_lost(None)

    asyncio.run(scenario())


def test_protocol_pauses_reading_after_a_large_lone_chunk() -> None:
    async def scenario() -> None:
        transport = _Transport()
        protocol = _protocol(transport)
        big = b"z" * (HIGH_WATER_LIMIT + 1)
        protocol.data_received(b"PUT /x HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n%s" % (len(big) + 10, big))
        assert protocol.cycle.body == big
        assert transport.paused
        protocol.connection_lost(None)

    asyncio.run(scenario())


# --- RequestReader on its own -----------------------------------------------------------------------------------


def _request(messages: list[dict[str, Any]], stalled: asyncio.Event, cancelled: list[bool]) -> Request:
    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        try:
            await stalled.wait()  # the client sends nothing more
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return {"type": "http.disconnect"}

    return Request({"type": "http", "method": "PUT", "headers": []}, receive)


def test_reader_returns_every_byte_in_order_with_reads_no_larger_than_asked() -> None:
    rng = random.Random(3)
    pieces = [rng.randbytes(rng.choice([1, 500, 70_000, READ_SIZE - 1, READ_SIZE + 7])) for _ in range(60)]
    messages = [{"type": "http.request", "body": piece, "more_body": True} for piece in pieces]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    async def scenario() -> None:
        request = _request(messages, asyncio.Event(), [])
        async with RequestReader(request, None, sum(map(len, pieces))) as reader:

            def drain() -> bytes:
                out = bytearray()
                while chunk := reader.read(100_000):
                    assert len(chunk) <= 100_000
                    out += chunk
                return bytes(out)

            got = await asyncio.get_running_loop().run_in_executor(None, drain)
        assert got == b"".join(pieces)
        assert reader.received == len(got)

    asyncio.run(scenario())


def test_leaving_the_reader_early_stops_its_read_ahead() -> None:
    cancelled: list[bool] = []
    first = {"type": "http.request", "body": b"a" * READ_SIZE, "more_body": True}

    async def scenario() -> None:
        stalled = asyncio.Event()
        # Were the read-ahead left running, the block would wait for it until this watchdog lets it end.
        asyncio.get_running_loop().call_later(10, stalled.set)
        request = _request([first], stalled, cancelled)

        async def write_then_fail() -> None:
            async with RequestReader(request, None) as reader:

                def work() -> None:
                    reader.read(READ_SIZE)  # the next hop is now waiting for the client
                    raise OSError("disk full")

                await asyncio.get_running_loop().run_in_executor(None, work)

        with pytest.raises(OSError, match="disk full"):
            await write_then_fail()

    asyncio.run(scenario())
    assert cancelled == [True]


def test_the_loop_gathers_while_the_thread_works() -> None:
    # The second hop's receive() is called before the thread asks for it: the read-ahead at work.
    asked: list[str] = []
    gate = threading.Event()
    messages = [{"type": "http.request", "body": b"b" * READ_SIZE, "more_body": True} for _ in range(2)]
    messages.append({"type": "http.request", "body": b"", "more_body": False})

    async def scenario() -> None:
        async def receive() -> dict[str, Any]:
            asked.append("receive")
            if len(asked) == 2:
                gate.set()
            return messages.pop(0)

        request = Request({"type": "http", "method": "PUT", "headers": []}, receive)
        async with RequestReader(request, None) as reader:

            def work() -> int:
                total = len(reader.read(READ_SIZE))
                assert gate.wait(30), "the second chunk was not received while the thread held the first"
                asked.append("thread reads on")
                while chunk := reader.read(READ_SIZE):
                    total += len(chunk)
                return total

            assert await asyncio.get_running_loop().run_in_executor(None, work) == 2 * READ_SIZE

    asyncio.run(scenario())
    assert asked[:3] == ["receive", "receive", "thread reads on"]
