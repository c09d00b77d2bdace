"""The Hypothesis state machine of satchel.testing.stateful on memory and local stores, bare and layered."""

from __future__ import annotations

import shutil
import tempfile

from hypothesis import HealthCheck, settings

import satchel
from satchel.backends.local import LocalBackend
from satchel.backends.memory import MemoryBackend
from satchel.testing.stateful import StoreStateMachine, store_state_machine

SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class _LocalMachine(StoreStateMachine):
    """Each example gets a fresh temporary folder, removed afterwards."""

    layered = False

    def make_store(self) -> satchel.Store:
        self.folder = tempfile.mkdtemp(prefix="satchel-stateful-")
        if self.layered:
            return satchel.open(self.folder, fsync=False, prefix="ns/")
        return satchel.Store(LocalBackend(self.folder, fsync=False))

    def close_store(self) -> None:
        try:
            super().close_store()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class _LayeredLocalMachine(_LocalMachine):
    layered = True


TestMemoryBare = store_state_machine(lambda: satchel.Store(MemoryBackend())).TestCase
TestMemoryBare.settings = SETTINGS

TestMemoryStack = store_state_machine(lambda: satchel.open("memory://", prefix="ns/")).TestCase
TestMemoryStack.settings = SETTINGS

TestLocalBare = _LocalMachine.TestCase
TestLocalBare.settings = SETTINGS

TestLocalStack = _LayeredLocalMachine.TestCase
TestLocalStack.settings = SETTINGS
