"""From a URL to a Store: the scheme picks the backend, the query holds its options, layers go around it.

Backends are imported only when their scheme is used, so ``import satchel`` stays light and optional SDKs
are needed only by the people who use them.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from satchel.backend import Backend
from satchel.errors import ConfigError
from satchel.layers.compression import CompressionLayer
from satchel.layers.expiration import ExpirationLayer
from satchel.layers.metrics import MetricsBackend, MetricsLayer
from satchel.layers.prefix import PrefixLayer
from satchel.layers.readonly import ReadOnlyLayer
from satchel.layers.retry import RetryLayer
from satchel.secret import Secret
from satchel.store import Store

__all__ = ["StoreOptions", "open_store", "register", "schemes"]


@dataclass(frozen=True)
class _Scheme:
    module: str
    backend: str
    config: str
    to_config: Callable[[str, str], tuple[dict[str, Any], str]]
    expiration_layer: bool = True  # False where the service enforces expiry itself (a satchel server)


def _file_parts(netloc: str, path: str) -> tuple[dict[str, Any], str]:
    if netloc not in ("", "localhost"):
        raise ConfigError(f"file URLs name a local path; got host {netloc!r}")
    if not path:
        raise ConfigError("a file URL needs a path (file:///srv/blobs)")
    return {"root": unquote(path)}, ""


def _memory_parts(netloc: str, path: str) -> tuple[dict[str, Any], str]:
    name = netloc + path.rstrip("/")
    return ({"name": unquote(name)} if name else {}), ""


def _bucket_parts(field_name: str) -> Callable[[str, str], tuple[dict[str, Any], str]]:
    # s3://bucket/some/prefix: the bucket (or container) configures the backend; the path becomes a prefix
    # layer, so every backend gets namespaces the same way.
    def parts(netloc: str, path: str) -> tuple[dict[str, Any], str]:
        if not netloc:
            raise ConfigError(f"the URL needs a {field_name} (scheme://{field_name}/optional/prefix)")
        prefix = unquote(path.strip("/"))
        return {field_name: unquote(netloc)}, (prefix + "/" if prefix else "")

    return parts


def _sftp_parts(netloc: str, path: str) -> tuple[dict[str, Any], str]:
    # sftp://user[:password]@host[:port]/root/path; the root is a folder on the server, like file:// roots.
    userinfo, _, hostport = netloc.rpartition("@")
    if not hostport:
        raise ConfigError("an SFTP URL needs a host (sftp://user@host:port/root/path)")
    fields: dict[str, Any] = {}
    if userinfo:
        user, has_password, password = userinfo.partition(":")
        fields["username"] = unquote(user)
        if has_password:
            fields["password"] = Secret(unquote(password))
    host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    fields["host"] = host
    if port:
        fields["port"] = port
    fields["root"] = unquote(path) or "."
    return fields, ""


def _satchel_parts(protocol: str) -> Callable[[str, str], tuple[dict[str, Any], str]]:
    # satchel+http://host:port/usecase/scopes/optional/prefix: the usecase and scopes name a namespace of the
    # server (objectstore protocol a.2); the rest of the path becomes a prefix layer, as a bucket URL's does.
    def parts(netloc: str, path: str) -> tuple[dict[str, Any], str]:
        segments = path.strip("/").split("/", 2)
        if not netloc or len(segments) < 2 or not segments[0] or not segments[1]:
            raise ConfigError(
                f"the URL needs a host, a usecase and scopes: satchel+{protocol}://host:port/usecase/org=1;project=2 "
                "('_' for no scopes)"
            )
        prefix = unquote(segments[2].strip("/")) if len(segments) == 3 else ""
        fields = {"endpoint": f"{protocol}://{netloc}", "usecase": unquote(segments[0]), "scopes": unquote(segments[1])}
        return fields, (prefix + "/" if prefix else "")

    return parts


_SCHEMES: dict[str, _Scheme] = {
    "file": _Scheme("satchel.backends.local", "LocalBackend", "LocalConfig", _file_parts),
    "memory": _Scheme("satchel.backends.memory", "MemoryBackend", "MemoryConfig", _memory_parts),
    "s3": _Scheme("satchel.backends.obstore.s3", "S3Backend", "S3Config", _bucket_parts("bucket")),
    "gs": _Scheme("satchel.backends.gcs", "GCSBackend", "GCSConfig", _bucket_parts("bucket")),
    "az": _Scheme("satchel.backends.obstore.azure", "AzureBackend", "AzureConfig", _bucket_parts("container")),
    "sftp": _Scheme("satchel.backends.sftp", "SFTPBackend", "SFTPConfig", _sftp_parts),
    "satchel+http": _Scheme("satchel.backends.http", "HttpBackend", "HttpConfig", _satchel_parts("http"), False),
    "satchel+https": _Scheme("satchel.backends.http", "HttpBackend", "HttpConfig", _satchel_parts("https"), False),
}


def register(
    scheme: str,
    module: str,
    backend: str,
    config: str,
    to_config: Callable[[str, str], tuple[dict[str, Any], str]],
    *,
    expiration_layer: bool = True,
) -> None:
    """Make ``scheme://`` URLs open ``module.backend`` built from ``module.config``.

    ``to_config(netloc, path)`` returns the config fields the URL's location gives and a key prefix (``""``
    for none) that the store applies as its innermost layer; the query adds the rest of the config.
    ``expiration_layer=False`` leaves the expiration layer out, for backends whose service enforces expiry
    itself (their backend then accepts ``PutOptions.expiration``).
    """
    _SCHEMES[scheme] = _Scheme(module, backend, config, to_config, expiration_layer)


def schemes() -> list[str]:
    """Return the URL schemes satchel can open."""
    return sorted(_SCHEMES)


@dataclass(frozen=True)
class StoreOptions:
    """Options of the layer stack, accepted as keywords of :func:`satchel.open` or in the URL query."""

    prefix: str = ""
    readonly: bool = False
    retries: int = 3
    compression_level: int = 3


def open_store(url: str | os.PathLike[str], *, metrics: MetricsBackend | None = None, **options: Any) -> Store:
    """Open the store a URL (or a plain local path) names; see :func:`satchel.open`.

    Raises:
        ConfigError: an unknown scheme, an unknown option, or a value of the wrong type.
    """
    text = os.fspath(url)
    url_prefix = ""
    if "://" not in text:
        scheme, location, query = "file", {"root": text}, ""
    else:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        entry = _SCHEMES.get(scheme)
        if entry is None:
            raise ConfigError(f"unknown URL scheme {scheme!r}; satchel opens {', '.join(schemes())}")
        (location, url_prefix), query = entry.to_config(parts.netloc, parts.path), parts.query
    entry = _SCHEMES[scheme]
    given: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    given.update(options)
    store_fields = {f.name for f in dataclasses.fields(StoreOptions)}
    store_options = _build(StoreOptions, {k: v for k, v in given.items() if k in store_fields}, scheme)
    if url_prefix:
        store_options = dataclasses.replace(store_options, prefix=url_prefix + store_options.prefix)
    module = importlib.import_module(entry.module)
    config_class = getattr(module, entry.config)
    backend_given = {k: v for k, v in given.items() if k not in store_fields}
    config = _build(config_class, {**location, **backend_given}, scheme)
    backend: Backend = getattr(module, entry.backend).from_config(config)
    return Store(_stack(backend, store_options, metrics, expiration=entry.expiration_layer))


def _stack(
    backend: Backend, options: StoreOptions, metrics: MetricsBackend | None, *, expiration: bool = True
) -> Backend:
    # Outermost first, applied in reverse: metrics see every retry's total, retries replay the compressed
    # payload, and the prefix is innermost so every layer above it sees the caller's keys.
    layers: list[Callable[[Backend], Backend]] = []
    if options.readonly:
        layers.append(ReadOnlyLayer)
    if metrics is not None:
        layers.append(lambda inner: MetricsLayer(inner, metrics))
    if options.retries > 0:
        layers.append(lambda inner: RetryLayer(inner, attempts=options.retries + 1))
    layers.append(lambda inner: CompressionLayer(inner, level=options.compression_level))
    if expiration:
        layers.append(ExpirationLayer)
    if options.prefix:
        layers.append(lambda inner: PrefixLayer(inner, options.prefix))
    for layer in reversed(layers):
        backend = layer(backend)
    return backend


def _build(cls: type[Any], values: Mapping[str, Any], scheme: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)} for {scheme}://; known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    return cls(**{name: _coerce(name, value, hints[name]) for name, value in values.items()})


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, value: Any, hint: Any) -> Any:
    if not isinstance(value, str):
        return value
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        real = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = real[0] if len(real) == 1 else str
    if isinstance(hint, type) and issubclass(hint, str):
        # Secret fields keep their masking type; a Secret given as it is must not be rebuilt from its '***'.
        return value if isinstance(value, hint) else hint(value)
    try:
        if hint is bool:
            lowered = value.lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
    except ValueError:
        raise ConfigError(f"option {name}={value!r} is not a valid {hint.__name__}") from None
    return value
