"""A Hypothesis state machine that runs random operations on a Store and on a plain dict, and compares them.

Use it with any store factory::

    from satchel.testing.stateful import store_state_machine

    TestMemoryStore = store_state_machine(lambda: satchel.open("memory://")).TestCase

or subclass :class:`StoreStateMachine` and override :meth:`~StoreStateMachine.make_store` (and
:meth:`~StoreStateMachine.close_store` to remove what the factory created). Keys are drawn from a small
alphabet with ``-``, ``.`` and Unicode in NFC and NFD, so prefixes collide, sort order is exercised, and keys
that are also prefixes of other keys appear often. Where the backend declares ``file_and_prefix=False``,
the model expects :class:`~satchel.errors.InvalidPath` for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from satchel.errors import AlreadyExists, InvalidPath, NotFound, PreconditionFailed, RangeNotSatisfiable
from satchel.store import Store

__all__ = ["StoreStateMachine", "store_state_machine"]

SEGMENTS = ["a", "b", "B", "a-b", "a.b", "ab", "é", "e\u0301"]
_segment = st.sampled_from(SEGMENTS)
_relative_key = st.lists(_segment, min_size=1, max_size=3).map("/".join)
_data = st.binary(max_size=64)
_BOGUS_ETAG = '"0000000000000000"'


def _relative_prefix(parts: list[str], tail: str) -> str:
    joined = "/".join(parts)
    if tail == "/" and joined:
        return joined + "/"
    if tail == "cut" and joined:
        return joined[:-1]
    return joined


_prefix = st.builds(_relative_prefix, st.lists(_segment, max_size=3), st.sampled_from(["", "/", "cut"]))


class StoreStateMachine(RuleBasedStateMachine):
    """Random puts, creates, conditional updates, deletes, reads, ranges, listings, copies and moves on a
    Store, checked step by step against a dict. Subclasses provide :meth:`make_store`."""

    def __init__(self) -> None:
        super().__init__()
        self.store = self.make_store()
        self.root = f"sm-{secrets.token_hex(4)}/"
        self.model: dict[str, bytes] = {}
        self.etags: dict[str, str | None] = {}
        self.seen_etags: list[str] = []
        self.caps = self.store.backend.capabilities

    def make_store(self) -> Store:
        """Return the store under test (called once per example)."""
        raise NotImplementedError

    def close_store(self) -> None:
        """Release the store; override to remove what :meth:`make_store` created."""
        self.store.close()

    def teardown(self) -> None:
        """Delete what the example wrote and close the store."""
        try:
            self.store.delete_many(list(self.model))
        finally:
            self.close_store()

    # --- helpers -----------------------------------------------------------------------------------

    def _key(self, data: st.DataObject, *, existing: bool = False) -> str:
        reuse = bool(self.model) and data.draw(st.booleans(), label="reuse a key")
        if existing or reuse:
            return data.draw(st.sampled_from(sorted(self.model)), label="existing key")
        return self.root + data.draw(_relative_key, label="key")

    def _conflicts(self, key: str, ignoring: str | None = None) -> bool:
        """True where the backend cannot hold ``key`` because it is a prefix of a key or the reverse."""
        if self.caps.file_and_prefix:
            return False
        return any(
            other != ignoring and (other.startswith(key + "/") or key.startswith(other + "/")) for other in self.model
        )

    def _stored(self, key: str, data: bytes, etag: str | None) -> None:
        self.model[key] = data
        self.etags[key] = etag
        if etag is not None:
            self.seen_etags.append(etag)

    def _etag_choice(self, data: st.DataObject) -> str:
        seen = bool(self.seen_etags) and data.draw(st.booleans(), label="a seen etag")
        if seen:
            return data.draw(st.sampled_from(self.seen_etags), label="etag")
        return _BOGUS_ETAG

    # --- writes --------------------------------------------------------------------------------------

    @rule(data=st.data(), value=_data)
    def put(self, data: st.DataObject, value: bytes) -> None:
        key = self._key(data)
        if self._conflicts(key):
            try:
                self.store.put(key, value)
            except InvalidPath:
                return
            raise AssertionError(f"put {key!r} beside a conflicting key did not raise InvalidPath")
        self._stored(key, value, self.store.put(key, value).etag)

    @rule(data=st.data(), value=_data)
    def create(self, data: st.DataObject, value: bytes) -> None:
        if not self.caps.conditional_create:
            return
        key = self._key(data)
        if key in self.model:
            try:
                self.store.put(key, value, mode="create")
            except AlreadyExists:
                return
            raise AssertionError(f"create over {key!r} did not raise AlreadyExists")
        if self._conflicts(key):
            try:
                self.store.put(key, value, mode="create")
            except InvalidPath:
                return
            raise AssertionError(f"create {key!r} beside a conflicting key did not raise InvalidPath")
        self._stored(key, value, self.store.put(key, value, mode="create").etag)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), value=_data)
    def update_current(self, data: st.DataObject, value: bytes) -> None:
        key = self._key(data, existing=True)
        etag = self.etags[key]
        if not self.caps.conditional_update or etag is None:
            return
        self._stored(key, value, self.store.put(key, value, if_match=etag).etag)

    @rule(data=st.data(), value=_data)
    def update_other_etag(self, data: st.DataObject, value: bytes) -> None:
        if not self.caps.conditional_update:
            return
        key = self._key(data)
        etag = self._etag_choice(data)
        if key in self.model and self.etags[key] == etag:
            self._stored(key, value, self.store.put(key, value, if_match=etag).etag)
            return
        expected: tuple[type[Exception], ...] = (PreconditionFailed,)
        if self._conflicts(key):
            expected = (PreconditionFailed, InvalidPath)
        try:
            self.store.put(key, value, if_match=etag)
        except expected:
            return
        raise AssertionError(f"put {key!r} with a stale etag succeeded")

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = self._key(data)
        self.store.delete(key)
        self.model.pop(key, None)
        self.etags.pop(key, None)

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def delete_if_match(self, data: st.DataObject) -> None:
        if not self.caps.conditional_delete:
            return
        key = self._key(data, existing=True)
        current = self.etags[key]
        etag = current if current is not None and data.draw(st.booleans()) else self._etag_choice(data)
        if etag == current:
            self.store.delete(key, if_match=etag)
            del self.model[key], self.etags[key]
            return
        try:
            self.store.delete(key, if_match=etag)
        except PreconditionFailed:
            return
        raise AssertionError(f"delete {key!r} with a stale etag succeeded")

    @rule(data=st.data(), overwrite=st.booleans())
    def copy(self, data: st.DataObject, overwrite: bool) -> None:
        caps = self.caps
        if not caps.copy or (not overwrite and not caps.copy_if_not_exists):
            return
        src, dst = self._key(data), self._key(data)
        self._transfer(src, dst, overwrite, move=False)

    @rule(data=st.data(), overwrite=st.booleans())
    def move(self, data: st.DataObject, overwrite: bool) -> None:
        caps = self.caps
        if not (caps.rename or caps.copy) or (not overwrite and not (caps.rename or caps.copy_if_not_exists)):
            return
        src, dst = self._key(data), self._key(data)
        self._transfer(src, dst, overwrite, move=True)

    def _transfer(self, src: str, dst: str, overwrite: bool, *, move: bool) -> None:
        call = self.store.move if move else self.store.copy
        if src not in self.model:
            expected: tuple[type[Exception], ...] = (NotFound, InvalidPath) if self._conflicts(dst) else (NotFound,)
            try:
                call(src, dst, overwrite=overwrite)
            except expected:
                return
            raise AssertionError(f"{call.__name__} of missing {src!r} succeeded")
        if src == dst:
            if not overwrite and not move:
                with _raises(AlreadyExists):
                    call(src, dst, overwrite=overwrite)
            else:
                call(src, dst, overwrite=overwrite)
            assert self.store.get_bytes(dst) == self.model[src]
            self.etags[dst] = self.store.head(dst).etag
            return
        if not overwrite and dst in self.model:
            with _raises(AlreadyExists):
                call(src, dst, overwrite=overwrite)
            return
        if self._conflicts(dst, ignoring=src if move else None):
            with _raises(InvalidPath):
                call(src, dst, overwrite=overwrite)
            return
        try:
            call(src, dst, overwrite=overwrite)
        except InvalidPath:
            # Moving "a/b" to "a" conflicts only with the source itself: refusing it is allowed.
            if not (move and self._conflicts(dst)):
                raise
            return
        value = self.model[src]
        if move:
            del self.model[src], self.etags[src]
        self._stored(dst, value, self.store.head(dst).etag)

    # --- reads ---------------------------------------------------------------------------------------

    @rule(data=st.data())
    def get(self, data: st.DataObject) -> None:
        key = self._key(data)
        if key not in self.model:
            with _raises(NotFound):
                self.store.get_bytes(key)
            assert not self.store.exists(key)
            return
        result = self.store.get(key)
        with result.body as body:
            assert body.read() == self.model[key]
        assert result.meta.size == len(self.model[key])
        if self.etags[key] is not None:
            assert result.meta.etag == self.etags[key]

    @rule(data=st.data())
    def head(self, data: st.DataObject) -> None:
        key = self._key(data)
        if key not in self.model:
            with _raises(NotFound):
                self.store.head(key)
            return
        meta = self.store.head(key)
        assert (meta.key, meta.size) == (key, len(self.model[key]))
        if self.etags[key] is not None:
            assert meta.etag == self.etags[key]

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data())
    def get_range(self, data: st.DataObject) -> None:
        if not self.caps.ranges:
            return
        key = self._key(data, existing=True)
        value = self.model[key]
        # Offsets around the object's own size, so starts inside, at and past the end all come up.
        start = data.draw(st.integers(-len(value) - 2, len(value) + 2), label="start")
        length = data.draw(st.none() | st.integers(0, len(value) + 2), label="length")
        end = None if length is None or start < 0 else start + length
        if end is not None and end <= start:
            assert self.store.get_range(key, start, end) == b""
        elif (start >= 0 and start >= len(value)) or (start < 0 and not value):
            with _raises(RangeNotSatisfiable):
                self.store.get_range(key, start, end)
        else:
            assert self.store.get_range(key, start, end) == value[start:end]

    @rule(relative=_prefix, data=st.data())
    def list_prefix(self, relative: str, data: st.DataObject) -> None:
        prefix = self.root + relative
        expected = sorted(key for key in self.model if key.startswith(prefix))
        offset = None
        if data.draw(st.booleans(), label="with an offset"):
            offset = self._key(data)
            expected = [key for key in expected if key > offset]
        listing = [(m.key, m.size) for m in self.store.list(prefix, offset=offset)]
        assert listing == [(key, len(self.model[key])) for key in expected]

    @rule(relative=_prefix)
    def list_one_level(self, relative: str) -> None:
        prefix = self.root + relative
        objects = []
        prefixes = set()
        for key in sorted(self.model):
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if "/" in rest:
                prefixes.add(prefix + rest[: rest.index("/") + 1])
            else:
                objects.append(key)
        result = self.store.list_with_delimiter(prefix)
        assert [m.key for m in result.objects] == objects
        assert result.common_prefixes == sorted(prefixes)

    @invariant()
    def listing_matches_model(self) -> None:
        assert [m.key for m in self.store.list(self.root)] == sorted(self.model)


class _raises:
    """Assert that the block raises ``expected`` (pytest.raises, without importing pytest here)."""

    def __init__(self, expected: type[Exception]) -> None:
        self.expected = expected

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        if exc_type is None:
            raise AssertionError(f"did not raise {self.expected.__name__}")
        return issubclass(exc_type, self.expected)


def store_state_machine(factory: Callable[[], Store]) -> type[StoreStateMachine]:
    """Return a :class:`StoreStateMachine` subclass whose examples each run on ``factory()``.

    Use its ``TestCase`` attribute as a test class; set ``TestCase.settings`` to tune Hypothesis.
    """

    class _Machine(StoreStateMachine):
        def make_store(self) -> Store:
            return factory()

    _Machine.__name__ = _Machine.__qualname__ = "StoreStateMachineFor" + getattr(factory, "__name__", "Store")
    return _Machine
