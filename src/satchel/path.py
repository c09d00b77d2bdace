"""Object keys.

A key is a ``/``-separated string of non-empty segments. :meth:`Key.parse` is strict: it rejects what could be
ambiguous or dangerous anywhere (``.`` and ``..`` segments, empty segments, a leading or trailing ``/``, NUL and
control characters) with :class:`~satchel.errors.InvalidPath`. :meth:`Key.from_parts` builds a key from
arbitrary segment strings by percent-encoding what ``parse`` would reject, so any name can be stored.

Keys are kept exactly as given: satchel does not normalize Unicode (``"é"`` as one code point and as ``e`` plus
a combining accent are two different keys), as S3, GCS and Azure do not.
"""

from __future__ import annotations

import re

from satchel.errors import InvalidPath

__all__ = ["Key", "validate_prefix"]

# C0 controls, DEL and C1 controls (NUL among them), and lone surrogates, which UTF-8 cannot encode.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_MAX_KEY_BYTES = 1024


class Key(str):
    """A validated object key: a ``str`` whose segments are all non-empty, with no ``.``/``..`` segment."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: str) -> Key:
        """Validate ``value`` and return it as a Key.

        Raises:
            InvalidPath: the key is empty, starts or ends with ``/``, has an empty, ``.`` or ``..`` segment,
                contains NUL or control characters, or is longer than 1024 UTF-8 bytes.
        """
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise InvalidPath(f"a key must be a str, not {type(value).__name__}")
        reason = _problem(value)
        if reason is not None:
            raise InvalidPath(f"invalid key: {reason}", key=value)
        return cls(value)

    @classmethod
    def from_parts(cls, *parts: str) -> Key:
        """Join arbitrary segment strings into a key, percent-encoding what :meth:`parse` would reject.

        ``/``, ``%`` and control characters inside a part are encoded, and so are ``.`` and ``..`` parts, so
        the result always parses and splits back into the same number of segments.

        Raises:
            InvalidPath: no parts were given, a part is empty, or the result is longer than 1024 UTF-8 bytes.
        """
        if not parts:
            raise InvalidPath("a key needs at least one part")
        encoded = []
        for part in parts:
            text = _ENCODE_IN_PART.sub(_percent, part)
            if not text:
                raise InvalidPath("a key part must not be empty", key="/".join(parts))
            if text in (".", ".."):
                text = text.replace(".", "%2E")
            encoded.append(text)
        return cls.parse("/".join(encoded))

    @property
    def parts(self) -> tuple[str, ...]:
        """The segments of the key."""
        return tuple(self.split("/"))

    @property
    def name(self) -> str:
        """The last segment."""
        return self.rpartition("/")[2]

    @property
    def parent(self) -> str:
        """Everything before the last ``/`` (``""`` for a top-level key)."""
        return self.rpartition("/")[0]


# from_parts encodes only what a segment cannot hold; everything else, Unicode included, stays readable.
_ENCODE_IN_PART = re.compile(r"[/%\x00-\x1f\x7f-\x9f]")


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in match.group().encode())


def _problem(value: str) -> str | None:
    if not value:
        return "the key is empty"
    if value[0] == "/":
        return "a key must not start with '/'"
    if value[-1] == "/":
        return "a key must not end with '/'"
    if _FORBIDDEN.search(value):
        return "NUL, control characters and lone surrogates are not allowed"
    if "//" in value:
        return "empty segments ('//') are not allowed"
    if "." in value:
        for segment in value.split("/"):
            if segment in (".", ".."):
                return f"'{segment}' segments are not allowed"
    if len(value) * 4 > _MAX_KEY_BYTES and len(value.encode()) > _MAX_KEY_BYTES:
        return f"longer than {_MAX_KEY_BYTES} UTF-8 bytes"
    return None


def validate_prefix(prefix: str) -> str:
    """Check a listing prefix and return it.

    A prefix is a plain string matched against the start of keys (``"a/b"`` lists ``a/bc`` too). It may be
    empty or end with ``/``, but every complete segment in it must be a valid key segment.

    Raises:
        InvalidPath: the prefix starts with ``/``, or holds an empty, ``.``/``..`` segment or a control
            character.
    """
    if not prefix:
        return prefix
    body = prefix[:-1] if prefix.endswith("/") else prefix
    reason = _problem(body) if body else "a prefix must not be '/'"
    complete = prefix.endswith("/")
    if reason is not None and (complete or not _incomplete_dot_segment_only(body)):
        raise InvalidPath(f"invalid prefix: {reason}", key=prefix)
    return prefix


def _incomplete_dot_segment_only(body: str) -> bool:
    # "a/." is a legal *prefix* (it lists "a/.hidden") when it does not end in "/", because the last segment
    # is incomplete; only the complete segments must be valid.
    head, _, last = body.rpartition("/")
    if last not in (".", ".."):
        return False
    return not head or _problem(head) is None
