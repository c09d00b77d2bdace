"""The base of every conformance class: the per-test key prefix, clean-up, and capability requirements."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest

from satchel.backend import Backend, ForwardingBackend, find_layer
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.store import Store
from satchel.types import Capabilities

__all__ = ["StoreTests", "has_layer", "requires", "requires_layer", "requires_no_layer"]

_F = TypeVar("_F", bound=Callable[..., object])
_ATTRIBUTE = "__satchel_requirements__"
_CAPABILITY_NAMES = frozenset(f.name for f in dataclasses.fields(Capabilities))

LAYERS: dict[str, type[ForwardingBackend]] = {
    "compression": CompressionLayer,
    "expiration": ExpirationLayer,
}


@dataclass(frozen=True)
class _Requirement:
    """One thing a test needs from the store; ``problem`` says why the store falls short, or None."""

    capability: str | None = None
    layer: str | None = None
    absent_layer: str | None = None

    def problem(self, store: Store) -> str | None:
        if self.capability is not None and not getattr(store.backend.capabilities, self.capability):
            return f"the backend lacks the {self.capability!r} capability"
        if self.layer is not None and not has_layer(store.backend, self.layer):
            return f"the store has no {self.layer} layer"
        if self.absent_layer is not None and has_layer(store.backend, self.absent_layer):
            return f"the store has a {self.absent_layer} layer"
        return None


def has_layer(backend: Backend, name: str) -> bool:
    """Return True if the stack of ``backend`` holds the layer called ``name`` (``"compression"``, ...)."""
    return find_layer(backend, LAYERS[name]) is not None


def _add(requirements: list[_Requirement]) -> Callable[[_F], _F]:
    def decorate(test: _F) -> _F:
        existing: tuple[_Requirement, ...] = getattr(test, _ATTRIBUTE, ())
        setattr(test, _ATTRIBUTE, existing + tuple(requirements))
        return test

    return decorate


def requires(*capabilities: str) -> Callable[[_F], _F]:
    """Skip the decorated test on stores whose backend lacks any of ``capabilities`` (Capabilities fields).

    Raises:
        ValueError: a name is not a field of :class:`~satchel.types.Capabilities` (a typo would skip nothing).
    """
    unknown = sorted(set(capabilities) - _CAPABILITY_NAMES)
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}")
    return _add([_Requirement(capability=name) for name in capabilities])


def requires_layer(name: str) -> Callable[[_F], _F]:
    """Skip the decorated test on stores without the layer ``name`` (``"compression"`` or ``"expiration"``)."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}")
    return _add([_Requirement(layer=name)])


def requires_no_layer(name: str) -> Callable[[_F], _F]:
    """Skip the decorated test on stores that do have the layer ``name``."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r}")
    return _add([_Requirement(absent_layer=name)])


def cleanup(store: Store, prefix: str) -> None:
    """Delete every object under ``prefix``, expired ones included."""
    store.delete_many([meta.key for meta in store.list(prefix)])
    if has_layer(store.backend, "expiration"):
        store.sweep(prefix)


class StoreTests:
    """Base of the conformance classes.

    Subclasses run against a ``store`` fixture (a :class:`satchel.Store`) that the user supplies, in a
    ``conftest.py`` or as a fixture method of the subclass. Each test writes only under its ``prefix``
    (``"t-<hex>/"``) and everything under it is deleted afterwards. Tests decorated with :func:`requires`
    or :func:`requires_layer` are skipped where the store lacks what they need.
    """

    @pytest.fixture(autouse=True)
    def _satchel_requirements(self, request: pytest.FixtureRequest, store: Store) -> None:
        requirements: tuple[_Requirement, ...] = getattr(request.function, _ATTRIBUTE, ())
        for requirement in requirements:
            problem = requirement.problem(store)
            if problem is not None:
                pytest.skip(problem)

    @pytest.fixture
    def prefix(self, store: Store) -> Iterator[str]:
        """A fresh random key prefix (``"t-<hex>/"``); every object under it is deleted after the test."""
        value = f"t-{secrets.token_hex(6)}/"
        yield value
        cleanup(store, value)


def listed_keys(store: Store, prefix: str) -> list[str]:
    """Return the keys ``store.list(prefix)`` yields, in the order it yields them."""
    return [meta.key for meta in store.list(prefix)]
