"""Multipart uploads as temporary part objects composed on complete.

The JSON API has no multipart upload of the XML API's kind, but it has ``compose``: up to 32 objects joined
server-side into one. Each part is uploaded as its own object under the reserved prefix
``.satchel/multipart/<upload>/``; ``complete`` composes them in part order (in rounds of 32, through
intermediate objects, when there are more), writing the key in one step with the put's preconditions, then
deletes the temporary objects. Nothing is visible at the key before ``complete``; ``abort`` deletes every part.
Each part's etag is its generation, and the compose requires exactly those generations
(``ifSourceGenerationMatch``), so a part uploaded again after its etag was taken is refused.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

from satchel.backends.gcs._errors import Conflict, translate
from satchel.backends.gcs._lister import RESERVED
from satchel.backends.gcs._meta import apply_attributes, etag_of
from satchel.errors import ConfigError, NotFound, PreconditionFailed
from satchel.path import Key
from satchel.types import Part, PutMode, PutOptions, PutResult
from satchel.unique import unique_token

__all__ = ["COMPOSE_LIMIT", "GCSUpload"]

COMPOSE_LIMIT = 32


class GCSUpload:
    """A multipart upload of one key, its parts kept as temporary objects until complete or abort."""

    def __init__(
        self,
        bucket: Any,
        key: Key,
        options: PutOptions,
        *,
        preconditions: dict[str, int],
        delete: Callable[[Sequence[str]], None],
        chunk_size: int,
        timeout: float,
        location: str,
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._options = options
        self._preconditions = preconditions
        self._delete = delete
        self._chunk_size = chunk_size
        self._timeout = timeout
        self._location = location
        self._base = f"{RESERVED}multipart/{unique_token()}/"
        self._temporaries: set[str] = set()
        self._generations: dict[str, str] = {}
        self._done = False

    def put_part(self, number: int, data: bytes | memoryview) -> Part:
        """Upload part ``number`` as a temporary object; uploading the number again replaces it.

        Raises:
            ConfigError: the number is below 1.
            NotFound: the upload was completed or aborted.
        """
        if number < 1:
            raise ConfigError("part numbers start at 1", key=self._key, operation="put_part", backend="gcs")
        self._check_open()
        name = f"{self._base}{number:06d}"
        blob = self._bucket.blob(name, chunk_size=self._chunk_size)
        self._temporaries.add(name)
        with translate("put_part", self._key, location=self._location, missing="bucket"):
            blob.upload_from_file(
                io.BytesIO(data),
                size=len(data),
                content_type="application/octet-stream",
                timeout=self._timeout,
                retry=None,
            )
        self._generations[name] = str(blob.generation)
        return Part(number, self._generations[name], len(data))

    def complete(self, parts: Sequence[Part]) -> PutResult:
        """Compose the parts in order of their numbers into the key, then delete the temporary objects.

        Raises:
            AlreadyExists: ``mode=CREATE`` and the key exists.
            PreconditionFailed: ``mode=UPDATE`` and the object changed, or a part is not the one uploaded.
            NotFound: the upload was completed or aborted.
        """
        self._check_open()
        ordered = sorted(parts, key=lambda part: part.number)
        sources = [self._source(part) for part in ordered]
        try:
            round_number = 0
            while len(sources) > COMPOSE_LIMIT:
                round_number += 1
                sources = [
                    self._compose(sources[i : i + COMPOSE_LIMIT], f"{self._base}r{round_number}-{i:06d}")
                    for i in range(0, len(sources), COMPOSE_LIMIT)
                ]
            target = self._bucket.blob(self._key, chunk_size=self._chunk_size)
            apply_attributes(target, self._options.attributes)
            conflict: Conflict = "exists" if self._options.mode is PutMode.CREATE else "precondition"
            with translate("complete", self._key, location=self._location, missing="bucket", conflict=conflict):
                if sources:
                    target.compose(
                        sources,
                        if_source_generation_match=[source.generation for source in sources],
                        timeout=self._timeout,
                        retry=None,
                        **self._preconditions,
                    )
                else:
                    target.upload_from_file(
                        io.BytesIO(b""),
                        size=0,
                        content_type=target.content_type,
                        timeout=self._timeout,
                        retry=None,
                        **self._preconditions,
                    )
        finally:
            self.abort()
        return PutResult(etag_of(target), str(target.generation))

    def abort(self) -> None:
        """Delete every temporary object of the upload; afterwards nothing of it remains."""
        self._done = True
        names, self._temporaries = sorted(self._temporaries), set()
        if names:
            self._delete(names)

    def _source(self, part: Part) -> Any:
        name = f"{self._base}{part.number:06d}"
        if self._generations.get(name) != part.etag:
            raise PreconditionFailed(
                f"part {part.number} was not uploaded with that etag",
                key=self._key,
                operation="complete",
                backend="gcs",
            )
        return self._bucket.blob(name, generation=int(part.etag))

    def _compose(self, sources: list[Any], name: str) -> Any:
        blob = self._bucket.blob(name)
        blob.content_type = "application/octet-stream"
        self._temporaries.add(name)
        with translate("complete", self._key, location=self._location, missing="bucket"):
            blob.compose(
                sources,
                if_source_generation_match=[source.generation for source in sources],
                timeout=self._timeout,
                retry=None,
            )
        return self._bucket.blob(name, generation=blob.generation)

    def _check_open(self) -> None:
        if self._done:
            raise NotFound("the upload was completed or aborted", key=self._key, operation="multipart", backend="gcs")
