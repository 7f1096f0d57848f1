"""A lean streaming load client: raw asyncio protocols, uvloop, orjson.

It times each stream's first delta (from just before connecting) and the gaps
between deltas, against either Parlour (SSE ``delta`` events) or the upstream
directly (``chat.completion.chunk`` frames with text) - the direct control.

``python -m bench.loadclient PLAN.json`` runs a plan and writes its result as
JSON to the plan's ``result_path``. In ``idle`` mode it prints ``OPEN <n>`` once every stream has
its first delta, then holds them until a line arrives on stdin.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import uvloop

MAX_GAPS = 200_000  # gaps kept for percentiles (bounded memory)


@dataclass
class Target:
    kind: str  # "parlour" or "direct"
    host: str
    port: int

    def request(self, session: str, content: str) -> bytes:
        if self.kind == "parlour":
            path = f"/api/v1/sessions/{session}/messages"
            body = orjson.dumps({"content": content})
        else:
            path = "/v1/chat/completions"
            body = orjson.dumps(
                {
                    "model": "bench",
                    "stream": True,
                    "messages": [{"role": "user", "content": content}],
                }
            )
        return (
            f"POST {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
            f"content-type: application/json\r\naccept: text/event-stream\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body


@dataclass
class Record:
    target: str
    ttft: float | None = None  # seconds, request start to first delta
    deltas: int = 0  # tokens received (a delta event may carry several)
    max_gap: float = 0.0
    total: float = 0.0  # seconds, request start to the end of the stream
    last: float = 0.0  # seconds from request start to the last delta
    error: str | None = None
    retries: int = 0
    completion_tokens: int | None = None  # as the final event counts them (Parlour only)


class StreamProtocol(asyncio.Protocol):
    """One request; parses the chunked SSE response as it arrives."""

    def __init__(
        self,
        target: Target,
        payload: bytes,
        gaps: list[float],
        on_first: asyncio.Event | None = None,
    ) -> None:
        self.kind = target.kind
        self.on_first = on_first
        self._finished_ok = False
        self.payload = payload
        self.gaps = gaps
        self.record = Record(target.kind)
        self.status = 0
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._head = bytearray()
        self._raw = bytearray()  # chunked body not yet decoded
        self._sse = bytearray()  # decoded body not yet split into events
        self._need = -1  # bytes left in the current chunk (+2 for its CRLF); -1: a size line
        self._chunked = False
        self._started = 0.0
        self._prev = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but they write.
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.payload)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            if self.record.error is None and not self._finished_ok:
                self.record.error = "connection closed early"
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.status:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._head[:end]).lower()
            self.status = int(head[9:12])
            self._chunked = b"transfer-encoding: chunked" in head
            data = bytes(self._head[end + 4 :])
            self._head.clear()
            if self.status != 200:
                self._finish(f"HTTP {self.status}")
                return
        if self._chunked:
            self._raw += data
            self._dechunk()
        else:
            self._sse += data
        self._events(now)

    def _dechunk(self) -> None:
        raw = self._raw
        while raw:
            if self._need < 0:
                eol = raw.find(b"\r\n")
                if eol < 0:
                    return
                size = int(bytes(raw[:eol]).split(b";")[0], 16)
                del raw[: eol + 2]
                if size == 0:
                    self._finished_ok = True
                    return
                self._need = size + 2
            if len(raw) < self._need:
                return
            self._sse += raw[: self._need - 2]
            del raw[: self._need]
            self._need = -1

    def _events(self, now: float) -> None:
        buf = self._sse
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            event = bytes(buf[start:end])
            start = end + 2
            if self.kind == "parlour":
                self._parlour_event(event, now)
            else:
                self._direct_event(event, now)
            if self.done.done():
                return
        if start:
            del buf[:start]

    def _parlour_event(self, event: bytes, now: float) -> None:
        name = b""
        data = b""
        for line in event.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:]
            elif line.startswith(b"data: "):
                data = line[6:]
        if name == b"delta":
            content = orjson.loads(data).get("content")
            if content:
                self._delta(now, _tokens(content))
        elif name == b"done":
            usage = orjson.loads(data).get("usage") or {}
            self.record.completion_tokens = usage.get("completion_tokens")
            self._finish(None)
        elif name == b"failure":
            self._finish("error event: " + data.decode(errors="replace")[:200])

    def _direct_event(self, event: bytes, now: float) -> None:
        if not event.startswith(b"data: "):
            return
        data = event[6:]
        if data == b"[DONE]":
            self._finish(None)
            return
        chunk = orjson.loads(data)
        for choice in chunk.get("choices") or ():
            content = (choice.get("delta") or {}).get("content")
            if content:
                self._delta(now, _tokens(content))

    def _delta(self, now: float, tokens: int) -> None:
        rec = self.record
        first = rec.deltas == 0
        rec.deltas += tokens
        if first:
            rec.ttft = now - self._started
            if self.on_first is not None:
                self.on_first.set()
        else:
            gap = now - self._prev
            rec.max_gap = max(rec.max_gap, gap)
            if len(self.gaps) < MAX_GAPS:
                self.gaps.append(gap)
        self._prev = now
        rec.last = now - self._started

    def _finish(self, error: str | None) -> None:
        self.record.error = error
        self.record.total = time.perf_counter() - self._started
        if not self.done.done():
            self.done.set_result(None)
        if self.transport is not None:
            self.transport.close()


def _tokens(content: str) -> int:
    """Tokens in a delta: the upstream's words each end with a space, and Parlour may
    carry several in one event when its reader has fallen behind."""
    return max(1, content.count(" "))


@dataclass
class Client:
    targets: dict[str, Target]
    gaps: dict[str, list[float]] = field(default_factory=dict)
    stream_timeout: float = 120.0

    async def stream(
        self, kind: str, session: str, content: str, *, opened: asyncio.Event | None = None
    ) -> Record:
        """One stream; a 409 (the session's previous reply still ending) is retried."""
        target = self.targets[kind]
        payload = target.request(session, content)
        loop = asyncio.get_running_loop()
        gaps = self.gaps.setdefault(kind, [])
        retries = 0
        while True:
            proto = StreamProtocol(target, payload, gaps, opened)
            proto._started = time.perf_counter()
            try:
                await loop.create_connection(lambda p=proto: p, target.host, target.port)  # type: ignore[misc]
                async with asyncio.timeout(self.stream_timeout):
                    await proto.done
            except (OSError, TimeoutError) as exc:
                proto.record.error = f"{type(exc).__name__}: {exc}"[:200]
            finally:
                if proto.transport is not None:
                    proto.transport.close()
            if proto.status == 409 and retries < 100:
                retries += 1
                await asyncio.sleep(0.005)
                continue
            proto.record.retries = retries
            return proto.record


def content_for(plan: dict[str, Any], salt: int = 0) -> str:
    """The message text: the plan's own, or one carrying the upstream's pacing directive."""
    if "content" in plan:
        return str(plan["content"])
    return (
        f"Tell me something, please ({salt}). [pace {plan['interval_ms']:g}ms x {plan['tokens']}]"
    )


# --- the plans ---------------------------------------------------------------------


async def run_serial(client: Client, plan: dict[str, Any]) -> list[Record]:
    """Streams one at a time; each round runs every target once, in turn."""
    records = []
    pause = plan.get("pause", 0.01)
    for i, session in enumerate(plan["sessions"][: plan["streams"]]):
        for kind in plan["kinds"]:
            text = content_for(plan, i)
            records.append(await client.stream(kind, session, text))
            await asyncio.sleep(pause)
    return records


async def run_arrivals(client: Client, plan: dict[str, Any]) -> list[Record]:
    """Streams starting at given offsets (Poisson arrivals, or a ramp), all held together."""
    kind = plan["kinds"][0]
    offsets = arrivals(plan)
    sessions = plan["sessions"]
    start = time.perf_counter()

    async def one(i: int, at: float) -> Record:
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        return await client.stream(kind, sessions[i], content_for(plan, i))

    return list(await asyncio.gather(*(one(i, at) for i, at in enumerate(offsets))))


def arrivals(plan: dict[str, Any]) -> list[float]:
    n = plan["streams"]
    if plan["mode"] == "poisson":
        rng = random.Random(plan.get("seed", 1))
        t, out = 0.0, []
        for _ in range(n):
            t += rng.expovariate(plan["rate"])
            out.append(t)
        return out
    ramp = plan.get("ramp", 0.0)
    return [ramp * i / n for i in range(n)]


async def run_idle(client: Client, plan: dict[str, Any]) -> list[Record]:
    """Open streams that stay idle after their first delta; hold them until stdin speaks."""
    kind = plan["kinds"][0]
    opened = [asyncio.Event() for _ in range(plan["streams"])]
    tasks = [
        asyncio.create_task(client.stream(kind, s, content_for(plan, i), opened=opened[i]))
        for i, s in enumerate(plan["sessions"][: plan["streams"]])
    ]
    ready = asyncio.gather(*(e.wait() for e in opened))
    done, _ = await asyncio.wait([ready], timeout=plan.get("open_timeout", 60))
    count = sum(e.is_set() for e in opened)
    sys.stdout.write(f"OPEN {count}\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline), plan.get("hold", 120))
    if not done:
        ready.cancel()
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return [r if isinstance(r, Record) else Record(kind, error="held") for r in results]


PLANS = {"serial": run_serial, "poisson": run_arrivals, "ramp": run_arrivals, "idle": run_idle}


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    targets = {k: Target(k, "127.0.0.1", port) for k, port in plan["ports"].items()}
    client = Client(targets, stream_timeout=plan.get("stream_timeout", 120.0))
    started = time.perf_counter()
    records = await PLANS[plan["mode"]](client, plan)
    return {
        "wall": time.perf_counter() - started,
        "records": [asdict(r) for r in records],
        "gaps": client.gaps,
    }


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        plan = orjson.loads(f.read())
    result = uvloop.run(run(plan))
    with open(plan["result_path"], "wb") as f:
        f.write(orjson.dumps(result))
    sys.stdout.write("RESULT\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
