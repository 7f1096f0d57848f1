"""Running the real app on a loopback socket inside the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, connect_sse

from parlour.config import Settings
from parlour.web.app import create_app


class ThreadedServer:
    """An ASGI app served by uvicorn in a thread of the test process, on a free port."""

    def __init__(self, app: Any, **options: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, ws="none", **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 30) -> int:
        """Start it and return its port."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


class LiveServer:
    """``create_app(settings)`` served on a loopback socket."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: FastAPI = create_app(settings)
        self._server = ThreadedServer(self.app, log_level="warning", log_config=None)
        self.url = ""

    def start(self) -> LiveServer:
        self.url = f"http://127.0.0.1:{self._server.start()}"
        return self

    def stop(self) -> None:
        # As a stop signal would: open pages' live channels end, so the server need not
        # wait for them.
        end = getattr(self.app.state, "end_live_channels", None)
        if end is not None:
            end()
        self._server.stop()


@contextmanager
def sse(
    client: httpx.Client, method: str, url: str, **kwargs: Any
) -> Iterator[tuple[httpx.Response, Iterator[ServerSentEvent]]]:
    """Open an SSE request; yields the response and an iterator over its events."""
    with connect_sse(client, method, url, **kwargs) as source:
        yield source.response, source.iter_sse()


def collect(client: httpx.Client, method: str, url: str, **kwargs: Any) -> list[ServerSentEvent]:
    """All events of an SSE response (asserting it opened with 200)."""
    with sse(client, method, url, **kwargs) as (response, events):
        assert response.status_code == 200, response.read()
        return list(events)


def seq(event: ServerSentEvent) -> int:
    """An event's number in its reply (its SSE id is ``<reply_id>:<n>``)."""
    return int(event.id.rsplit(":", 1)[-1])


def text_of(events: list[ServerSentEvent]) -> str:
    return "".join(e.json()["content"] for e in events if e.event == "delta")
