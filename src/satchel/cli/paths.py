"""Path arguments: a local path, ``-`` (stdin or stdout), any satchel URL, or ``NAME:path`` for a named remote.

A URL names a store and a key path inside it. Where the store ends and the key begins depends on the scheme:

* ``s3://bucket/key``, ``gs://bucket/key``, ``az://container/key``: the bucket (container) is the store.
* ``satchel+http(s)://host:port/usecase/scopes/key``: the usecase and scopes are the store.
* ``memory://name/key``: the named in-process store (useful only within one process).
* ``file:///srv/blobs//key`` and ``sftp://user@host/root//key``: a ``//`` separates the store's root folder
  from the key. Without one, a ``file://`` root is the nearest folder (the path or an ancestor) holding
  satchel's reserved ``.satchel/`` folder, else the whole path; an ``sftp://`` root is the whole path.
* ``NAME:key``: the remote ``NAME`` of the configuration file (:mod:`satchel.cli.config`).

The URL's query holds the store's options (``?endpoint_url=...&region=...``); key paths are percent-decoded as
satchel.open decodes a URL's path. A plain path (no ``://``, no configured ``NAME:``) is a local file or folder
handled with the operating system's own calls, so it stays a plain file; ``file://`` opens satchel's local
backend, which keeps content types and metadata beside each file.
"""

from __future__ import annotations

import os
import posixpath
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import satchel
from satchel.cli.config import Remote, config_path, load_remotes
from satchel.errors import ConfigError

__all__ = ["Local", "Location", "RemotePath", "StdStream", "StoreSpec", "Stores", "parse_location"]


@dataclass(frozen=True)
class StoreSpec:
    """How to open one store: a URL (which may hold secrets in its query) and options, plus a safe display root."""

    url: str
    options: tuple[tuple[str, Any], ...] = ()
    base: str = field(default="", compare=False)


@dataclass(frozen=True)
class Local:
    """A plain local file or folder."""

    path: str

    @property
    def display(self) -> str:
        """The path as the user wrote it."""
        return self.path

    def child(self, rel: str) -> Local:
        """Return the path ``rel`` (``/``-separated) below this folder."""
        return Local(os.path.join(self.path, *rel.split("/")))

    @property
    def name(self) -> str:
        """The last component of the path."""
        return os.path.basename(self.path.rstrip("/"))


@dataclass(frozen=True)
class RemotePath:
    """A key path inside a store: ``""`` is the store's root, ``"dir/"`` a prefix, ``"dir/file"`` an object."""

    spec: StoreSpec
    key: str

    @property
    def display(self) -> str:
        """The path without credentials: the store's display root followed by the key."""
        return self.spec.base + self.key

    def child(self, rel: str) -> RemotePath:
        """Return the key ``rel`` below this prefix."""
        return RemotePath(self.spec, self.tree_prefix + rel)

    @property
    def tree_prefix(self) -> str:
        """The prefix of everything below this path: ``""`` at the root, else the key ending in ``/``."""
        return self.key.rstrip("/") + "/" if self.key.strip("/") else ""

    @property
    def name(self) -> str:
        """The last segment of the key."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class StdStream:
    """``-``: standard input as a source, standard output as a destination."""

    @property
    def display(self) -> str:
        """``-``."""
        return "-"

    name = ""


Location = Local | RemotePath | StdStream


class Stores:
    """The stores one command opens, each once (so two paths in the same store share it), closed together."""

    def __init__(self) -> None:
        self._open: dict[StoreSpec, satchel.Store] = {}
        self._lock = threading.Lock()

    def get(self, spec: StoreSpec) -> satchel.Store:
        """Return the store ``spec`` names, opening it on first use (from any thread).

        Raises:
            ConfigError: an unknown scheme or option, or an invalid value.
        """
        with self._lock:
            store = self._open.get(spec)
            if store is None:
                store = satchel.open(spec.url, **dict(spec.options))
                self._open[spec] = store
            return store

    def close(self) -> None:
        """Close every store opened so far."""
        with self._lock:
            stores, self._open = list(self._open.values()), {}
        for store in stores:
            store.close()


def parse_location(text: str, remotes: dict[str, Remote] | None = None) -> Location:
    """Parse a path argument (see the module docstring).

    Args:
        remotes: the named remotes; None reads them from the configuration file when a ``NAME:`` is seen.

    Raises:
        ConfigError: an empty path, a URL without its store, an unknown remote, or a bad configuration file.
    """
    if text == "-":
        return StdStream()
    if not text:
        raise ConfigError("an empty path")
    if "://" in text:
        return _parse_url(text)
    name, colon, rest = text.partition(":")
    if colon and name and "/" not in name:
        known = load_remotes() if remotes is None else remotes
        remote = known.get(name)
        if remote is not None:
            spec = StoreSpec(remote.url, tuple(sorted(remote.options.items())), f"{name}:")
            return RemotePath(spec, rest.lstrip("/"))
        if not os.path.exists(text):
            raise ConfigError(
                f"no remote named {name!r} in {config_path()} (write ./{text} for a local path with a colon)"
            )
    return Local(text)


def _parse_url(text: str) -> RemotePath:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    query = f"?{parts.query}" if parts.query else ""
    path = parts.path
    host = parts.netloc.rpartition("@")[2]
    user = parts.username
    shown_netloc = f"{user}@{host}" if user else host
    if scheme in ("file", "sftp"):
        root, key = _split_root(path, local=scheme == "file")
        root_url = f"{scheme}://{parts.netloc}{quote(root)}{query}"
        base = f"{scheme}://{shown_netloc}{root.rstrip('/')}/"
        return RemotePath(StoreSpec(root_url, (), base), key)
    if scheme.startswith("satchel+"):
        segments = path.lstrip("/").split("/", 2)
        if len(segments) < 2 or not segments[0] or not segments[1]:
            raise ConfigError(f"a satchel server URL names a usecase and scopes: {scheme}://host:port/usecase/_")
        root = "/".join(segments[:2])
        key = unquote(segments[2]) if len(segments) == 3 else ""
        return RemotePath(
            StoreSpec(f"{scheme}://{parts.netloc}/{root}{query}", (), f"{scheme}://{shown_netloc}/{root}/"), key
        )
    if not parts.netloc and scheme != "memory":
        raise ConfigError(f"the URL needs a bucket or container ({scheme}://bucket/key)")
    key = unquote(path.lstrip("/"))
    return RemotePath(StoreSpec(f"{scheme}://{parts.netloc}{query}", (), f"{scheme}://{shown_netloc}/"), key)


def _split_root(path: str, *, local: bool) -> tuple[str, str]:
    path = unquote(path)
    boundary = path.find("//", 1)
    if boundary > 0:
        return path[:boundary] or "/", path[boundary + 2 :]
    if local:
        current = path.rstrip("/") or "/"
        while True:
            if os.path.isdir(os.path.join(current, ".satchel")):
                rest = path[len(current) :].lstrip("/")
                return current, rest
            parent = posixpath.dirname(current)
            if parent == current:
                break
            current = parent
    return path, ""
