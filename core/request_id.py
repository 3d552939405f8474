"""One request id follows a job from click to image: taken from the proxy's `X-Request-ID` (or made here), on
every log line of the request, in the response's `X-Request-ID`, stored on the jobs it submits (the worker's
lines for the job and its webhook deliveries carry it from the job row). A WebSocket connection gets one the same
way (`WebSocketRequestId`), on every line its consumer logs and in the handshake's response.

A client-sent id is only trusted when it is a short plain token: anything else (too long, a newline that would
forge a log line, a quote) is replaced by a fresh one, so the header can never inject into logs or headers.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
# GenerationJob.request_id is 64 characters; nginx's $request_id is 32 hex digits, a UUID 36 characters.
MAX_LENGTH = 64
SANE = re.compile(rf"[A-Za-z0-9._:@+=/-]{{1,{MAX_LENGTH}}}")

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("zimage_request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """`value` when it is a sane token, else a new id."""
    if value and SANE.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str:
    """The id of the request (or the block under `request_id_scope`) this code runs in; "" outside any."""
    return _request_id.get()


@contextlib.contextmanager
def request_id_scope(value: str) -> Iterator[str]:
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    """Early in MIDDLEWARE: every later middleware, view and error page runs inside the request's id.

    The id is also kept on the request: Django logs a 4xx/5xx response (`django.request`) after the middleware
    chain has returned, and core.logs.RequestIdFilter reads it from the record's request there.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = clean_request_id(request.META.get(META_KEY))
        request.request_id = request_id  # type: ignore[attr-defined]
        with request_id_scope(request_id):
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


ASGI_HEADER = HEADER.lower().encode()


class WebSocketRequestId:
    """ASGI middleware for the WebSocket routes: the connection's id from the proxy's header (or a new one), in
    `scope["request_id"]`, on every log line while the connection lives (its handlers, and the threads
    database_sync_to_async runs them in, inherit the context), and in the handshake's response headers."""

    def __init__(self, inner: Callable[..., Awaitable[None]]):
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        supplied = dict(scope.get("headers") or []).get(ASGI_HEADER, b"").decode("latin1")
        request_id = clean_request_id(supplied)

        async def send_with_id(message: dict[str, Any]) -> None:
            if message.get("type") == "websocket.accept":
                headers = [*message.get("headers", []), (ASGI_HEADER, request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        with request_id_scope(request_id):
            await self.inner({**scope, "request_id": request_id}, receive, send_with_id)
