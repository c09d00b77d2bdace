"""The object routes (``/v1/...``): one dispatcher from the parsed path and the method to the handler.

:class:`ObjectRoutes` is an ASGI app of its own. It skips Starlette's router and middleware stack, which cost
about a third of a small request's CPU; its errors are answered exactly as the app's exception handlers
(:func:`api_error_answer` and friends, registered on the Starlette app for the other routes) answer them.
"""

from __future__ import annotations

import contextlib
import logging

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from satchel.errors import SatchelError
from satchel.server.addressing import parse_path
from satchel.server.bodies import ClientGone, drain
from satchel.server.errors import ApiError
from satchel.server.extensions import copy_route, list_route, sign_route
from satchel.server.objects import delete_object, get_object, patch_object, put_object
from satchel.server.state import ServerState, error_response
from satchel.server.uploads import Uploads, multipart_route, resumable_route

__all__ = ["ObjectRoutes", "answered", "api_error_answer", "client_gone_answer", "storage_error_answer"]

_log = logging.getLogger("satchel.server")
_PREFIX = len("/v1/")
_NO_QUERY: dict[str, str] = {}


# Left in the ASGI scope for the metrics: the status answered and the body bytes sent.
_STATUS = "satchel.status"
_SENT = "satchel.sent"


def answered(scope: Scope) -> tuple[int, int]:
    """Return the status and the body bytes sent of a request :class:`ObjectRoutes` answered (500 and 0 if none)."""
    return scope.get(_STATUS, 500), scope.get(_SENT, 0)


def _counting_send(scope: Scope, send: Send) -> Send:
    scope[_SENT] = 0

    async def counting_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            scope[_SENT] += len(message.get("body", b""))
        await send(message)

    return counting_send


class ObjectRoutes:
    """The ASGI app of every ``/v1/`` request: objects, multipart and resumable uploads, the extensions.

    It leaves the status and the bytes sent in the scope (:func:`answered`); the body readers of
    :mod:`satchel.server.bodies` leave the bytes received (:func:`~satchel.server.bodies.received_bytes`).
    """

    def __init__(self, state: ServerState, uploads: Uploads) -> None:
        self.state = state
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.route(request)
        except ApiError as err:
            response = await api_error_answer(request, err)
        except ClientGone as err:
            response = await client_gone_answer(request, err)
        except SatchelError as err:
            response = await storage_error_answer(request, err)
        except Exception:  # noqa: BLE001 - the edge of the server: any bug is one 500, never a dropped connection
            _log.exception("unexpected error answering %s", scope["method"])
            response = error_response(ApiError(500, "internal server error"))
        scope[_STATUS] = response.status_code
        if isinstance(response, StreamingResponse):
            await response(scope, receive, _counting_send(scope, send))
        else:
            scope[_SENT] = len(response.body)
            await response(scope, receive, send)

    async def route(self, request: Request) -> Response:
        """Answer ``request`` with the handler its resource and method select.

        Raises:
            ApiError: an unknown resource (404), a method the resource does not take (405), or what the
                handler raises.
        """
        state, uploads = self.state, self.uploads
        # Most requests have no query; parsing an empty one into QueryParams is skipped.
        has_query = bool(request.scope.get("query_string"))
        parsed = parse_path(request.scope["path"][_PREFIX:], request.query_params if has_query else _NO_QUERY)
        resource, address, method = parsed.resource, parsed.address, request.method
        if resource == "objects":
            resumable = await resumable_route(state, uploads, request, address) if has_query else None
            if resumable is not None:
                return resumable
            if method in ("PUT", "POST"):
                return await put_object(state, request, address, created=201 if address.key is None else 200)
            if address.key is None:
                raise ApiError(400 if method != "GET" else 404, "this request needs an object key")
            if method in ("GET", "HEAD"):
                return await get_object(state, request, address)
            if method == "DELETE":
                return await delete_object(state, request, address)
            if method == "PATCH":
                return await patch_object(state, request, address)
        elif resource.startswith("objects:multipart"):
            return await multipart_route(state, uploads, request, resource, address)
        elif resource == "objects:list" and method == "GET":
            return await list_route(state, request, address)
        elif resource == "objects:copy" and method == "POST":
            return await copy_route(state, request, address)
        elif resource == "objects:sign" and method == "POST":
            return await sign_route(state, request, address)
        raise ApiError(405 if resource.startswith("objects") else 404, f"{method} {resource} is not supported")


async def api_error_answer(request: Request, exc: Exception) -> Response:
    """Answer an :class:`ApiError` with its JSON body, after reading what is left of the request body."""
    assert isinstance(exc, ApiError)
    # The request body must be consumed (or the connection closed) before an early answer reaches the
    # client cleanly (a.11); reading the rest costs less than a broken pipe on the client's side. A body
    # refused for its size is not read further: the server closes that connection instead.
    if exc.status != 413:
        with contextlib.suppress(Exception):
            await drain(request)
    response = error_response(exc)
    if exc.status == 413:
        response.headers["connection"] = "close"
    return response


async def client_gone_answer(request: Request, exc: Exception) -> Response:
    """Answer a request whose client went away (nobody reads it; the status shows in metrics and logs)."""
    return Response(status_code=499)


async def storage_error_answer(request: Request, exc: Exception) -> Response:
    """Answer a storage error no handler translated: 500, the details in the server's log only."""
    _log.error("unhandled storage error: %s", exc)
    return error_response(ApiError(500, "the storage failed"))
