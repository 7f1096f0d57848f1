"""Connections: uvicorn's limits and the proxies trusted, from Settings.

uvicorn has no limit on how long a client may take to send a request's headers, so
a few hundred half-sent requests could hold connections for ever. :class:`HeaderTimeout`
closes a connection whose request head has not arrived within ``HEADER_TIMEOUT_SECONDS``
(counted from the connection, or from the first byte of a request on a kept-alive one).

The two answers uvicorn would give itself carry the security headers and the one error
body (see :mod:`parlour.web.errors`) like every other: past ``MAX_CONNECTIONS`` open
connections (uvicorn's own count, unchanged) a request gets a 503 with ``Retry-After``,
and a request that is not valid HTTP a 400.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from parlour.config import Settings
from parlour.web.errors import error_response
from parlour.web.security import SecurityHeaders, security_headers

log = logging.getLogger(__name__)

# uvicorn builds a protocol per connection from the class alone, so the class reads the
# timeout here; set in every serving process by the app factory (see set_header_timeout).
_header_timeout = 10.0


def set_header_timeout(seconds: float) -> None:
    global _header_timeout
    _header_timeout = seconds


async def _busy(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(
        503, "too_many_connections", "The server is busy: try again in a moment.",
        headers={"Connection": "close"}, retry_after=1,
    )  # fmt: skip
    await response(scope, receive, send)


BUSY = SecurityHeaders(_busy)
_NOT_HTTP = orjson.dumps({"detail": "The request is not valid HTTP.",
                          "error": {"code": "bad_request",
                                    "message": "The request is not valid HTTP."}})  # fmt: skip


class HeaderTimeout(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose headers come too slowly,
    and answering its own 503 and 400 as the app answers its errors."""

    _head_timer: asyncio.TimerHandle | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limit is judged here (as uvicorn would), to answer with BUSY past it.
        self._limit, self.limit_concurrency = self.limit_concurrency, None
        self._app = self.app

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(_header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        limit = self._limit
        busy = limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)
        if busy:
            log.warning("over MAX_CONNECTIONS (%d): answered 503", limit)
        self.app = BUSY if busy else self._app
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        headers = [*self.server_state.default_headers, *security_headers(),
                   (b"content-type", b"application/json"),
                   (b"content-length", str(len(_NOT_HTTP)).encode()),
                   (b"connection", b"close")]  # fmt: skip
        head.extend(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(b"".join([*head, b"\r\n", _NOT_HTTP]))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options ``parlour serve`` gives uvicorn (tests serve the app with them too)."""
    set_header_timeout(settings.header_timeout_seconds)
    return {
        "http": "parlour.web.connections:HeaderTimeout",
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
        "limit_concurrency": settings.max_connections,
        "h11_max_incomplete_event_size": 64 * 1024,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "ws": "none",
    }
