"""keg-storage's Flask side: the ``Storage`` extension (profiles and the link endpoint), ``LinkViewMixin`` and
the ``StorageOperations`` mixin."""

from __future__ import annotations

import enum
import io
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import IO, Any, ClassVar
from urllib.parse import quote

import flask
import flask.views
from werkzeug.utils import secure_filename

from satchel.body import Body
from satchel.errors import ConfigError, NotFound
from satchel.flask_ext._backend import StorageBackend
from satchel.flask_ext._services import SatchelStorage
from satchel.flask_ext._values import InternalLinkTokenData, InvalidLinkToken, ShareLinkOperation

__all__ = ["LinkViewMixin", "Storage", "StorageOperations"]

EXTENSION_NAME = "keg_storage"
PROFILES_KEY = "KEG_STORAGE_PROFILES"
LINK_URL_KEY = "KEG_STORAGE_LINK_URL"
DEFAULT_LINK_URL = "/_storage/link"

BackendSpec = str | Callable[..., StorageBackend]
"""A profile's backend: a backend class or factory called with the profile's options, or a satchel URL."""


def _build(spec: BackendSpec, params: Mapping[str, Any]) -> StorageBackend:
    backend = SatchelStorage(spec, **params) if isinstance(spec, str) else spec(**params)
    if not isinstance(backend, StorageBackend):
        raise ConfigError(f"a storage profile built a {type(backend).__name__}, not a StorageBackend")
    return backend


class Storage:
    """The Flask extension: the backends of ``KEG_STORAGE_PROFILES``, and the endpoint that serves token links.

    ``KEG_STORAGE_PROFILES`` is a list of ``(backend, options)`` pairs; ``backend`` is a backend class such as
    :class:`S3Storage` (called with ``options``) or a satchel URL (``options`` then holds ``name``,
    ``linked_endpoint``, ``secret_key`` and :func:`satchel.open` options). The first profile is the default.
    """

    def __init__(self, app: flask.Flask | None = None) -> None:
        self._interfaces: dict[str, StorageBackend] = {}
        self.interface: str | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: flask.Flask) -> None:
        """Build the app's profiles and register the link endpoint (under ``KEG_STORAGE_LINK_URL``).

        Raises:
            ConfigError: a profile without a name, two profiles with one name, or a backend that is not a
                StorageBackend.
        """
        interfaces: dict[str, StorageBackend] = {}
        profiles: Sequence[tuple[BackendSpec, Mapping[str, Any]]] = app.config.get(PROFILES_KEY, [])
        for spec, params in profiles:
            backend = _build(spec, params)
            if backend.name is None:
                raise ConfigError(f"every profile of {PROFILES_KEY} needs a name")
            if backend.name in interfaces:
                raise ConfigError(f"two profiles of {PROFILES_KEY} are named {backend.name!r}")
            interfaces[backend.name] = backend
        self._interfaces = interfaces
        self.interface = next(iter(interfaces), None)
        app.extensions[EXTENSION_NAME] = self
        app.storage = self  # type: ignore[attr-defined]  # keg-storage's documented attribute

        blueprint = flask.Blueprint(EXTENSION_NAME, __name__)
        view = _ProfileLinkView.as_view("link", self)
        blueprint.add_url_rule("/<profile>", view_func=view, methods=["GET", "PUT", "POST", "DELETE"])
        csrf = app.extensions.get("csrf")
        if csrf is not None:  # Flask-WTF's CSRFProtect: link requests carry a token of their own instead
            csrf.exempt(view)
        app.register_blueprint(blueprint, url_prefix=app.config.get(LINK_URL_KEY, DEFAULT_LINK_URL))

    @property
    def interfaces(self) -> Mapping[str, StorageBackend]:
        """The backends by profile name, in the order configured."""
        return dict(self._interfaces)

    def get_interface(self, interface: str | None = None) -> StorageBackend:
        """Return the backend of profile ``interface``, or of the default (first) profile.

        Raises:
            ValueError: no profile is configured, or none has that name.
        """
        name = interface or self.interface
        if name is None:
            raise ValueError("no interface was specified")
        if name not in self._interfaces:
            raise ValueError(f"invalid interface '{name}'")
        return self._interfaces[name]

    def close(self) -> None:
        """Close every profile's store."""
        for backend in self._interfaces.values():
            backend.close()


def _content_disposition(filename: str) -> str:
    fallback = secure_filename(filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _stream(body: Body) -> Iterator[bytes]:
    with body:
        yield from body


class LinkViewMixin:
    """A view answering token links: ``GET`` downloads, ``PUT``/``POST`` uploads the request body, ``DELETE``
    removes. Mix it into a :class:`flask.views.MethodView` and implement :meth:`get_storage_backend`.

    A missing token answers 404; a token that is invalid, expired, or does not allow the method answers 403.
    """

    def get_storage_backend(self) -> StorageBackend:
        """Return the backend whose tokens this view accepts."""
        raise NotImplementedError

    def get_request_token(self) -> str | None:
        """Return the request's token (the ``token`` query argument)."""
        return flask.request.args.get("token")

    def get_token_data(self, storage: StorageBackend) -> InternalLinkTokenData:
        """Verify the request's token with ``storage``; abort with 404 without one, 403 when it is invalid."""
        token = self.get_request_token()
        if not token:
            flask.abort(404)
        try:
            return storage.deserialize_link_token(token)
        except InvalidLinkToken:
            flask.abort(403)

    def _granted(self, operation: ShareLinkOperation) -> tuple[StorageBackend, InternalLinkTokenData]:
        storage = self.get_storage_backend()
        data = self.get_token_data(storage)
        if not data.operations & operation:
            flask.abort(403)
        return storage, data

    def get(self, **view_args: Any) -> flask.Response:
        """Stream the object to the client (404 when it does not exist)."""
        storage, data = self._granted(ShareLinkOperation.download)
        try:
            result = storage.store.get(data.path)
        except NotFound:
            flask.abort(404)
        response = flask.Response(_stream(result.body), mimetype=result.meta.content_type or "application/octet-stream")
        if result.body.size is not None:
            response.content_length = result.body.size
        if data.output_path:
            response.headers["Content-Disposition"] = _content_disposition(data.output_path)
        return response

    def on_upload_success(self, token_data: InternalLinkTokenData) -> flask.Response:
        """Return the response to a successful upload (``OK``)."""
        return flask.Response("OK", status=200)

    def post(self, **view_args: Any) -> flask.Response:
        """Store the request body as the object, streaming it."""
        storage, data = self._granted(ShareLinkOperation.upload)
        stream: IO[bytes] = flask.request.stream
        storage.upload(stream, data.path)
        return self.on_upload_success(data)

    def put(self, **view_args: Any) -> flask.Response:
        """Store the request body as the object, as :meth:`post` does."""
        return self.post(**view_args)

    def on_delete_success(self, token_data: InternalLinkTokenData) -> flask.Response:
        """Return the response to a successful delete (``OK``)."""
        return flask.Response("OK", status=200)

    def delete(self, **view_args: Any) -> flask.Response:
        """Delete the object."""
        storage, data = self._granted(ShareLinkOperation.remove)
        storage.delete(data.path)
        return self.on_delete_success(data)


class _ProfileLinkView(LinkViewMixin, flask.views.MethodView):
    """The extension's link endpoint: the profile comes from the URL."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def get_storage_backend(self) -> StorageBackend:
        profile = (flask.request.view_args or {}).get("profile")
        try:
            return self._storage.get_interface(str(profile))
        except ValueError:
            flask.abort(404)


def _extension() -> Storage:
    storage = flask.current_app.extensions.get(EXTENSION_NAME)
    if not isinstance(storage, Storage):
        raise ConfigError("the storage extension is not set up on this app; call Storage(app) or init_app")
    return storage


class StorageOperations:
    """Storage operations a Flask app typically needs, as classmethods; use it directly or as a mixin.

    ``storage_location`` (an Enum whose value is a folder) and ``storage_profile`` (a profile name) may be set
    on a subclass as defaults; every method also takes them for one-offs.
    """

    storage_location: ClassVar[enum.Enum | None] = None
    storage_profile: ClassVar[str | None] = None

    @staticmethod
    def storage_prefix_path(location: enum.Enum | None, filename: str) -> str:
        """Join the location's folder and ``filename`` (one leading dot of ``filename`` dropped)."""
        if filename.startswith("."):
            filename = filename[1:]
        if location is None:
            return filename
        return f"{location.value}/{filename}"

    @staticmethod
    def storage_generate_filename(filename: str) -> str:
        """Return a UUID-based file name, keeping ``filename``'s extension if it has one."""
        stem = str(uuid.uuid4())
        _, dot, extension = filename.rpartition(".")
        return f"{stem}.{extension}" if dot and extension else stem

    @classmethod
    def _where(cls, location: enum.Enum | None, profile: str | None) -> tuple[enum.Enum | None, StorageBackend]:
        return (location if location is not None else cls.storage_location), cls.storage_get_profile(profile)

    @classmethod
    def storage_get_profile(cls, storage_profile: str | None = None) -> StorageBackend:
        """Return the backend of ``storage_profile``, the class's profile, or the default profile.

        Raises:
            ValueError: no such profile.
            ConfigError: the app has no storage extension.
        """
        return _extension().get_interface(storage_profile or cls.storage_profile)

    @classmethod
    def storage_download_file(
        cls, filename: str, storage_location: enum.Enum | None = None, storage_profile: str | None = None
    ) -> io.BytesIO:
        """Return the stored file's bytes as a BytesIO positioned at 0.

        Raises:
            FileNotFoundInStorageError: no such file.
        """
        location, backend = cls._where(storage_location, storage_profile)
        buffer = io.BytesIO()
        backend.download(cls.storage_prefix_path(location, filename), buffer)
        buffer.seek(0)
        return buffer

    @classmethod
    def storage_upload_file(
        cls,
        file_object: IO[bytes],
        filename: str,
        preserve_filename: bool = False,
        storage_location: enum.Enum | None = None,
        storage_profile: str | None = None,
    ) -> str:
        """Store ``file_object`` and return its stored file name: a UUID keeping the extension of the secured
        ``filename``, or that secured name itself with ``preserve_filename``."""
        location, backend = cls._where(storage_location, storage_profile)
        safe_name = secure_filename(filename)
        stored_name = safe_name if preserve_filename else cls.storage_generate_filename(safe_name)
        backend.upload(file_object, cls.storage_prefix_path(location, stored_name))
        return stored_name

    @classmethod
    def storage_upload_form_file(
        cls, form_field: str, storage_location: enum.Enum | None = None, storage_profile: str | None = None
    ) -> str:
        """Store the file posted in the request's form field ``form_field``; return its stored file name.

        Raises:
            werkzeug.exceptions.BadRequest: the request has no such file field (answers 400).
        """
        posted = flask.request.files[form_field]
        return cls.storage_upload_file(
            posted.stream,
            posted.filename or "",
            storage_location=storage_location,
            storage_profile=storage_profile,
        )

    @classmethod
    def storage_delete_file(
        cls, filename: str, storage_location: enum.Enum | None = None, storage_profile: str | None = None
    ) -> bool:
        """Delete the stored file (a missing file is not an error) and return True."""
        location, backend = cls._where(storage_location, storage_profile)
        backend.delete(cls.storage_prefix_path(location, filename))
        return True

    @classmethod
    def storage_duplicate_file(
        cls, filename: str, storage_location: enum.Enum | None = None, storage_profile: str | None = None
    ) -> str:
        """Copy the stored file to a new UUID-based name (same extension) and return that name.

        Raises:
            FileNotFoundInStorageError: no such file.
        """
        location, backend = cls._where(storage_location, storage_profile)
        new_name = cls.storage_generate_filename(filename)
        backend.copy(cls.storage_prefix_path(location, filename), cls.storage_prefix_path(location, new_name))
        return new_name

    @classmethod
    def storage_get_download_link(
        cls,
        filename: str,
        expire_minutes: float,
        storage_location: enum.Enum | None = None,
        storage_profile: str | None = None,
        *,
        output_path: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Return a link that downloads the stored file for ``expire_minutes`` (``output_path`` and
        ``content_type`` go to ``link_to``)."""
        location, backend = cls._where(storage_location, storage_profile)
        return backend.link_to(
            cls.storage_prefix_path(location, filename),
            ShareLinkOperation.download,
            timedelta(minutes=expire_minutes),
            output_path=output_path,
            content_type=content_type,
        )

    @classmethod
    def storage_get_upload_link(
        cls,
        filename: str,
        expire_minutes: float,
        storage_location: enum.Enum | None = None,
        storage_profile: str | None = None,
    ) -> tuple[str, str]:
        """Return ``(url, stored_name)``: a link that uploads to a new UUID-based name (``filename``'s
        extension kept) for ``expire_minutes``, and that name."""
        location, backend = cls._where(storage_location, storage_profile)
        stored_name = cls.storage_generate_filename(filename)
        url = backend.link_to(
            cls.storage_prefix_path(location, stored_name), ShareLinkOperation.upload, timedelta(minutes=expire_minutes)
        )
        return url, stored_name
