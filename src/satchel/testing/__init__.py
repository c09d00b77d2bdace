"""The satchel conformance suite: one set of tests that every backend and every layer must pass.

The tests are pytest classes written against a ``store`` fixture (a :class:`satchel.Store`) that you supply.
Subclass them in a test module of your own project::

    import pytest
    import satchel
    from satchel.testing import ConformanceTests

    @pytest.fixture
    def store():
        with satchel.open("mybackend://...") as store:
            yield store

    class TestMyBackend(ConformanceTests):
        pass

or subclass the classes of one area (``PutGetTests``, ``RangeTests``, ...) to run only those. Each test
writes below a random prefix (the ``prefix`` fixture, ``"t-<hex>/"``) and deletes it afterwards. Tests that
need a capability the backend does not declare (``store.backend.capabilities``), or a layer the store does
not have, are skipped; :class:`CapabilityTests` checks that a missing capability raises ``NotSupported``
before any I/O. :mod:`satchel.testing.stateful` and :mod:`satchel.testing.race` hold a Hypothesis state
machine and the multi-process conditional-update race.
"""

from __future__ import annotations

from satchel.testing._attributes import AttributeTests
from satchel.testing._base import StoreTests, requires, requires_layer, requires_no_layer
from satchel.testing._capabilities import CapabilityTests, RecordingBackend
from satchel.testing._concurrency import RaceTests
from satchel.testing._fileapi import FileAPITests
from satchel.testing._layers import CompressionTests, ExpirationTests
from satchel.testing._listing import ListingTests
from satchel.testing._metrics import RecordingMetrics
from satchel.testing._multipart import CopyMoveTests, MultipartTests
from satchel.testing._putget import DeleteTests, PutGetTests
from satchel.testing._ranges import ConditionalGetTests, RangeTests

__all__ = [
    "AttributeTests",
    "CapabilityTests",
    "CompressionTests",
    "ConditionalGetTests",
    "ConformanceTests",
    "CopyMoveTests",
    "DeleteTests",
    "ExpirationTests",
    "FileAPITests",
    "ListingTests",
    "MultipartTests",
    "PutGetTests",
    "RaceTests",
    "RangeTests",
    "RecordingBackend",
    "RecordingMetrics",
    "StoreTests",
    "requires",
    "requires_layer",
    "requires_no_layer",
]


class ConformanceTests(
    PutGetTests,
    DeleteTests,
    RangeTests,
    ConditionalGetTests,
    ListingTests,
    MultipartTests,
    CopyMoveTests,
    AttributeTests,
    ExpirationTests,
    CompressionTests,
    FileAPITests,
    CapabilityTests,
    RaceTests,
):
    """Every conformance test of every area, for one ``store`` fixture."""
