"""Parts the security tests share: a small reverse proxy, clients from chosen loopback
addresses, and the app served with the options ``parlour serve`` gives uvicorn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from parlour.config import Settings
from parlour.web.app import create_app
from tests.live import ThreadedServer
from tests.processes import ServerProcess


def client_from(address: str, url: str, timeout: float = 30, **kwargs: Any) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, transport=transport, timeout=timeout, **kwargs)


class Served:
    """``create_app(settings)`` served on loopback with uvicorn_options(settings)."""

    def __init__(self, settings: Settings) -> None:
        # Imported here: what cli.py gives uvicorn (the other tests run without it).
        from parlour.web.connections import uvicorn_options

        self.settings = settings
        options = uvicorn_options(settings)
        options.pop("ws")
        self._server = ThreadedServer(
            create_app(settings), log_level="warning", log_config=None, **options
        )
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.port = self._server.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.stop()


class Proxy:
    """A reverse proxy on 127.0.0.1 that connects to the app from ``source`` and *sets*
    X-Forwarded-For to the address it saw (as deploy/nginx.conf does); ``host`` rewrites
    the Host header (as nginx's default ``$proxy_host`` does)."""

    def __init__(self, target_port: int, *, source: str, host: str | None = None) -> None:
        self.target_port = target_port
        self.source = source
        self.host = host
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),),
                                        daemon=True)  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
        # Connections still being relayed end here, not as tasks destroyed with the loop
        # (which warns later, in whichever test is running then).
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await asyncio.sleep(0)  # the closed transports' callbacks run before the loop ends

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        peer = writer.get_extra_info("peername")[0]
        up_writer: asyncio.StreamWriter | None = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            request_line, fields = lines[0], [line for line in lines[1:] if line]
            kept: list[str] = []
            length = 0
            for line in fields:
                name, _, value = line.partition(":")
                lower = name.strip().lower()
                if lower == "content-length":
                    length = int(value.strip())
                if lower in ("x-forwarded-for", "connection"):
                    continue  # set below, never passed on from the client
                if lower == "host" and self.host is not None:
                    continue
                kept.append(line)
            if self.host is not None:
                kept.append(f"Host: {self.host}")
            kept += [f"X-Forwarded-For: {peer}", "Connection: close"]
            body = await reader.readexactly(length) if length else b""
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port, local_addr=(self.source, 0)
            )
            up_writer.write("\r\n".join([request_line, *kept, "", ""]).encode("latin-1") + body)
            await up_writer.drain()
            while chunk := await up_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if up_writer is not None:
                up_writer.close()
            writer.close()

    def __enter__(self) -> Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)
        self._loop.close()


@contextmanager
def proxied(target_port: int, **kwargs: Any) -> Iterator[Proxy]:
    with Proxy(target_port, **kwargs) as proxy:
        yield proxy


@contextmanager
def server_processes(env: dict[str, str], cwd: Path, count: int) -> Iterator[list[ServerProcess]]:
    """``count`` ``parlour serve`` processes, given time to start on a busy machine."""
    servers = [ServerProcess(env, cwd) for _ in range(count)]
    try:
        yield [s.wait_ready(timeout=180) for s in servers]
    finally:
        for s in servers:
            s.stop()


class Listening:
    """``GET /api/v1/events`` read in a thread until the server ends it (or the test
    closes its client)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.status = 0
        self.opened = threading.Event()
        self.ended = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/api/v1/events", timeout=None) as response:
                self.status = response.status_code
                self.opened.set()
                for _line in response.iter_lines():
                    pass
        except (httpx.HTTPError, RuntimeError):  # the client closed by the test
            pass
        finally:
            self.opened.set()
            self.ended.set()

    def __enter__(self) -> Listening:
        self._thread.start()
        if not self.opened.wait(30):
            raise RuntimeError("the live channel did not answer")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.client.close()
        self._thread.join(timeout=10)
