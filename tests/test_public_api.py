"""The public face: ``satchel.__all__``, the error tree, the forwarding base of layers, pickling of errors."""

from __future__ import annotations

import importlib.metadata
import inspect
import pickle
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

import satchel
from satchel import errors
from satchel.backend import Backend, ForwardingBackend, ForwardingUpload, GetResult, MultipartUpload, Payload
from satchel.backends.memory import MemoryBackend
from satchel.body import BytesBody
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.metrics import MetricsLayer, NoOpMetricsBackend
from satchel.layers.prefix import PrefixLayer
from satchel.layers.readonly import ReadOnlyLayer
from satchel.layers.retry import RetryLayer
from satchel.path import Key
from satchel.types import (
    Capabilities,
    CopyOptions,
    DeleteOptions,
    GetOptions,
    ListResult,
    ObjectMeta,
    Part,
    PutOptions,
    PutResult,
)


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then everything else.
    if name.isupper():
        return 0, name
    if name[0].isupper():
        return 1, name
    return 2, name


def test_all_is_sorted_and_unique() -> None:
    assert satchel.__all__ == sorted(satchel.__all__, key=_isort_key)
    assert len(set(satchel.__all__)) == len(satchel.__all__)


def test_every_name_in_all_exists() -> None:
    for name in satchel.__all__:
        assert getattr(satchel, name) is not None, name
    namespace: dict[str, Any] = {}
    exec("from satchel import *", namespace)
    assert set(satchel.__all__) <= set(namespace)


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(satchel).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and getattr(value, "__module__", "").startswith("satchel")
    }
    assert public <= set(satchel.__all__)
    assert set(errors.__all__) <= set(satchel.__all__)


def test_version() -> None:
    assert satchel.__version__ == importlib.metadata.version("satchel")


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.NotFound, FileNotFoundError),
        (errors.AlreadyExists, FileExistsError),
        (errors.RangeNotSatisfiable, ValueError),
        (errors.InvalidPath, ValueError),
        (errors.ConfigError, ValueError),
        (errors.PermissionDenied, PermissionError),
        (errors.NotSupported, NotImplementedError),
    ],
)
def test_errors_inherit_the_promised_builtins(error: type[errors.SatchelError], builtin: type[Exception]) -> None:
    assert issubclass(error, builtin)
    assert issubclass(error, errors.SatchelError)
    with pytest.raises(builtin):
        raise error("caught as the built-in", key="k")


def test_every_error_is_a_satchel_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SatchelError)
    assert issubclass(errors.SatchelError, Exception)
    for name in ("PreconditionFailed", "NotModified", "TransientError"):
        assert not issubclass(getattr(errors, name), FileNotFoundError | ValueError)


@pytest.mark.parametrize("name", errors.__all__)
def test_errors_pickle_round_trip(name: str) -> None:
    cls: type[errors.SatchelError] = getattr(errors, name)
    for retryable in (None, True, False):
        error = cls("it failed", key="dir/k", operation="get", backend="memory", retryable=retryable)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is cls
        assert (copy.message, copy.key, copy.operation, copy.backend, copy.retryable) == (
            "it failed",
            "dir/k",
            "get",
            "memory",
            error.retryable,
        )
        assert str(copy) == str(error) == "it failed (memory get 'dir/k')"


def test_retryable_defaults() -> None:
    assert errors.TransientError("t").retryable
    assert not errors.NotFound("n").retryable
    assert not errors.TransientError("t", retryable=False).retryable


# --- the forwarding base -------------------------------------------------------------------------------


def _protocol_methods(protocol: type) -> set[str]:
    return {
        name
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def test_forwarding_backend_defines_every_protocol_method() -> None:
    methods = _protocol_methods(Backend)
    assert methods >= {"put", "get", "delete", "list", "copy", "close", "capabilities"}
    for name in methods:
        assert name in vars(ForwardingBackend), name
        mine, theirs = getattr(ForwardingBackend, name), getattr(Backend, name)
        if callable(theirs):
            assert list(inspect.signature(mine).parameters) == list(inspect.signature(theirs).parameters), name
    for name in _protocol_methods(MultipartUpload):
        assert name in vars(ForwardingUpload), name


class _Recorder:
    """A Backend that records each call as (method, arguments) and returns a marker."""

    name = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    @property
    def capabilities(self) -> Capabilities:
        self.calls.append(("capabilities", ()))
        return Capabilities(signing=True)

    def put(self, key: Key, payload: Payload, options: PutOptions) -> PutResult:
        self.calls.append(("put", (key, payload, options)))
        return PutResult("etag")

    def put_multipart(self, key: Key, options: PutOptions) -> MultipartUpload:
        self.calls.append(("put_multipart", (key, options)))
        return ForwardingUpload(self)

    def get(self, key: Key, options: GetOptions) -> GetResult:
        self.calls.append(("get", (key, options)))
        meta = ObjectMeta(key, 0, None, datetime.now(UTC))
        return GetResult(meta, (0, 0), BytesBody(b""))

    def delete(self, keys: Sequence[Key], options: DeleteOptions | None = None) -> None:
        self.calls.append(("delete", (keys, options)))

    def list(self, prefix: str, offset: str | None = None) -> Iterator[ObjectMeta]:
        self.calls.append(("list", (prefix, offset)))
        return iter([])

    def list_with_delimiter(self, prefix: str) -> ListResult:
        self.calls.append(("list_with_delimiter", (prefix,)))
        return ListResult([], [])

    def copy(self, src: Key, dst: Key, options: CopyOptions) -> None:
        self.calls.append(("copy", (src, dst, options)))

    def rename(self, src: Key, dst: Key, options: CopyOptions) -> None:
        self.calls.append(("rename", (src, dst, options)))

    def close(self) -> None:
        self.calls.append(("close", ()))

    def sign(self, key: Key, method: Literal["GET", "PUT"], expires_in: float) -> str:
        self.calls.append(("sign", (key, method, expires_in)))
        return "https://signed"

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        self.calls.append(("put_part", (number, data)))
        return Part(number, "e", len(data))

    def complete(self, parts: Sequence[Part]) -> PutResult:
        self.calls.append(("complete", (parts,)))
        return PutResult("etag")

    def abort(self) -> None:
        self.calls.append(("abort", ()))


def test_forwarding_backend_forwards_every_call() -> None:
    inner = _Recorder()
    layer = ForwardingBackend(inner)
    assert isinstance(layer, Backend)
    assert layer.name == "recorder"
    inner.calls.clear()  # the isinstance check of a runtime protocol reads the capabilities property
    k, k2 = Key.parse("k"), Key.parse("k2")
    put, get, delete, copy = PutOptions(), GetOptions(), DeleteOptions("e"), CopyOptions()
    part = Part(1, "e", 1)
    upload = layer.put_multipart(k, put)
    expected: list[tuple[str, tuple[object, ...]]] = [("put_multipart", (k, put))]
    assert layer.capabilities == Capabilities(signing=True)
    layer.put(k, b"x", put)
    layer.get(k, get)
    layer.delete([k], delete)
    list(layer.list("p", "o"))
    layer.list_with_delimiter("p")
    layer.copy(k, k2, copy)
    layer.rename(k, k2, copy)
    assert layer.sign(k, "GET", 5.0) == "https://signed"
    upload.put_part(1, b"x")
    upload.complete([part])
    upload.abort()
    layer.close()
    expected += [
        ("capabilities", ()),
        ("put", (k, b"x", put)),
        ("get", (k, get)),
        ("delete", ([k], delete)),
        ("list", ("p", "o")),
        ("list_with_delimiter", ("p",)),
        ("copy", (k, k2, copy)),
        ("rename", (k, k2, copy)),
        ("sign", (k, "GET", 5.0)),
        ("put_part", (1, b"x")),
        ("complete", ([part],)),
        ("abort", ()),
        ("close", ()),
    ]
    assert inner.calls == expected


def test_forwarding_sign_without_a_signer() -> None:
    with pytest.raises(errors.NotSupported):
        ForwardingBackend(MemoryBackend()).sign(Key.parse("k"), "GET", 60)


@pytest.mark.parametrize(
    "layer",
    [
        CompressionLayer,
        ExpirationLayer,
        RetryLayer,
        lambda b: MetricsLayer(b, NoOpMetricsBackend()),
        lambda b: PrefixLayer(b, "p/"),
        ReadOnlyLayer,
    ],
)
def test_layers_are_backends(layer: Any) -> None:
    wrapped = layer(MemoryBackend())
    assert isinstance(wrapped, ForwardingBackend)
    assert isinstance(wrapped, Backend)
    assert wrapped.name == "memory"
    assert isinstance(MemoryBackend(), Backend)
