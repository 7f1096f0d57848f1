"""A scripted OpenAI-protocol upstream for load runs: raw asyncio streams, uvloop, no framework.

``python -m bench.upstream [--port 0] [--tokens 50] [--interval 0.02]`` prints
``PORT <n>`` once it listens, then serves ``POST /v1/chat/completions`` as a
stream of ``chat.completion.chunk`` frames ending with ``data: [DONE]``, over
HTTP/1.1 keep-alive (chunked transfer encoding).

The first token is written at once; token *i* is due ``i * interval`` after it
(absolute deadlines, so the pace does not drift). ``interval`` 0 writes as fast
as the reader takes them. A request overrides the defaults by carrying
``[pace <ms>ms x <tokens>]`` in its text (the last one in the body wins), so the
same directive reaches the upstream whether it comes through Parlour or straight
from the load client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import time

import orjson
import uvloop

DIRECTIVE = re.compile(rb"\[pace ([0-9.]+)ms x ([0-9]+)\]")
WORDS = ("lorem ", "ipsum ", "dolor ", "sit ", "amet ", "consectetur ", "adipiscing ", "elit ")
MAX_TOKENS = 100_000
MAX_BODY = 16 * 1024 * 1024


def directive(body: bytes, tokens: int, interval: float) -> tuple[int, float]:
    """The pacing a request asks for: (tokens, seconds between tokens)."""
    found = DIRECTIVE.findall(body)
    if not found:
        return tokens, interval
    ms, count = found[-1]
    return min(int(count), MAX_TOKENS), float(ms) / 1000.0


def _frame(payload: dict[str, object] | None) -> bytes:
    """One SSE frame in one HTTP chunk."""
    data = b"data: [DONE]\n\n" if payload is None else b"data: " + orjson.dumps(payload) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "bench",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


FIRST = [_frame(_chunk({"role": "assistant", "content": w})) for w in WORDS]
TOKENS = [_frame(_chunk({"content": w})) for w in WORDS]
ENDING = (
    _frame(_chunk({}, "stop"))
    + _frame(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "bench",
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
    )
    + _frame(None)
    + b"0\r\n\r\n"
)
HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
    b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
)


class Upstream:
    def __init__(self, tokens: int, interval: float) -> None:
        self.tokens = tokens
        self.interval = interval

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # one request after another on a keep-alive connection
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length > MAX_BODY:
                    return
                body = await reader.readexactly(length) if length else b""
                if not head.startswith(b"POST ") or b"/chat/completions" not in head[:200]:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    continue
                tokens, interval = directive(body, self.tokens, self.interval)
                await self.stream(writer, tokens, interval)
        except (ConnectionError, asyncio.IncompleteReadError, RuntimeError):
            return  # the reader went away (uvloop raises RuntimeError on a closed transport)
        finally:
            writer.close()

    async def stream(self, writer: asyncio.StreamWriter, tokens: int, interval: float) -> None:
        writer.write(HEAD + FIRST[0])
        start = time.monotonic()
        for i in range(1, tokens):
            if interval > 0:
                delay = start + i * interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(TOKENS[i % len(TOKENS)])
                await writer.drain()
            else:
                writer.write(TOKENS[i % len(TOKENS)])
                if i % 16 == 0:  # let the reader's backpressure pace us, and let others run
                    await writer.drain()
                    await asyncio.sleep(0)
        writer.write(ENDING)
        await writer.drain()


async def serve(port: int, tokens: int, interval: float) -> None:
    upstream = Upstream(tokens, interval)
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {bound}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between tokens")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(serve(args.port, args.tokens, args.interval))


if __name__ == "__main__":
    main()
