"""CompressionLayer: zstd on write, transparent streaming decompression on read.

A write is compressed when ``PutOptions.compression`` is ``"zstd"``, or when the layer has a ``default`` and
the write names no compression. It is compressed while it streams, and ``Attributes.compression="zstd"`` is
stored with it. A payload whose attributes already say ``compression="zstd"`` was compressed by the caller,
so it is stored verbatim. Multipart uploads compress each part as its own zstd frame, and the frames
concatenate into one valid zstd stream.

Reads with ``GetOptions.decompress`` (the default) decompress while streaming:

* ``meta`` describes the stored object: ``size`` is the stored (compressed) size and
  ``attributes.compression`` stays ``"zstd"``.
* Byte ranges apply to the decompressed bytes. A zstd stream cannot be entered in the middle, so the layer
  reads the stored object from its start and skips up to the range. A suffix range keeps at most its own
  length in memory.
* ``range`` is in decompressed offsets and its start is always exact. The end is exact when the get returns
  if the decompressed length is known on opening. That is the case for suffix ranges, which are resolved by
  reading to the end, and for objects whose zstd frame header records the content size (every object this
  layer wrote from bytes or from a seekable stream). Otherwise ``body.size`` is None, ``range`` is
  ``(start, start)`` when the get returns, and the layer sets the exact end once the body has been read to
  its end.
* ``decompress=False`` returns the stored bytes, and ranges apply to them.

Capabilities are the inner backend's: ``ranges`` stays as it is because the layer serves ranges of
compressed objects itself.
"""

from __future__ import annotations

import os
import struct
from dataclasses import replace
from typing import IO, cast

import zstandard

from satchel.backend import (
    BYTES_LIKE,
    Backend,
    ForwardingBackend,
    ForwardingUpload,
    GetResult,
    MultipartUpload,
    Payload,
)
from satchel.body import CHUNK_SIZE, Body, BytesBody, ReadableStream
from satchel.errors import ConfigError, NotSupported, RangeNotSatisfiable, SatchelError
from satchel.layers._streams import Primed, SeekableStream, Window
from satchel.path import Key
from satchel.types import ByteRange, Compression, GetOptions, Part, PutOptions, PutResult

__all__ = ["CompressionLayer"]

_ZSTD: Compression = "zstd"
_MAX_FRAME_HEADER = 18
_SKIPPABLE_MAGIC = 0x184D2A50


class CompressionLayer(ForwardingBackend):
    """A layer that stores objects zstd-compressed and decompresses them on read."""

    def __init__(self, inner: Backend, *, level: int = 3, default: Compression | None = None) -> None:
        """Wrap ``inner``.

        Args:
            inner: the backend that stores the compressed bytes.
            level: the zstd compression level (negative levels trade ratio for speed).
            default: the compression of writes that name none; None compresses only when asked.

        Raises:
            ConfigError: the level or the default is not valid.
        """
        super().__init__(inner)
        if not isinstance(level, int) or level > zstandard.MAX_COMPRESSION_LEVEL:
            raise ConfigError(f"zstd levels go up to {zstandard.MAX_COMPRESSION_LEVEL}, got {level!r}")
        if default not in (None, _ZSTD):
            raise ConfigError(f"unknown compression {default!r}; satchel knows 'zstd'")
        self.level = level
        self.default = default

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        """Compress ``payload`` if asked to and store it (see :meth:`satchel.backend.Backend.put`).

        Raises:
            ConfigError: the payload is declared compressed already and compression was asked for again.
            NotSupported: the compression is not zstd.
            SatchelError: a stream changed size while it was compressed.
        """
        if self._codec(key, options, "put") is None:
            return self.inner.put(key, payload, options)
        stored = _compressed_options(options)
        if isinstance(payload, BYTES_LIKE):
            return self.inner.put(key, self._compressor().compress(payload), stored)
        reader = self._compressor().stream_reader(cast(IO[bytes], payload), size=_remaining(payload), closefd=False)
        try:
            return self.inner.put(key, reader, stored)
        except zstandard.ZstdError as err:
            raise SatchelError(f"compression failed: {err}", key=key, operation="put", backend=self.name) from err
        finally:
            reader.close()  # type: ignore[no-untyped-call]

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        """Start an upload whose parts are compressed one zstd frame each.

        A part at least ``capabilities.min_part_size`` long is padded with a zstd skippable frame when it
        compresses below that size, so the backend still accepts it as a non-final part.

        Raises:
            ConfigError, NotSupported: as :meth:`put`.
        """
        if self._codec(key, options, "put_multipart") is None:
            return self.inner.put_multipart(key, options)
        upload = self.inner.put_multipart(key, _compressed_options(options))
        return _CompressingUpload(upload, self.level, self.inner.capabilities.min_part_size)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        """Open the object, decompressing it when it is compressed and ``options.decompress`` is set.

        Raises:
            NotSupported: the object is compressed with something other than zstd.
            RangeNotSatisfiable: the range starts at or past the end of the decompressed bytes.
            SatchelError: the stored zstd data is corrupt (raised while reading the body).
        """
        if options.head or not options.decompress:
            return self.inner.get(key, options)
        if options.range is None:
            result = self.inner.get(key, options)
            if result.meta.attributes.compression is None:
                return result
            return self._decoded(key, result, None)
        try:
            result = self.inner.get(key, options)
        except RangeNotSatisfiable:
            # A compressed object is shorter stored than decompressed, so the range may still be in it.
            whole = self.inner.get(key, replace(options, range=None))
            if whole.meta.attributes.compression is None:
                whole.body.close()
                raise
            return self._decoded(key, whole, options.range)
        if result.meta.attributes.compression is None:
            return result
        result.body.close()
        return self._decoded(key, self.inner.get(key, replace(options, range=None)), options.range)

    def _codec(self, key: Key, options: PutOptions, operation: str) -> Compression | None:
        requested = options.compression
        if requested is None:
            return None if options.attributes.compression is not None else self.default
        if options.attributes.compression is not None:
            raise ConfigError(
                "the payload is declared compressed already", key=key, operation=operation, backend=self.name
            )
        if requested != _ZSTD:
            raise NotSupported(f"unknown compression {requested!r}", key=key, operation=operation, backend=self.name)
        return requested

    def _compressor(self) -> zstandard.ZstdCompressor:
        return zstandard.ZstdCompressor(level=self.level)

    def _decoded(self, key: Key, result: GetResult, byte_range: ByteRange | None) -> GetResult:
        codec = result.meta.attributes.compression
        if codec is None and byte_range is None:
            return result
        done = False
        try:
            if codec is None:
                # The object was rewritten uncompressed between two reads: window its bytes as they are.
                window = Window(result.body, result.body)
                out = _windowed(result, window, result.meta.size, byte_range, key, self.name)
            elif codec == _ZSTD:
                stream = _ZstdStream(result.body, key, self.name)
                window = Window(stream, result.body)
                out = _windowed(result, window, stream.content_size, byte_range, key, self.name)
            else:
                raise NotSupported(f"unknown compression {codec!r}", key=key, operation="get", backend=self.name)
            done = True
            return out
        finally:
            if not done:
                result.body.close()


def _compressed_options(options: PutOptions) -> PutOptions:
    return replace(options, compression=None, attributes=replace(options.attributes, compression=_ZSTD))


def _remaining(stream: ReadableStream) -> int:
    # Recording the size in the frame header lets reads know the decompressed length up front.
    if not isinstance(stream, SeekableStream):
        return -1
    try:
        if not stream.seekable():
            return -1
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
    except (OSError, ValueError):
        return -1
    stream.seek(here)
    return max(end - here, 0)


def _windowed(
    result: GetResult, window: Window, total: int | None, byte_range: ByteRange | None, key: Key, backend: str
) -> GetResult:
    def unsatisfiable(message: str) -> RangeNotSatisfiable:
        return RangeNotSatisfiable(message, key=key, operation="get", backend=backend)

    if total is not None:
        try:
            start, end = byte_range.resolve(total) if byte_range is not None else (0, total)
        except RangeNotSatisfiable as err:
            raise unsatisfiable(err.message) from None
        if start:
            window.seek_to(start)
        window.end = end
        window.size = end - start
        return GetResult(result.meta, (start, end), window)
    if byte_range is not None and byte_range.suffix is not None:
        tail = bytearray()
        seen = 0
        while chunk := window.read(CHUNK_SIZE):
            seen += len(chunk)
            tail += chunk
            del tail[: -byte_range.suffix]
        window.close()
        if not seen:
            raise unsatisfiable("suffix range of an empty object")
        return GetResult(result.meta, (seen - len(tail), seen), BytesBody(bytes(tail)))
    start = byte_range.start if byte_range is not None else 0
    if byte_range is not None and not window.seek_to(start):
        raise unsatisfiable(f"range starts at {start} but the decompressed object is shorter")
    window.end = byte_range.end if byte_range is not None else None
    out = GetResult(result.meta, (start, start), window)

    def settle(end: int) -> None:
        out.range = (start, end)

    window.on_end = settle
    return out


class _CompressingUpload(ForwardingUpload):
    def __init__(self, inner: MultipartUpload, level: int, min_part_size: int) -> None:
        super().__init__(inner)
        self._level = level
        self._min_part_size = min_part_size

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        # No content size in part frames: the first frame must not claim to be the whole object.
        frame = zstandard.ZstdCompressor(level=self._level, write_content_size=False).compress(data)
        if len(data) >= self._min_part_size > len(frame):
            frame += _skippable_frame(self._min_part_size - len(frame))
        return self.inner.put_part(number, frame)


def _skippable_frame(length: int) -> bytes:
    payload = max(length - 8, 0)
    return struct.pack("<II", _SKIPPABLE_MAGIC, payload) + bytes(payload)


class _ZstdStream:
    """The decompressed bytes of a stream of zstd frames, read from ``source``."""

    def __init__(self, source: Body, key: Key, backend: str) -> None:
        self._key = key
        self._backend = backend
        head = b""
        while len(head) < _MAX_FRAME_HEADER and (chunk := source.read(CHUNK_SIZE)):
            head += chunk
        self.content_size = _frame_content_size(head)
        self._reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], Primed(head, source)), read_across_frames=True, closefd=False
        )
        self._decoded = 0

    def read(self, size: int = -1, /) -> bytes:
        try:
            chunk = self._reader.read(size)
        except zstandard.ZstdError as err:
            raise self._corrupt(f"corrupt zstd data: {err}") from err
        self._decoded += len(chunk)
        # The zstd reader ends quietly on a truncated frame; a recorded size catches that case.
        if not chunk and self.content_size is not None and self._decoded < self.content_size:
            raise self._corrupt("the zstd data ends before its recorded size")
        return chunk

    def close(self) -> None:
        self._reader.close()  # type: ignore[no-untyped-call]

    def _corrupt(self, message: str) -> SatchelError:
        return SatchelError(message, key=self._key, operation="get", backend=self._backend)


def _frame_content_size(head: bytes) -> int | None:
    # A skippable frame reports a content size of 0, so only a real zstd frame header counts.
    if not head.startswith(zstandard.FRAME_HEADER):
        return None
    try:
        size = zstandard.frame_content_size(head)
    except zstandard.ZstdError:
        return None
    return size if size >= 0 else None
