"""Prometheus metrics. Safe with several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment (``parlour serve
--workers N`` sets it), prometheus-client keeps each process's values in files
there and ``/metrics`` adds them up; otherwise each app has its own registry.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _multiprocess() -> bool:
    return bool(values.ValueClass.__name__ != "MutexValue")


class Metrics:
    def __init__(self) -> None:
        # In multiprocess mode the values live in files; a private registry avoids
        # registering the same names twice when several apps share a process (tests).
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "parlour_http_requests", "HTTP requests by route and status",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.first_token = Histogram(
            "parlour_time_to_first_token_seconds", "From message received to first delta",
            buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.reply_duration = Histogram(
            "parlour_reply_duration_seconds", "From message received to reply stored",
            buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.deltas = Counter(
            "parlour_deltas_relayed", "Text deltas relayed from the model", registry=r
        )
        self.tokens = Counter(
            "parlour_completion_tokens",
            "Tokens the model wrote: its reported usage, else counted with its tokenizer",
            registry=r,
        )
        self.active = Gauge(
            "parlour_active_replies", "Replies being generated", registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.upstream_errors = Counter(
            "parlour_upstream_errors", "Model failures by kind", ["kind"], registry=r
        )
        self.redis_latency = Histogram(
            "parlour_redis_latency_seconds", "Redis round trip (PING)", buckets=_LATENCY,
            registry=r,
        )  # fmt: skip

    def expose(self) -> bytes:
        if _multiprocess():
            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            return generate_latest(merged)
        return generate_latest(self.registry)


class Timer:
    """Seconds since it was made."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
