"""The server's error answer: an HTTP status with the protocol's JSON body ``{"detail": ..., "causes": [...]}``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ApiError"]


class ApiError(Exception):
    """A request the server refuses, with the HTTP status and the message the client sees.

    Args:
        status: the HTTP status code (400, 401, 403, 404, 409, 413, 416, 422, 501, 503, ...).
        detail: one readable sentence; never a token, signature or secret.
        causes: further readable reasons, outermost first.
        headers: extra response headers (``retry-after``, ``content-range``, ``upload-offset``, ...).
        code: the name of the satchel error class behind the answer (``"AlreadyExists"``, ``"InvalidPath"``),
            for satchel's own clients; other clients read the status only.
    """

    def __init__(
        self,
        status: int,
        detail: str,
        causes: Sequence[str] = (),
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.causes = list(causes)
        self.headers = dict(headers or {})
        self.code = code

    def body(self) -> dict[str, object]:
        """Return the JSON body of the answer (``causes`` and ``code`` only when there are some)."""
        out: dict[str, object] = {"detail": self.detail}
        if self.causes:
            out["causes"] = self.causes
        if self.code is not None:
            out["code"] = self.code
        return out

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.detail!r})"
