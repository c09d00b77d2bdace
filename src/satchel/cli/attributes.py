"""The attributes of the objects a command writes: content type, metadata, compression and expiry."""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from satchel.types import Compression, ExpirationPolicy

__all__ = ["ObjectAttributes"]


@dataclass(frozen=True)
class ObjectAttributes:
    """Attributes of the objects a command writes: ``--content-type``, ``--metadata``, ``--compress``, ``--ttl``."""

    content_type: str | None = None
    metadata: Mapping[str, str] | None = None
    compress: Compression | None = None
    expires: ExpirationPolicy | None = None
    guess_content_type: bool = True

    def given(self) -> bool:
        """Return True when an attribute was asked for explicitly (so a store-side copy cannot be used)."""
        return any(value is not None for value in (self.content_type, self.metadata, self.compress, self.expires))

    def put_options(self, name: str, inherited: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the keywords of ``Store.put``/``upload_file`` for an object named ``name``.

        ``inherited`` holds the source object's attributes (a copy between stores keeps them); explicit options
        win over them, and the content type is guessed from ``name`` when neither gives one.
        """
        options: dict[str, Any] = dict(inherited or {})
        if self.content_type is not None:
            options["content_type"] = self.content_type
        elif "content_type" not in options and self.guess_content_type:
            guessed = mimetypes.guess_type(name, strict=False)[0]
            if guessed is not None:
                options["content_type"] = guessed
        if self.metadata is not None:
            options["metadata"] = dict(self.metadata)
        if self.compress is not None:
            options["compress"] = self.compress
        if self.expires is not None:
            options["expires"] = self.expires
        return options
