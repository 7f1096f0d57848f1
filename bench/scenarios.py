"""The seven measurements. Each returns a :class:`~bench.report.Row`.

Every figure comes from the same run as its control: the load client talks to
Parlour and, in the same run, straight to the same upstream process.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.fixtures import SharedRedis, create_sessions, seed_history
from bench.procs import BenchError, IdleClient, Server, Upstream, run_client
from bench.report import Row, fmt, pct

PACE_MS = 20.0
STALL = 0.040  # a gap this much longer than the pace is a stall


@dataclass(frozen=True)
class Sizes:
    repeats: int = 3
    serial_streams: int = 120  # #1: streams per target per run
    serial_tokens: int = 3
    poisson_streams: int = 100  # #2
    poisson_rate: float = 20.0  # arrivals per second
    poisson_tokens: int = 50
    paced_levels: tuple[int, ...] = (25, 50, 100, 150, 200, 250, 500, 1000)  # #3: to the first miss
    paced_tokens: int = 100  # 2 s of tokens per stream
    paced_ramp: float = 1.0
    paced_workers: int = 2
    fast_streams: int = 8  # #4
    fast_tokens: int = 1000
    history_pairs: int = 25  # #5
    history_big: int = 10_000
    history_small: int = 10
    branched_messages: int = 2_000  # #8
    branches: int = 50
    idle_streams: int = 1000  # #6
    local_tokens: int = 256  # #7
    local_repeats: int = 5
    search_own: int = 100_000  # #9: messages in the searching account
    search_total: int = 1_000_000  # and in the whole store
    search_queries: int = 400
    search_replies: int = 20
    summary_messages: int = 400  # #10: seeded in each session, far past the window


QUICK = Sizes(
    repeats=1,
    serial_streams=5,
    poisson_streams=5,
    poisson_tokens=5,
    paced_levels=(10,),
    paced_tokens=5,
    paced_ramp=0.05,
    fast_streams=2,
    fast_tokens=200,
    history_pairs=2,
    history_big=200,
    branched_messages=100,
    branches=5,
    idle_streams=10,
    local_tokens=8,
    local_repeats=1,
    search_own=2_000,
    search_total=5_000,
    search_queries=16,
    search_replies=3,
    summary_messages=40,
)


UNLIMITED = "1000000/minute"


@dataclass
class Stage:
    """What the scenarios share: the upstream, the Redis, and the sizes."""

    upstream: Upstream
    redis: SharedRedis
    sizes: Sizes
    reuse: Server | None = None  # smoke runs share one plain server to save start-up time

    @contextmanager
    def serving(self, workers: int = 1, **env: str) -> Iterator[Server]:
        """A fresh server for one measurement (or the shared one in smoke runs)."""
        if self.reuse is not None and workers == 1 and not env:
            yield self.reuse
            return
        server = self.server(workers, **env)
        try:
            yield server
        finally:
            server.stop()

    def server(self, workers: int = 1, **env: str) -> Server:
        self.redis.flush()
        base = {
            "REDIS_URL": self.redis.url,
            "OPENAI_BASE_URL": self.upstream.base_url,
            "OPENAI_API_KEY": "bench",
            "OPENAI_MODEL": "bench",
            "LOCAL_ENABLED": "false",
            # All the load comes from one address and one user: the abuse limits would
            # refuse it (429), and the bench measures capacity, not them.
            **{
                f"RATE_{name}": UNLIMITED
                for name in ("MESSAGES", "MESSAGES_IP", "WRITES", "WRITES_IP")
            },
            "MAX_FOLLOWERS_PER_USER": "100000",
        }
        return Server({**base, **env}, workers=workers)

    def plan(self, mode: str, server: Server | None, **fields: Any) -> dict[str, Any]:
        ports = {"direct": self.upstream.port}
        if server is not None:
            ports["parlour"] = server.port
        return {"mode": mode, "ports": ports, "interval_ms": PACE_MS, **fields}


def _ttfts(records: list[dict[str, Any]], kind: str) -> list[float]:
    return [r["ttft"] for r in records if r["target"] == kind and r["ttft"] is not None]


def _errors(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records if r["error"])


# --- 1 and 2: added time to first token ---------------------------------------------------


def added_ttft_serial(stage: Stage, server: Server) -> Row:
    row = Row(
        1,
        "added time to first token, one stream at a time (with history read)",
        "p50 ≤ 2 ms, p99 ≤ 5 ms",
    )
    s = stage.sizes
    sessions = create_sessions(server.port, s.serial_streams)
    seed_history(stage.redis.url, sessions, s.history_small)
    p50, p99, direct50, cpu_ms, errors = [], [], [], [], 0
    for _ in range(s.repeats):
        plan = stage.plan(
            "serial",
            server,
            kinds=["direct", "parlour"],
            sessions=sessions,
            streams=s.serial_streams,
            tokens=s.serial_tokens,
        )
        before = server.cpu_seconds()
        recs = run_client(plan)["records"]
        cpu_ms.append((server.cpu_seconds() - before) / s.serial_streams * 1e3)
        errors += _errors(recs)
        mine, direct = _ttfts(recs, "parlour"), _ttfts(recs, "direct")
        p50.append((pct(mine, 50) - pct(direct, 50)) * 1e3)
        p99.append((pct(mine, 99) - pct(direct, 99)) * 1e3)
        direct50.append(pct(direct, 50) * 1e3)
    row.runs = {
        "p50_added_ms": p50,
        "p99_added_ms": p99,
        "direct_p50_ms": direct50,
        "server_cpu_ms_per_reply": cpu_ms,
    }
    row.figure = f"p50 +{fmt(p50, 'ms')}; p99 +{fmt(p99, 'ms')}"
    row.passed = errors == 0 and pct(p50, 50) <= 2 and pct(p99, 50) <= 5
    row.detail = {"errors": errors, "streams_per_run": s.serial_streams}
    row.note = (
        f"direct control p50 {fmt(direct50, 'ms')}; server CPU {fmt(cpu_ms, 'ms')} per reply "
        f"({s.serial_tokens} tokens); {s.serial_streams} streams per target per "
        f"run, alternating direct/Parlour, sessions holding {s.history_small} messages; "
        f"errors {errors}."
    )
    return row


def added_ttft_poisson(stage: Stage, server: Server) -> Row:
    row = Row(2, "same, 100 streams arriving at random (Poisson) times", "p99 ≤ 25 ms")
    s = stage.sizes
    sessions = create_sessions(server.port, s.poisson_streams)
    p99, p50, d99, errors = [], [], [], 0
    for run in range(s.repeats):
        common = dict(
            sessions=sessions,
            streams=s.poisson_streams,
            rate=s.poisson_rate,
            tokens=s.poisson_tokens,
            seed=run + 1,
        )
        direct = run_client(stage.plan("poisson", server, kinds=["direct"], **common))
        mine = run_client(stage.plan("poisson", server, kinds=["parlour"], **common))
        errors += _errors(direct["records"]) + _errors(mine["records"])
        t_mine, t_direct = _ttfts(mine["records"], "parlour"), _ttfts(direct["records"], "direct")
        p99.append((pct(t_mine, 99) - pct(t_direct, 99)) * 1e3)
        p50.append((pct(t_mine, 50) - pct(t_direct, 50)) * 1e3)
        d99.append(pct(t_direct, 99) * 1e3)
    row.runs = {"p99_added_ms": p99, "p50_added_ms": p50, "direct_p99_ms": d99}
    row.figure = f"p99 +{fmt(p99, 'ms')} (p50 +{fmt(p50, 'ms')})"
    row.passed = errors == 0 and pct(p99, 50) <= 25
    row.detail = {"errors": errors}
    row.note = (
        f"{s.poisson_rate:g} arrivals/s, {s.poisson_tokens} tokens at {PACE_MS:g} ms each; "
        f"the same arrival times against the upstream directly, then through Parlour; "
        f"direct control p99 {fmt(d99, 'ms')}; errors {errors}."
    )
    return row


# --- 3: concurrent paced streams -------------------------------------------------------------


def _stalled(records: list[dict[str, Any]], tokens: int) -> int:
    limit = PACE_MS / 1e3 + STALL
    return sum(1 for r in records if r["error"] or r["deltas"] < tokens or r["max_gap"] > limit)


def concurrent_paced(stage: Stage) -> Row:
    s = stage.sizes
    row = Row(
        3,
        f"concurrent paced streams (50 tokens/s each), < 1 % stalling > 40 ms, "
        f"no errors, `--workers {s.paced_workers}`",
        "≥ 500 (stretch 1,000)",
    )
    with stage.serving(workers=s.paced_workers) as server:
        levels: dict[str, Any] = {}
        held: list[float] = []
        bound = s.paced_tokens * PACE_MS / 1e3 + s.paced_ramp + 20
        for _ in range(s.repeats):
            best = 0
            for n in s.paced_levels:
                # fresh sessions: a stream cut short at the level before may still hold its lock
                sessions = create_sessions(server.port, n)
                common = dict(
                    sessions=sessions,
                    streams=n,
                    tokens=s.paced_tokens,
                    ramp=s.paced_ramp,
                    stream_timeout=bound,
                )
                direct = run_client(stage.plan("ramp", server, kinds=["direct"], **common))
                cpu = server.cpu_seconds()
                mine = run_client(stage.plan("ramp", server, kinds=["parlour"], **common))
                cpu = server.cpu_seconds() - cpu
                d_st = _stalled(direct["records"], s.paced_tokens) / n
                m_st = _stalled(mine["records"], s.paced_tokens) / n
                m_err = _errors(mine["records"])
                deltas = sum(r["deltas"] for r in mine["records"])
                level = levels.setdefault(
                    str(n),
                    {
                        "parlour_stalled": [],
                        "direct_stalled": [],
                        "errors": [],
                        "cpu_us_per_token": [],
                    },
                )
                level["parlour_stalled"].append(m_st)
                level["direct_stalled"].append(d_st)
                level["errors"].append(m_err)
                level["cpu_us_per_token"].append(cpu / max(deltas, 1) * 1e6)
                if m_st >= 0.01 or m_err:
                    break  # the levels above would miss too
                best = n
            held.append(float(best))
    row.runs = {"held_streams": held}
    row.figure = f"{fmt(held, 'streams', 0)} held"
    row.passed = pct(held, 50) >= 500
    row.detail = {"levels": levels, "workers": s.paced_workers}
    parts = []
    for lname, lv in levels.items():
        parts.append(
            f"{lname}: Parlour {fmt([100 * x for x in lv['parlour_stalled']], '%', 1)} stalled, "
            f"errors {sum(lv['errors'])}, server CPU {fmt(lv['cpu_us_per_token'], 'µs/token', 0)}; "
            f"direct control {fmt([100 * x for x in lv['direct_stalled']], '%', 1)} stalled"
        )
    row.note = "streams held at each level — " + "; ".join(parts) + "."
    return row


# --- 4: CPU per relayed token ----------------------------------------------------------------


def cpu_per_token(stage: Stage) -> Row:
    row = Row(
        4, "server CPU per relayed token (throughput run)", "≤ 50 µs (≥ 20,000 tokens/s/core)"
    )
    s = stage.sizes
    with stage.serving() as server:
        sessions = create_sessions(server.port, s.fast_streams)
        common = dict(sessions=sessions, streams=s.fast_streams, ramp=0.0, stream_timeout=120)
        run_client(
            stage.plan("ramp", server, kinds=["parlour"], interval_ms=0, tokens=50, **common)
        )  # warm-up
        per_token, rate, direct_rate, worst_first = [], [], [], []
        for _ in range(s.repeats):
            direct = run_client(
                stage.plan(
                    "ramp", server, kinds=["direct"], interval_ms=0, tokens=s.fast_tokens, **common
                )
            )
            before = server.cpu_seconds()
            mine = run_client(
                stage.plan(
                    "ramp", server, kinds=["parlour"], interval_ms=0, tokens=s.fast_tokens, **common
                )
            )
            used = server.cpu_seconds() - before
            deltas = sum(r["deltas"] for r in mine["records"])
            per_token.append(used / max(deltas, 1) * 1e6)
            worst_first.append(max(_ttfts(mine["records"], "parlour"), default=0.0))
            rate.append(deltas / mine["wall"])
            direct_rate.append(sum(r["deltas"] for r in direct["records"]) / direct["wall"])
    row.runs = {
        "cpu_us_per_token": per_token,
        "tokens_per_s": rate,
        "direct_tokens_per_s": direct_rate,
        "slowest_first_token_s": worst_first,
    }
    row.figure = f"{fmt(per_token, 'µs', 1)} (≈ {1e6 / pct(per_token, 50):,.0f} tokens/s/core)"
    row.passed = pct(per_token, 50) <= 50
    row.note = (
        f"{s.fast_streams} streams × {s.fast_tokens} tokens, upstream as fast as possible; "
        f"through Parlour {fmt(rate, 'tokens/s', 0)} wall-clock on the shared 2 cores; "
        f"direct control {fmt(direct_rate, 'tokens/s', 0)}. The slowest stream's first token "
        f"came after {fmt(worst_first, 's', 1)}: while one upstream stream outpaces the "
        f"server, the streams started beside it wait."
    )
    return row


# --- 5: long history -------------------------------------------------------------------------


def _first_token_pair(
    stage: Stage, server: Server, a: list[str], b: list[str]
) -> tuple[list[float], list[float], list[float]]:
    """Median first-token times in sessions ``a`` vs. ``b``, interleaved; and how much
    slower ``b`` is, in %, per run."""
    s = stage.sizes
    order = [sid for i, sa in enumerate(a) for sid in (sa, b[i % len(b)])]
    ratio, t_a, t_b = [], [], []
    for _ in range(s.repeats):
        plan = stage.plan(
            "serial",
            server,
            kinds=["parlour"],
            sessions=order,
            streams=len(order),
            tokens=s.serial_tokens,
        )
        recs = run_client(plan)["records"]
        a_t = [r["ttft"] for r in recs[0::2] if r["ttft"] is not None]
        b_t = [r["ttft"] for r in recs[1::2] if r["ttft"] is not None]
        if _errors(recs):
            first = next(r["error"] for r in recs if r["error"])
            raise BenchError(f"{_errors(recs)} of {len(recs)} streams failed, e.g. {first}")
        t_a.append(pct(a_t, 50) * 1e3)
        t_b.append(pct(b_t, 50) * 1e3)
        ratio.append((pct(b_t, 50) / pct(a_t, 50) - 1) * 100)
    return ratio, t_a, t_b


def long_history(stage: Stage, server: Server) -> Row:
    s = stage.sizes
    row = Row(
        5,
        f"first-token time, session with {s.history_big:,} stored messages vs. {s.history_small}",
        "within 10 %",
    )
    small = create_sessions(server.port, s.history_pairs)
    big = create_sessions(server.port, 2)
    seed_history(stage.redis.url, small, s.history_small)
    seed_history(stage.redis.url, big, s.history_big)
    ratio, t_small, t_big = _first_token_pair(stage, server, small, big)
    row.runs = {"slower_pct": ratio, "small_ms": t_small, "big_ms": t_big}
    row.figure = f"{fmt(ratio, '%', 1)} slower"
    row.passed = pct(ratio, 50) <= 10
    row.note = (
        f"median first token {fmt(t_big, 'ms')} with {s.history_big:,} messages vs. "
        f"{fmt(t_small, 'ms')} with {s.history_small} (the context sent is the newest 400)."
    )
    return row


# --- 8: a branched conversation ----------------------------------------------------------


def branched_history(stage: Stage, server: Server) -> Row:
    s = stage.sizes
    n, forks = s.branched_messages, s.branches
    row = Row(
        8,
        f"first-token time, {n:,} messages with {forks} side branches vs. {n:,} in one line",
        "within 10 %",
    )
    linear = create_sessions(server.port, 2)
    branched = create_sessions(server.port, 2)
    seed_history(stage.redis.url, linear, n)
    seed_history(stage.redis.url, branched, n, branches=forks)
    ratio, t_linear, t_branched = _first_token_pair(
        stage, server, linear * (s.history_pairs // 2), branched
    )
    row.runs = {"slower_pct": ratio, "linear_ms": t_linear, "branched_ms": t_branched}
    row.figure = f"{fmt(ratio, '%', 1)} slower"
    row.passed = pct(ratio, 50) <= 10
    row.note = (
        f"median first token {fmt(t_branched, 'ms')} on the long branch of a tree vs. "
        f"{fmt(t_linear, 'ms')} in a linear conversation, both past CONTEXT_MESSAGES (400)."
    )
    return row


# --- 6: memory per open stream ---------------------------------------------------------------


def memory_per_stream(stage: Stage) -> Row:
    s = stage.sizes
    row = Row(
        6, f"memory per open stream (RSS growth / streams, {s.idle_streams:,} open idle)", "≤ 50 KB"
    )
    per_stream, opened_counts = [], []
    for _ in range(min(s.repeats, 2)):  # each run starts 1,000 replies: keep the total short
        with stage.serving() as server:
            sessions = create_sessions(server.port, s.idle_streams + 20)
            warm = stage.plan(
                "ramp", server, kinds=["parlour"], sessions=sessions[-20:], streams=20, tokens=3
            )
            run_client(warm)
            gc.collect()
            time.sleep(1.0)
            before = server.rss()
            idle = IdleClient(
                stage.plan(
                    "idle",
                    server,
                    kinds=["parlour"],
                    sessions=sessions,
                    streams=s.idle_streams,
                    tokens=2,
                    interval_ms=60_000,
                    stream_timeout=300,
                    open_timeout=150,
                )
            )
            opened = idle.wait_open()
            time.sleep(1.0)
            after = server.rss()
            idle.close()
        per_stream.append((after - before) / max(opened, 1) / 1024)
        opened_counts.append(float(opened))
    row.runs = {"kb_per_stream": per_stream, "opened": opened_counts}
    row.figure = f"{fmt(per_stream, 'KB', 1)}"
    row.passed = pct(per_stream, 50) <= 50 and min(opened_counts) >= s.idle_streams
    row.note = (
        f"server RSS after a warm-up vs. with {s.idle_streams:,} streams each past its first "
        f"token and idle (upstream connection open too); streams opened: "
        f"{', '.join(str(int(x)) for x in opened_counts)}."
    )
    return row
