"""Connections: uvicorn's limits and the proxies trusted, from Settings.

uvicorn has no limit on how long a client may take to send a request's headers, so
a few hundred half-sent requests could hold connections for ever. :class:`HeaderTimeout`
closes a connection whose request head has not arrived within ``HEADER_TIMEOUT_SECONDS``
(counted from the connection, or from the first byte of a request on a kept-alive one;
one timer per process looks at the deadlines, so a head is cut at most a quarter late).

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


class _Sweep:
    """The connections of one event loop waiting for a request head, and one timer that
    closes those past their deadline: a connection itself holds nothing for a check
    that is over once its headers are in (see HeaderTimeout)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[HeaderTimeout, float] = {}  # connection -> its deadline
        self.timer: asyncio.TimerHandle | None = None

    def add(self, conn: HeaderTimeout) -> None:
        self.waiting.setdefault(conn, self.loop.time() + _header_timeout)
        if self.timer is None:
            self.timer = self.loop.call_later(_tick(), self._run)

    def _run(self) -> None:
        self.timer = None
        clock = self.loop.time()
        late = [conn for conn, deadline in self.waiting.items() if deadline <= clock]
        for conn in late:
            del self.waiting[conn]
            conn.too_slow()
        if self.waiting:
            self.timer = self.loop.call_later(_tick(), self._run)


def _tick() -> float:
    """How often the deadlines are looked at: a head is cut at most a quarter late."""
    return min(1.0, _header_timeout / 4)


_sweeps: dict[asyncio.AbstractEventLoop, _Sweep] = {}


class HeaderTimeout(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose headers come too slowly,
    and answering its own 503 and 400 as the app answers its errors."""

    # No attribute is added to uvicorn's: one more grows each connection's __dict__ by
    # ~1.5 KB (for every open reply stream). The limit and the app are read from the
    # config, and the deadlines kept by the loop's sweep.

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The limit is judged here (as uvicorn would), to answer with BUSY past it.
        self.limit_concurrency = None
        if self.loop not in _sweeps:
            for gone in [loop for loop in _sweeps if loop.is_closed()]:
                del _sweeps[gone]
            _sweeps[self.loop] = _Sweep(self.loop)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        _sweeps[self.loop].add(self)

    def _disarm(self) -> None:
        _sweeps[self.loop].waiting.pop(self, None)

    def too_slow(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        _sweeps[self.loop].add(self)

    def on_headers_complete(self) -> None:
        self._disarm()
        limit = self.config.limit_concurrency
        busy = limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)
        if busy:
            log.warning("over MAX_CONNECTIONS (%d): answered 503", limit)
        self.app = BUSY if busy else self.config.loaded_app
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
