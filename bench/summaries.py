"""#10: first-token time with running summaries on vs. off, in conversations past the window.

Both kinds of session hold the same seeded history, far longer than the small window
the server is given, so every reply in a session with summaries on starts a fold in
the background (its request goes to the same upstream). The figure is how much slower
the first token is there than in the sessions with summaries off, interleaved.
"""

from __future__ import annotations

from contextlib import nullcontext

import httpx

from bench.fixtures import create_sessions, seed_history
from bench.procs import Server
from bench.report import Row, fmt, pct
from bench.scenarios import Stage, _first_token_pair

WINDOW = {"OPENAI_CONTEXT_WINDOW": "2048", "REPLY_RESERVE_TOKENS": "512"}


def summaries_on_off(stage: Stage, shared: Server | None = None) -> Row:
    """``shared``: a server already given :data:`WINDOW` (a smoke run's shared one)."""
    s = stage.sizes
    row = Row(10, "first-token time, summaries on vs. off (history past the window)", "within 10 %")
    with nullcontext(shared) if shared is not None else stage.serving(**WINDOW) as server:
        on = create_sessions(server.port, s.history_pairs)
        off = create_sessions(server.port, s.history_pairs)
        seed_history(stage.redis.url, on + off, s.summary_messages)
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            for sid in off:
                switched = client.put(
                    f"/api/v1/sessions/{sid}/summary/enabled", json={"enabled": False}
                )
                switched.raise_for_status()
        ratio, t_off, t_on = _first_token_pair(stage, server, off, on)
    row.runs = {"slower_pct": ratio, "off_ms": t_off, "on_ms": t_on}
    row.figure = f"{fmt(ratio, '%', 1)} slower"
    row.passed = pct(ratio, 50) <= 10
    row.note = (
        f"median first token {fmt(t_on, 'ms')} with summaries on (a fold running in the "
        f"background after each reply) vs. {fmt(t_off, 'ms')} off; {s.summary_messages} "
        "seeded messages, a 2,048-token window."
    )
    return row
