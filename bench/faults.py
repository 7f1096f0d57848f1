"""Time bounds under faults, with the default settings: ``python -m bench.faults``.

1. An upstream that accepts the request and never answers: seconds from sending
   the message to the reply's final event (bound: UPSTREAM_FIRST_TOKEN_TIMEOUT).
2. SIGTERM while 20 replies stream: seconds from the signal to the process's exit
   (bound: SHUTDOWN_GRACE_SECONDS), and how many readers got a final event.
3. The local model: seconds from Stop to the final event while a ~1,300-token
   prompt is being evaluated (run in-process, through the provider).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import time

import httpx

from bench.fixtures import SharedRedis, create_sessions
from bench.procs import Server, Upstream


def _final_after(url: str, content: str, seen: list[str] | None = None) -> str:
    with (
        httpx.Client(timeout=300) as client,
        client.stream("POST", url, json={"content": content}) as response,
    ):
        name = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
                if seen is not None and name == "delta":
                    seen.append(name)
            if line.startswith("data: ") and name in ("done", "error"):
                return str(json.loads(line.removeprefix("data: ")).get("code", name))
    return "none"


def silent_upstream(redis: SharedRedis) -> float:
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)  # read nothing, answer nothing

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    server = Server({"REDIS_URL": redis.url, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    try:
        (sid,) = create_sessions(server.port, 1)
        started = time.monotonic()
        code = _final_after(f"http://127.0.0.1:{server.port}/api/v1/sessions/{sid}/messages", "hi")
        elapsed = time.monotonic() - started
        assert code == "upstream_timeout", code
        return elapsed
    finally:
        server.stop()
        listener.close()
        for conn in held:
            conn.close()


def sigterm(redis: SharedRedis, count: int = 20) -> tuple[float, int]:
    upstream = Upstream()
    server = Server(
        {
            "REDIS_URL": redis.url,
            "OPENAI_BASE_URL": upstream.base_url,
            "SHUTDOWN_GRACE_SECONDS": "20",
        }
    )
    try:
        sids = create_sessions(server.port, count)
        base = f"http://127.0.0.1:{server.port}/api/v1/sessions"
        seen: list[list[str]] = [[] for _ in sids]
        finals: list[str] = []
        readers = [
            threading.Thread(
                target=lambda i=i, sid=sid: finals.append(
                    _final_after(f"{base}/{sid}/messages", "[pace 500ms x 400]", seen[i])
                )
            )
            for i, sid in enumerate(sids)
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + 60
        while not all(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=120)
        elapsed = time.monotonic() - started
        for reader in readers:
            reader.join(timeout=30)
        return elapsed, sum(1 for f in finals if f == "reply_interrupted")
    finally:
        server.stop()
        upstream.stop()


def local_stop(repeats: int = 3) -> list[float]:
    from parlour.domain import ChatTurn
    from parlour.providers.base import CompletionRequest
    from parlour.providers.local import LocalProvider, bundled_model_path

    path = bundled_model_path()
    if path is None:
        return []
    provider = LocalProvider.load(path, context_window=2048)
    prompt = " ".join(f"Line {i}: the sea is wide and the sky is grey." for i in range(90))

    async def once() -> float:
        stream = provider.stream(
            CompletionRequest(provider.model_id, [ChatTurn("user", prompt)], 20, 0.0)
        )
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(1.0)  # well inside the evaluation
        started = time.perf_counter()
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await stream.aclose()
        return time.perf_counter() - started

    async def run() -> list[float]:
        try:
            return [await once() for _ in range(repeats)]
        finally:
            await provider.aclose()

    return asyncio.run(run())


def main() -> None:
    redis = SharedRedis()
    try:
        print(f"silent upstream, defaults: error after {silent_upstream(redis):.1f} s")
        elapsed, told = sigterm(redis)
        print(f"SIGTERM with 20 replies, grace 20 s: exit after {elapsed:.1f} s, {told}/20 told")
    finally:
        redis.stop()
    stops = local_stop()
    if stops:
        print("local stop during prompt evaluation: " + ", ".join(f"{s:.2f} s" for s in stops))


if __name__ == "__main__":
    main()
