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


class LiveServer:
    """``create_app(settings)`` served by uvicorn in a thread, on a free port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app: FastAPI = create_app(settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", ws="none", log_config=None
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.url = ""

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)


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


def text_of(events: list[ServerSentEvent]) -> str:
    return "".join(e.json()["content"] for e in events if e.event == "delta")
