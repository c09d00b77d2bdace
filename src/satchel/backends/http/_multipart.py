"""Multipart uploads: the server's own (``objects:multipart``, spec a.7), or staged here for conditional writes.

The protocol's multipart upload takes no precondition, so an upload with ``mode=CREATE`` or ``UPDATE`` is staged
instead (``satchel.backends._staged``): its parts go to one local temporary file and ``complete`` streams them,
in order, as one conditional PUT, which the server applies atomically. Memory holds one part at a time either
way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from satchel.backends.http._errors import ErrorContext, scrub
from satchel.backends.http._transport import Transport
from satchel.errors import ConfigError, PreconditionFailed, SatchelError
from satchel.types import Part, PutResult

__all__ = ["MAX_PART_SIZE", "NativeUpload", "check_part"]

MAX_PART_SIZE = 64 << 20
"""The largest part the satchel server accepts (it reads a part whole before storing it)."""
MAX_PARTS = 10_000
_READ_SIZE = 1 << 20

Errors = Callable[[str], ErrorContext]


def check_part(number: int, size: int, key: str, backend: str) -> None:
    """Refuse a part the server would refuse, before any I/O.

    Raises:
        ConfigError: the number is out of range or the part is larger than 64 MiB.
    """
    if not 1 <= number <= MAX_PARTS:
        raise ConfigError(f"part numbers go from 1 to {MAX_PARTS}", key=key, operation="put_part", backend=backend)
    if size > MAX_PART_SIZE:
        raise ConfigError(
            f"a part may hold at most {MAX_PART_SIZE >> 20} MiB on a satchel server",
            key=key,
            operation="put_part",
            backend=backend,
        )


class NativeUpload:
    """An upload held by the server until complete; parts go straight to it.

    Args:
        transport: the connection pool to the server.
        path: the key's path after the resource (``usecase/scopes/key``, already encoded).
        key: the key, for errors.
        upload_id: the server's id of the upload.
        errors: makes the error context of an operation.
    """

    def __init__(self, transport: Transport, path: str, key: str, upload_id: str, errors: Errors) -> None:
        self._transport = transport
        self._path = path
        self._key = key
        self._upload_id = upload_id
        self._errors = errors

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Upload part ``number`` (1-based); uploading a number again replaces that part.

        Raises:
            ConfigError: the number is out of range or the part is larger than 64 MiB (before any I/O).
            NotFound: the upload was completed or aborted.
        """
        errors = self._errors("put_part")
        check_part(number, len(data), self._key, errors.backend)
        query = urlencode({"upload_id": self._upload_id, "part_number": number})
        answer = self._transport.json(
            "PUT", f"/v1/objects:multipart:parts/{self._path}?{query}", errors, body=memoryview(data).cast("B")
        )
        return Part(number, str(answer["etag"]), len(data))

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Assemble ``parts`` in order of their numbers; the object appears at once.

        Raises:
            PreconditionFailed: a part was not uploaded, or not with that etag.
            NotFound: the upload was completed or aborted.
        """
        errors = self._errors("complete")
        listed = [{"part_number": p.number, "etag": p.etag} for p in sorted(parts, key=lambda p: p.number)]
        query = urlencode({"upload_id": self._upload_id})
        answer = self._transport.json(
            "POST", f"/v1/objects:multipart:complete/{self._path}?{query}", errors, {"parts": listed}
        )
        failure = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(failure, dict):
            raise _completion_error(failure, errors)
        etag = answer.get("etag") if isinstance(answer, dict) else None
        return PutResult(etag if isinstance(etag, str) else None)

    def abort(self) -> None:
        """Discard the upload and its parts; an upload already gone is fine."""
        errors = self._errors("abort")
        query = urlencode({"upload_id": self._upload_id})
        self._transport.request("DELETE", f"/v1/objects:multipart/{self._path}?{query}", errors, ok=(204, 200, 404))


_PART_ERRORS: dict[str, type[SatchelError]] = {
    "InvalidPart": PreconditionFailed,
    "InvalidPartOrder": ConfigError,
    "InvalidRequest": ConfigError,
}


def _completion_error(failure: dict[str, object], errors: ErrorContext) -> SatchelError:
    # A failed completion still answers 200 (the server keeps the connection alive with spaces while it
    # assembles); the JSON names the failure with a satchel error class or one of the protocol's codes.
    code = str(failure.get("code", ""))
    message = f"the upload could not be completed: {code}: {scrub(str(failure.get('message', '')))}"
    cls = _PART_ERRORS.get(code)
    return errors.error(cls, message) if cls is not None else errors.from_code(code, message)
