"""Secret: a str for credentials whose repr and str never show the value."""

from __future__ import annotations

__all__ = ["Secret"]


class Secret(str):
    """A credential (a key, a password, a token). It works as a str where the value is needed (``reveal()``
    or plain use by an SDK), but ``repr``, ``str`` and f-strings print ``'***'``, so a config dataclass, an
    error message or a log line that includes it does not leak it."""

    __slots__ = ()

    def reveal(self) -> str:
        """Return the value itself, for handing to an SDK."""
        return str.__str__(self)

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"
