"""AsyncStore: the same surface as Store, and real use from asyncio."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

import satchel
from satchel.errors import NotFound
from satchel.store_async import AsyncStore


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _shape(signature: inspect.Signature) -> list[tuple[str, inspect._ParameterKind, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_same_public_methods() -> None:
    assert sorted(_public_methods(AsyncStore)) == sorted(_public_methods(satchel.Store))


@pytest.mark.parametrize("name", sorted(_public_methods(satchel.Store)))
def test_same_parameters(name: str) -> None:
    sync = _public_methods(satchel.Store)[name]
    async_ = _public_methods(AsyncStore)[name]
    assert _shape(async_) == _shape(sync)


@pytest.mark.parametrize("name", sorted(_public_methods(AsyncStore)))
def test_methods_are_async(name: str) -> None:
    method = getattr(AsyncStore, name)
    assert inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)


def test_put_get_list_open_download(tmp_path: Path) -> None:
    async def main() -> None:
        async with satchel.open_async(tmp_path / "root", fsync=False, limit=4) as store:
            await asyncio.gather(*(store.put(f"dir/{i:02d}", bytes([i]) * i) for i in range(20)))
            assert await store.get_bytes("dir/05") == b"\x05" * 5
            assert await store.exists("dir/05")
            assert not await store.exists("dir/99")
            result = await store.get("dir/10")
            async with result.body as body:
                chunks = [chunk async for chunk in body]
            assert b"".join(chunks) == b"\x0a" * 10
            assert result.meta.size == 10
            keys = [meta.key async for meta in store.list("dir/")]
            assert keys == [f"dir/{i:02d}" for i in range(20)]
            assert [m.key async for m in store.list("dir/", offset="dir/17")] == ["dir/18", "dir/19"]
            level = await store.list_with_delimiter("")
            assert level.common_prefixes == ["dir/"]
            async with await store.open("written", "wb", content_type="text/plain") as writer:
                await writer.write(b"hello ")
                await writer.write(b"async")
            async with await store.open("written") as reader:
                assert await reader.read(5) == b"hello"
                assert await reader.seek(6) == 6
                assert await reader.read() == b"async"
            assert (await store.head("written")).content_type == "text/plain"
            assert await store.get_range("written", -5) == b"async"
            target = tmp_path / "downloaded.txt"
            await store.download_file("written", target)
            assert target.read_bytes() == b"hello async"
            await store.copy("written", "copied")
            await store.move("copied", "moved")
            await store.delete_many([f"dir/{i:02d}" for i in range(20)])
            await store.delete("written")
            assert [m.key async for m in store.list()] == ["moved"]
            with pytest.raises(NotFound):
                await store.get_bytes("written")

    asyncio.run(main())


def test_async_writer_aborts_on_exception() -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        store = AsyncStore(satchel.open("memory://"))
        await store.put("k", b"previous")

        async def write_then_fail() -> None:
            async with await store.open("k", "wb") as writer:
                await writer.write(b"half")
                raise Boom

        with pytest.raises(Boom):
            await write_then_fail()
        assert await store.get_bytes("k") == b"previous"
        await store.close()

    asyncio.run(main())


def test_listing_past_a_page() -> None:
    async def main() -> None:
        sync = satchel.open("memory://")
        for i in range(2500):
            sync.put(f"k{i:05d}", b"")
        store = AsyncStore(sync, limit=2)
        keys = [meta.key async for meta in store.list()]
        assert keys == [f"k{i:05d}" for i in range(2500)]
        await store.close()

    asyncio.run(main())
