"""AsyncStore: the Store's methods as coroutines, run in a bounded pool of worker threads.

The core is synchronous (the filesystem, paramiko and the boto-era SDKs are); an AsyncStore lets asyncio code
use it without blocking the event loop. A test keeps its method names and parameters identical to Store's.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal, ParamSpec, TypeVar

from satchel.backend import MultipartUpload, Payload
from satchel.body import Body
from satchel.io import ObjectReader, ObjectWriter
from satchel.store import Store
from satchel.transfer import Progress
from satchel.types import (
    ByteRange,
    Compression,
    ExpirationPolicy,
    ListResult,
    ObjectMeta,
    PutMode,
    PutResult,
)

__all__ = ["AsyncBody", "AsyncGetResult", "AsyncObjectFile", "AsyncStore"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_LIST_PAGE = 1000


class _Runner:
    def __init__(self, limit: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="satchel-async")

    async def run(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))


class AsyncBody:
    """The async face of a :class:`~satchel.body.Body`: ``await read(n)``, ``async for``, ``await close()``."""

    def __init__(self, body: Body, runner: _Runner) -> None:
        self._body = body
        self._runner = runner
        self.size = body.size

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (everything left when negative)."""
        return await self._runner.run(self._body.read, size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self.read(1 << 20):
            yield chunk

    async def close(self) -> None:
        """Release the underlying stream."""
        await self._runner.run(self._body.close)

    async def __aenter__(self) -> AsyncBody:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


@dataclass
class AsyncGetResult:
    """The answer to an async get: metadata, the byte range served and an async body."""

    meta: ObjectMeta
    range: tuple[int, int]
    body: AsyncBody


class AsyncObjectFile:
    """The async face of an object opened with :meth:`AsyncStore.open` (reader or writer)."""

    def __init__(self, file: ObjectReader | ObjectWriter, runner: _Runner) -> None:
        self._file = file
        self._runner = runner

    async def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes from a reader."""
        if not isinstance(self._file, ObjectReader):
            raise OSError("not open for reading")
        return await self._runner.run(self._file.read, size)

    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move a reader to a new position."""
        return await self._runner.run(self._file.seek, offset, whence)

    async def write(self, data: bytes) -> int:
        """Write ``data`` to a writer."""
        if not isinstance(self._file, ObjectWriter):
            raise OSError("not open for writing")
        return await self._runner.run(self._file.write, data)

    async def close(self) -> None:
        """Close the file; a writer's object becomes visible."""
        await self._runner.run(self._file.close)

    async def __aenter__(self) -> AsyncObjectFile:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and isinstance(self._file, ObjectWriter):
            await self._runner.run(self._file.abort)
        else:
            await self.close()


class AsyncStore:
    """The :class:`~satchel.Store` API as coroutines, running at most ``limit`` calls at once in threads."""

    def __init__(self, store: Store, *, limit: int = 16) -> None:
        self.store = store
        self._runner = _Runner(limit)

    def __repr__(self) -> str:
        return f"AsyncStore({self.store.backend!r})"

    async def __aenter__(self) -> AsyncStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the store and stop the worker threads."""
        await self._runner.run(self.store.close)
        self._runner.executor.shutdown(wait=False)

    async def put(
        self,
        key: str,
        data: Payload | Iterable[bytes],
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        content_encoding: str | None = None,
        content_disposition: str | None = None,
        content_language: str | None = None,
        cache_control: str | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
        mode: PutMode | Literal["overwrite", "create", "update"] = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> PutResult:
        """See :meth:`satchel.Store.put`."""
        return await self._runner.run(
            self.store.put,
            key,
            data,
            content_type=content_type,
            metadata=metadata,
            content_encoding=content_encoding,
            content_disposition=content_disposition,
            content_language=content_language,
            cache_control=cache_control,
            expires=expires,
            compress=compress,
            mode=mode,
            if_match=if_match,
        )

    async def put_multipart(
        self,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
        mode: PutMode | Literal["overwrite", "create", "update"] = PutMode.OVERWRITE,
        if_match: str | None = None,
    ) -> MultipartUpload:
        """See :meth:`satchel.Store.put_multipart` (the upload's own methods are synchronous)."""
        return await self._runner.run(
            self.store.put_multipart,
            key,
            content_type=content_type,
            metadata=metadata,
            expires=expires,
            compress=compress,
            mode=mode,
            if_match=if_match,
        )

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        key: str,
        *,
        progress: Progress | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
    ) -> PutResult:
        """See :meth:`satchel.Store.upload_file` (``progress`` is called from a worker thread)."""
        return await self._runner.run(
            self.store.upload_file,
            path,
            key,
            progress=progress,
            content_type=content_type,
            metadata=metadata,
            expires=expires,
            compress=compress,
        )

    async def get(
        self,
        key: str,
        *,
        range: ByteRange | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
        decompress: bool = True,
    ) -> AsyncGetResult:
        """See :meth:`satchel.Store.get`; the body is read with ``await body.read()`` or ``async for``."""
        result = await self._runner.run(
            self.store.get,
            key,
            range=range,
            if_match=if_match,
            if_none_match=if_none_match,
            if_modified_since=if_modified_since,
            if_unmodified_since=if_unmodified_since,
            decompress=decompress,
        )
        return AsyncGetResult(result.meta, result.range, AsyncBody(result.body, self._runner))

    async def get_bytes(self, key: str, *, decompress: bool = True) -> bytes:
        """See :meth:`satchel.Store.get_bytes`."""
        return await self._runner.run(self.store.get_bytes, key, decompress=decompress)

    async def get_range(self, key: str, start: int, end: int | None = None, *, decompress: bool = True) -> bytes:
        """See :meth:`satchel.Store.get_range`."""
        return await self._runner.run(self.store.get_range, key, start, end, decompress=decompress)

    async def head(self, key: str) -> ObjectMeta:
        """See :meth:`satchel.Store.head`."""
        return await self._runner.run(self.store.head, key)

    async def exists(self, key: str) -> bool:
        """See :meth:`satchel.Store.exists`."""
        return await self._runner.run(self.store.exists, key)

    async def download_file(
        self, key: str, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> ObjectMeta:
        """See :meth:`satchel.Store.download_file` (``progress`` is called from a worker thread)."""
        return await self._runner.run(self.store.download_file, key, path, progress=progress)

    async def open(
        self,
        key: str,
        mode: Literal["rb", "wb"] = "rb",
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires: ExpirationPolicy | None = None,
        compress: Compression | None = None,
    ) -> AsyncObjectFile:
        """See :meth:`satchel.Store.open`; use the result with ``async with``."""
        file = await self._runner.run(
            self.store.open,  # type: ignore[arg-type]
            key,
            mode,
            content_type=content_type,
            metadata=metadata,
            expires=expires,
            compress=compress,
        )
        return AsyncObjectFile(file, self._runner)

    async def list(self, prefix: str = "", *, offset: str | None = None) -> AsyncIterator[ObjectMeta]:
        """See :meth:`satchel.Store.list`: use ``async for``; pages of 1000 are fetched in a worker thread."""
        iterator = await self._runner.run(self.store.list, prefix, offset=offset)
        while True:
            page = await self._runner.run(_take, iterator, _LIST_PAGE)
            for meta in page:
                yield meta
            if len(page) < _LIST_PAGE:
                return

    async def list_with_delimiter(self, prefix: str = "") -> ListResult:
        """See :meth:`satchel.Store.list_with_delimiter`."""
        return await self._runner.run(self.store.list_with_delimiter, prefix)

    async def delete(self, key: str, *, if_match: str | None = None) -> None:
        """See :meth:`satchel.Store.delete`."""
        await self._runner.run(self.store.delete, key, if_match=if_match)

    async def delete_many(self, keys: Iterable[str]) -> None:
        """See :meth:`satchel.Store.delete_many`."""
        await self._runner.run(self.store.delete_many, list(keys))

    async def copy(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """See :meth:`satchel.Store.copy`."""
        await self._runner.run(self.store.copy, src, dst, overwrite=overwrite)

    async def move(self, src: str, dst: str, *, overwrite: bool = True) -> None:
        """See :meth:`satchel.Store.move`."""
        await self._runner.run(self.store.move, src, dst, overwrite=overwrite)

    async def sign(self, key: str, method: Literal["GET", "PUT"] = "GET", expires_in: float = 3600) -> str:
        """See :meth:`satchel.Store.sign`."""
        return await self._runner.run(self.store.sign, key, method, expires_in)

    async def sweep(self, prefix: str = "") -> int:
        """See :meth:`satchel.Store.sweep`."""
        return await self._runner.run(self.store.sweep, prefix)


def _take(iterator: Iterator[ObjectMeta], n: int) -> list[ObjectMeta]:
    page = []
    for meta in iterator:
        page.append(meta)
        if len(page) == n:
            break
    return page
