"""A scripted OpenAI-compatible chat-completions server on loopback, for tests.

It speaks the real streaming protocol over real HTTP. Each request takes the
next script from a queue (or, with the queue empty, echoes the last user
message back as several deltas). Every request body is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.live import ThreadedServer


@dataclass
class Reply:
    """Stream ``deltas``, ``delay`` seconds apart; then a finish (or a cut, or an error)."""

    deltas: list[str]
    delay: float = 0.0
    first_delay: float = 0.0
    finish: str = "stop"
    cut: bool = False  # close the connection after the deltas, without [DONE]
    error_event: str | None = None  # an in-band error object after the deltas
    usage: dict[str, int] | None = None
    keepalive: float = 0.0  # while waiting ``delay``, send a comment line this often
    ragged: bool = False  # CRLF line ends, and every frame sent in two pieces cut mid-line
    # Thinking streamed before the deltas in a field of its own (``reasoning_field``:
    # DeepSeek's and llama.cpp's ``reasoning_content``, vLLM's ``reasoning``). The other
    # form, ``<think>…</think>`` inside the content, is written into ``deltas`` as is.
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str = "reasoning_content"
    hold: float = 0.0  # after the reasoning and the deltas, wait this long before the end


@dataclass
class Status:
    """Answer with an HTTP error instead of a stream."""

    code: int
    retry_after: str | None = None
    body: dict[str, Any] = field(
        default_factory=lambda: {"error": {"message": "scripted failure", "type": "test"}}
    )


@dataclass
class Raw:
    """Send ``pieces`` as they are, then ``repeat`` every ``every`` seconds, holding the
    stream open for up to ``hold`` seconds (or until the client goes away)."""

    pieces: list[bytes]
    repeat: bytes | None = None
    every: float = 0.2
    hold: float = 0.0


@dataclass
class Silent:
    """Accept the request and never answer (no headers), for up to ``hold`` seconds."""

    hold: float = 600.0


Script = Reply | Status | Raw | Silent


def chunk_frame(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """One ``data:`` frame of a chat-completion chunk (``delta`` as given, any types)."""
    data = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0,
            "model": "scripted", "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(data)}\n\n".encode()


def echo_reply(body: dict[str, Any]) -> Reply:
    last = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
    words = f"You said: {last}".split(" ")
    return Reply([w + " " for w in words[:-1]] + [words[-1]])


class ScriptedUpstream:
    def __init__(self) -> None:
        self.scripts: deque[Script] = deque()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request, as it came
        self.disconnects = 0
        self.ended: list[float] = []  # wall-clock time each stream's last frame went out
        # ("arrive", i) as request i comes, ("end", i) once its stream has ended: the order
        # in which the upstream saw things, for tests of what waits for what.
        self.timeline: list[tuple[str, int]] = []
        # Asked first for each request: a script for it, or None for the queue's next.
        self.responder: Callable[[dict[str, Any]], Script | None] | None = None
        # GET /v1/models: these entries (None: 404, no list), after ``models_delay``
        # seconds; GET /props (llama.cpp's server): this body (None: 404).
        self.models: list[dict[str, Any]] | None = None
        self.models_delay = 0.0
        self.props: dict[str, Any] | None = None
        self.models_asked = 0
        self.models_headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server: ThreadedServer | None = None
        self.url = ""

    # --- scripting ------------------------------------------------------------

    def enqueue(self, *scripts: Script) -> None:
        with self._lock:
            self.scripts.extend(scripts)

    def reset(self) -> None:
        with self._lock:
            self.scripts.clear()
            self.requests.clear()
            self.headers.clear()
            self.arrivals.clear()
            self.disconnects = 0
            self.ended.clear()
            self.timeline.clear()
            self.responder = None
            self.models = None
            self.models_delay = 0.0
            self.props = None
            self.models_asked = 0
            self.models_headers.clear()

    def _next(self, body: dict[str, Any]) -> Script:
        with self._lock:
            self.requests.append(body)
            self.arrivals.append(time.monotonic())
            self.timeline.append(("arrive", len(self.requests) - 1))
            answer = self.responder(body) if self.responder else None
            if answer is not None:
                return answer
            return self.scripts.popleft() if self.scripts else echo_reply(body)

    # --- the HTTP side -----------------------------------------------------------

    async def _completions(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.headers.append(dict(request.headers))
        script = self._next(body)
        index = next(i for i, b in reversed(list(enumerate(self.requests))) if b is body)
        if isinstance(script, Silent):
            for _ in range(int(script.hold * 10)):
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.1)
            return Response(status_code=204)
        if isinstance(script, Raw):
            return StreamingResponse(self._raw(script), media_type="text/event-stream")
        if isinstance(script, Status):
            headers = {"retry-after": script.retry_after} if script.retry_after else None
            return JSONResponse(script.body, status_code=script.code, headers=headers)
        return StreamingResponse(self._stream(body, script, index), media_type="text/event-stream")

    async def _stream(
        self, body: dict[str, Any], script: Reply, index: int = -1
    ) -> AsyncIterator[bytes]:
        model = body.get("model", "scripted")

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            data = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(data)}\n\n".encode()

        def pieces(frame: bytes) -> list[bytes]:
            if not script.ragged:
                return [frame]
            frame = frame.replace(b"\n", b"\r\n")
            return [frame[: len(frame) // 2], frame[len(frame) // 2 :]]

        async def send(frame: bytes) -> AsyncIterator[bytes]:
            for piece in pieces(frame):
                yield piece
                if script.ragged:
                    await asyncio.sleep(0.01)  # arrives as a read of its own

        try:
            if script.first_delay:
                await asyncio.sleep(script.first_delay)
            async for piece in send(chunk({"role": "assistant", "content": ""})):
                yield piece
            for i, thought in enumerate(script.reasoning):
                if i and script.delay:
                    await asyncio.sleep(script.delay)
                async for piece in send(chunk({script.reasoning_field: thought})):
                    yield piece
            for i, text in enumerate(script.deltas):
                if (i or script.reasoning) and script.delay:
                    waited = 0.0
                    while script.keepalive and waited + script.keepalive < script.delay:
                        await asyncio.sleep(script.keepalive)
                        waited += script.keepalive
                        yield b": keep-alive\n\n"
                    await asyncio.sleep(script.delay - waited)
                async for piece in send(chunk({"content": text})):
                    yield piece
            if script.hold:
                await asyncio.sleep(script.hold)
            if script.error_event is not None:
                err = {"error": {"message": script.error_event, "type": "server_error"}}
                yield f"data: {json.dumps(err)}\n\n".encode()
                return
            if script.cut:
                raise ConnectionResetError("scripted cut")  # uvicorn drops the connection
            ending = chunk({}, script.finish)
            if script.usage is not None:
                data = {"id": "x", "object": "chat.completion.chunk", "created": 0,
                        "model": model, "choices": [], "usage": script.usage}  # fmt: skip
                ending += f"data: {json.dumps(data)}\n\n".encode()
            async for piece in send(ending + b"data: [DONE]\n\n"):
                yield piece
            self.ended.append(time.time())
            self.timeline.append(("end", index))
        except asyncio.CancelledError:
            self.disconnects += 1
            raise

    async def _raw(self, script: Raw) -> AsyncIterator[bytes]:
        try:
            for piece in script.pieces:
                yield piece
            loop = asyncio.get_running_loop()
            until = loop.time() + script.hold
            while loop.time() < until:
                await asyncio.sleep(script.every)
                if script.repeat is not None:
                    yield script.repeat
        except asyncio.CancelledError:
            self.disconnects += 1
            raise

    async def _models(self, request: Request) -> Response:
        with self._lock:
            self.models_asked += 1
            self.models_headers.append(dict(request.headers))
        if self.models_delay:
            await asyncio.sleep(self.models_delay)
        if self.models is None:
            return JSONResponse({"error": {"message": "not found"}}, status_code=404)
        return JSONResponse({"object": "list", "data": self.models})

    async def _props(self, request: Request) -> Response:
        if self.props is None:
            return JSONResponse({"error": {"message": "not found"}}, status_code=404)
        return JSONResponse(self.props)

    # --- running ----------------------------------------------------------------

    def start(self) -> ScriptedUpstream:
        app = Starlette(routes=[
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models), Route("/props", self._props),
        ])  # fmt: skip
        self._server = ThreadedServer(app, log_level="critical", lifespan="off")
        self.url = f"http://127.0.0.1:{self._server.start()}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
