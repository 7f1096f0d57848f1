"""Connections: uvicorn's limits and the proxies trusted, from Settings.

uvicorn has no limit on how long a client may take to send a request's headers, so
a few hundred half-sent requests could hold connections for ever. :class:`HeaderTimeout`
closes a connection whose request head has not arrived within ``HEADER_TIMEOUT_SECONDS``
(counted from the connection, or from the first byte of a request on a kept-alive one).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from parlour.config import Settings

# uvicorn builds a protocol per connection from the class alone, so the class reads the
# timeout here; set in every serving process by the app factory (see set_header_timeout).
_header_timeout = 10.0


def set_header_timeout(seconds: float) -> None:
    global _header_timeout
    _header_timeout = seconds


class HeaderTimeout(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose headers come too slowly."""

    _head_timer: asyncio.TimerHandle | None = None

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
        super().on_headers_complete()

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
