"""Conformance: concurrent conditional updates lose nothing."""

from __future__ import annotations

from satchel.store import Store
from satchel.testing._base import StoreTests, requires
from satchel.testing.race import run_increment_race

__all__ = ["RaceTests"]


class RaceTests(StoreTests):
    """The conditional-update race with threads sharing the store: 4 workers x 10 increments end at 40."""

    workers = 4
    increments = 10

    @requires("conditional_update")
    def test_conditional_update_race(self, store: Store, prefix: str) -> None:
        result = run_increment_race(store, prefix + "counter", workers=self.workers, increments=self.increments)
        assert result.final == result.expected == self.workers * self.increments
