"""Several providers: listing models with one provider blackholed, and the first token
through two providers (the scripted upstream and llama-cpp-python's server).

    python -m bench.providers [--lists 200] [--replies 5]

A blackholed provider accepts the TCP connection and never answers (a listening socket
nobody accepts from): the worst case for a list read on the request path. Parlour reads
lists in the background, so GET /api/v1/models is timed while that provider's discovery
is still waiting (within MODELS_DISCOVERY_TIMEOUT) and after it gave up; the control is
the same server with the blackholed provider left out.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from tests.conftest import make_settings
from tests.live import LiveServer
from tests.llama_server import ALIAS, start_llama_server
from tests.upstream import ScriptedUpstream

from parlour.embedded import EmbeddedRedis


def blackhole() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections complete in the kernel; nobody ever reads them
    return sock, int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_lists(client: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get("/api/v1/models")
        out.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return out


def first_token(client: httpx.Client, model: str, n: int) -> list[float]:
    out = []
    for i in range(n):
        sid = client.post("/api/v1/sessions", json={"model": model}).json()["id"]
        client.patch(f"/api/v1/sessions/{sid}/settings", json={"max_tokens": 8})
        start = time.perf_counter()
        url = f"/api/v1/sessions/{sid}/messages"
        with client.stream("POST", url, json={"content": f"Say hello ({i})."}) as response:
            got = None
            for line in response.iter_lines():
                if got is None and line == "event: delta":
                    got = (time.perf_counter() - start) * 1000
        assert got is not None, "no delta"
        out.append(got)
    return out


def direct_first_token(url: str, model: str, n: int) -> list[float]:
    """The control: the client straight to the provider, no Parlour in between."""
    out = []
    body = {"model": model, "stream": True, "max_tokens": 8,
            "messages": [{"role": "user", "content": "Say hello."}]}  # fmt: skip
    with httpx.Client(timeout=300) as client:
        for _ in range(n):
            start = time.perf_counter()
            with client.stream("POST", f"{url}/chat/completions", json=body) as response:
                got = None
                for line in response.iter_lines():
                    if got is None and '"content": "' in line and '"content": ""' not in line:
                        got = (time.perf_counter() - start) * 1000
            out.append(got or float("nan"))
    return out


def row(label: str, values: list[float]) -> str:
    return (f"| {label} | {len(values)} | {statistics.median(values):.1f} | "
            f"{pct(values, 0.95):.1f} | {max(values):.1f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lists", type=int, default=200)
    parser.add_argument("--replies", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="parlour-bench-providers-"))
    redis = EmbeddedRedis(tmp / "redis")
    redis_url = redis.start()
    upstream = ScriptedUpstream().start()
    upstream.models = [{"id": "scripted-model"}, {"id": "fast-2"}]
    hole, hole_port = blackhole()
    llama = start_llama_server(tmp)
    rows = []
    try:
        for with_hole in (False, True):
            extra = textwrap.dedent(f"""
                [[provider]]
                name = "blackholed"
                base_url = "http://127.0.0.1:{hole_port}/v1"
                models = ["never"]
            """) if with_hole else ""  # fmt: skip
            path = tmp / f"providers-{with_hole}.toml"
            path.write_text(textwrap.dedent(f"""
                [[provider]]
                name = "llama"
                base_url = "{llama.url}"
            """) + extra, encoding="utf-8")  # fmt: skip
            settings = make_settings(
                tmp / f"data-{with_hole}", redis_url=redis_url, openai_base_url=upstream.url,
                openai_api_key="k", openai_model="scripted-model", local_enabled=False,
                providers_file=path, models_discovery_timeout=3.0, summaries=False,
                reply_reserve_tokens=128, rate_messages="1000/minute",
            )  # fmt: skip
            server = LiveServer(settings).start()
            started = time.perf_counter()
            with httpx.Client(base_url=server.url, timeout=300) as client:
                during = time_lists(client, 20)
                waited = time.perf_counter() - started
                if with_hole:
                    body = client.get("/api/v1/models").json()
                    hole_group = next(p for p in body["providers"] if p["name"] == "blackholed")
                    print("blackholed during the first", f"{waited:.2f} s:", hole_group)
                    time.sleep(max(0.0, 3.5 - (time.perf_counter() - started)))
                    body = client.get("/api/v1/models").json()
                    hole_group = next(p for p in body["providers"] if p["name"] == "blackholed")
                    print("blackholed after the timeout:", hole_group["available"],
                          hole_group["reason"])  # fmt: skip
                after = time_lists(client, args.lists)
                label = "one provider blackholed" if with_hole else "control: no blackholed one"
                rows.append(row(f"GET /api/v1/models, {label}, first 20 after start", during))
                rows.append(row(f"GET /api/v1/models, {label}", after))
                if with_hole:
                    scripted = first_token(client, "scripted-model", args.replies * 4)
                    real = first_token(client, f"llama/{ALIAS}", args.replies)
                    rows.append(row("first token via Parlour: scripted upstream", scripted))
                    rows.append(row("first token via Parlour: llama_cpp.server", real))
            server.stop()
        rows.append(row("first token direct (control): llama_cpp.server",
                        direct_first_token(llama.url, ALIAS, args.replies)))  # fmt: skip
    finally:
        llama.stop()
        hole.close()
        upstream.stop()
        redis.stop()
    print("| measurement | n | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for line in rows:
        print(line)


if __name__ == "__main__":
    main()
