"""Run the benchmark and print the results table: ``python -m bench.run [--quick] [--only N]``.

A full run writes ``bench/results/latest.json`` and the table into
``bench/README.md``; ``--quick`` is a smoke run of every row at toy sizes (its
figures mean nothing) and writes only where ``--out`` says.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.fixtures import SharedRedis
from bench.local import local_model
from bench.procs import Upstream, supports_workers
from bench.report import BENCH_DIR, Row, machine, render, save, update_readme
from bench.scenarios import (
    QUICK,
    Sizes,
    Stage,
    added_ttft_poisson,
    added_ttft_serial,
    branched_history,
    concurrent_paced,
    cpu_per_token,
    long_history,
    memory_per_stream,
)
from bench.search import search_at_scale
from bench.summaries import WINDOW, summaries_on_off

TARGETS = {
    1: ("added time to first token, one stream at a time", "p50 ≤ 2 ms, p99 ≤ 5 ms"),
    2: ("same, 100 streams arriving at random (Poisson) times", "p99 ≤ 25 ms"),
    3: ("concurrent paced streams held", "≥ 500 (stretch 1,000)"),
    4: ("server CPU per relayed token", "≤ 50 µs"),
    5: ("first-token time, 10,000 stored messages vs. 10", "within 10 %"),
    6: ("memory per open stream", "≤ 50 KB"),
    7: ("local model through Parlour vs. direct", "tokens/s ratio ≥ 0.95"),
    8: ("first-token time, 2,000 messages with 50 side branches vs. linear", "within 10 %"),
    9: ("search, 100,000 messages in one account", "p50 ≤ 50 ms, p99 ≤ 200 ms, ≤ 5 ms a command"),
    10: ("first-token time, summaries on vs. off", "within 10 %"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run at toy sizes")
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=sorted(TARGETS),
        help="run only this row (repeatable)",
    )
    parser.add_argument("--repeats", type=int, help="runs per figure (default 3; quick 1)")
    parser.add_argument("--out", type=Path, help="where to write results (full run: bench/results)")
    return parser


def _guarded(row_number: int, fn: Callable[[], Row]) -> Row:
    """Run one scenario; a failure becomes a row saying so, and the run goes on."""
    started = time.monotonic()
    try:
        row = fn()
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        name, target = TARGETS[row_number]
        row = Row(row_number, name, target, figure=f"failed: {type(exc).__name__}: {exc}"[:300])
        row.passed = False
    row.detail["seconds"] = round(time.monotonic() - started, 1)
    print(f"  #{row.number}: {row.figure} [{row.detail['seconds']} s]", file=sys.stderr, flush=True)
    return row


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop every child process


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sizes: Sizes = QUICK if args.quick else Sizes()
    if args.repeats:
        sizes = Sizes(**{**sizes.__dict__, "repeats": args.repeats})
    if not supports_workers():
        print("parlour serve has no --workers: #3 runs with 1 worker", file=sys.stderr)
        sizes = Sizes(**{**sizes.__dict__, "paced_workers": 1})
    wanted = set(args.only or TARGETS)
    info = machine(sizes.paced_workers)
    started = time.monotonic()
    redis = SharedRedis()
    upstream = Upstream()
    stage = Stage(upstream, redis, sizes)
    rows: list[Row] = []
    try:
        # #1, #2, #5 and #8 are quiet, paced runs: one single-worker server serves them
        # (and, in a smoke run, #4 and #6 too).
        # A smoke run gives it #10's small window, so #10 shares it too.
        if wanted & {1, 2, 5, 8} or (args.quick and wanted & {4, 6, 10}):
            # #5's sessions hold HISTORY_MAX_MESSAGES' default already: room for its turns.
            room = {"HISTORY_MAX_MESSAGES": str(sizes.history_big * 2)}
            with stage.serving(**room, **(WINDOW if args.quick else {})) as server:
                stage.reuse = server if args.quick else None
                for n, fn in ((1, added_ttft_serial), (2, added_ttft_poisson), (5, long_history),
                              (8, branched_history)):  # fmt: skip
                    if n in wanted:
                        rows.append(_guarded(n, lambda fn=fn, s=server: fn(stage, s)))  # type: ignore[misc]
                for n, fn2 in ((4, cpu_per_token), (6, memory_per_stream)):
                    if args.quick and n in wanted:
                        rows.append(_guarded(n, lambda fn2=fn2: fn2(stage)))  # type: ignore[misc]
                if args.quick and 10 in wanted:
                    rows.append(_guarded(10, lambda s=server: summaries_on_off(stage, s)))
                stage.reuse = None
        for n, fn2 in (
            (3, concurrent_paced),
            (4, cpu_per_token),
            (6, memory_per_stream),
            (7, local_model),
            (9, search_at_scale),
            (10, summaries_on_off),
        ):
            if n in wanted and not (args.quick and n in (4, 6, 10)):
                rows.append(_guarded(n, lambda fn2=fn2: fn2(stage)))  # type: ignore[misc]
    finally:
        upstream.stop()
        redis.stop()
    rows.sort(key=lambda r: r.number)
    elapsed = time.monotonic() - started
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    info["workers_note"] = "1 worker, except #3 (`--workers` above)"
    text = render(rows, info, elapsed, args.quick)
    print(text)
    out = args.out or (None if args.quick else BENCH_DIR / "results")
    if out is not None:
        save(rows, info, elapsed, out)
    if not args.quick and args.only is None and args.out is None:
        update_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
