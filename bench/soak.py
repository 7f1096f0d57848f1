"""A soak: two Parlour processes on one Redis, clients doing everything at random, a SIGKILL
of each process along the way, and at the end every conversation checked.

``python -m bench.soak --minutes 10 --clients 20`` starts the bundled redis-server, the
bench upstream and two ``parlour serve`` processes, then runs ``--clients`` client
threads, each on its own conversations: send and read to the end; send, hang up after a
few deltas and resume with ``Last-Event-ID`` alone on either server; send, stop, read to
the end; regenerate; edit. Server A is killed (SIGKILL) at a third of the run and server B
at two thirds, each restarted at once on its port. Then it checks every conversation
(bench/soakcheck.py), deletes them all through the API and lists the Redis keys left
without a TTL. It prints a summary and exits 1 on any inconsistency.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from redis import Redis

from bench.fixtures import SharedRedis
from bench.procs import ROOT, BenchError, Upstream, free_port
from bench.soakcheck import check_conversation, untimed_keys
from bench.soakclient import Client, Seen, Servers
from parlour.config import Settings

PREFIX = "parlour"


def default_lock_ttl() -> int:
    """``REPLY_LOCK_TTL_SECONDS`` as shipped (the bound a killed reply is held to)."""
    return int(Settings.model_fields["reply_lock_ttl_seconds"].default)


class SoakServer:
    """``parlour serve`` on a fixed port, so that it can be killed and started again there."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = Path(tempfile.mkdtemp(prefix=f"parlour-soak-{name}-"))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_"))}
        self.env = {**base, "DATA_DIR": str(self.dir), "LOCAL_ENABLED": "false",
                    "LOG_LEVEL": "WARNING", **env}  # fmt: skip
        self.incarnation = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        self.incarnation += 1
        log = (self.dir / f"server-{self.incarnation}.log").open("wb")
        args = [sys.executable, "-m", "parlour", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(args, cwd=self.dir, env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.name} exited at start:\n{self.logs()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise BenchError(f"{self.name} was not ready in {timeout} s")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def rss(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            return int(psutil.Process(self.proc.pid).memory_info().rss)
        except psutil.NoSuchProcess:
            return None

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.dir.glob("*.log")))

    def error_lines(self) -> list[str]:
        return [
            line for line in self.logs().splitlines() if " ERROR " in line or "Traceback" in line
        ]


@dataclass
class Kill:
    server: str
    url: str
    at: float  # time.monotonic()
    restarted_after: float = 0.0


@dataclass
class SoakResult:
    seconds: float
    clients: int
    replies: list[Seen]
    conversations: int
    unseen_interrupted: int
    kills: list[Kill]
    rss: dict[str, list[tuple[float, int]]]  # "A1" -> (seconds since start, bytes)
    documented_keys: list[str]
    untimed_keys: list[str]
    timed_keys: int
    client_errors: list[str]
    retries: int
    log_errors: dict[str, list[str]]
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return summarize(self)


def server_env(redis_url: str, upstream: str, lock_ttl: int) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "OPENAI_BASE_URL": upstream,
        "OPENAI_MODEL": "bench",
        "REPLY_LOCK_TTL_SECONDS": str(lock_ttl),
        # Every client acts as the one local user: its stream cap fits them all.
        "MAX_FOLLOWERS_PER_USER": "500",
    }


def run_soak(
    seconds: float,
    clients: int,
    *,
    seed: int = 1,
    lock_ttl: int | None = None,
    patience: float | None = None,
) -> SoakResult:
    """Run the soak for ``seconds`` with ``clients`` client threads; check what is left."""
    lock_ttl = lock_ttl or default_lock_ttl()
    redis = SharedRedis()
    upstream = Upstream()
    env = server_env(redis.url, upstream.base_url, lock_ttl)
    servers = [SoakServer("A", env), SoakServer("B", env)]
    try:
        for s in servers:
            s.start()
        # Past a kill, the reaper closes a dead process's reply within the lock TTL.
        patience = patience or max(150.0, 4 * lock_ttl)
        return _drive(servers, redis.url, seconds, clients, seed, lock_ttl, patience)
    finally:
        for s in servers:
            s.stop()
        upstream.stop()
        if upstream.proc.stdout is not None:
            upstream.proc.stdout.close()
        redis.stop()


def _drive(
    servers: list[SoakServer], redis_url: str, seconds: float, clients: int, seed: int,
    lock_ttl: int, patience: float,
) -> SoakResult:  # fmt: skip
    seen: list[Seen] = []
    lock = threading.Lock()

    def record(s: Seen) -> None:
        with lock:
            seen.append(s)

    stop = threading.Event()
    urls = Servers([s.url for s in servers])
    workers = [Client(i, urls, record, stop, seed=seed * 1000 + i, patience=patience)
               for i in range(clients)]  # fmt: skip
    threads = [threading.Thread(target=w.run, name=f"client-{i}") for i, w in enumerate(workers)]
    rss: dict[str, list[tuple[float, int]]] = {}
    began = time.monotonic()

    def sample() -> None:
        while not stop.wait(2.0):
            for s in servers:
                value = s.rss()
                if value is not None:
                    rss.setdefault(f"{s.name}{s.incarnation}", []).append(
                        (time.monotonic() - began, value)
                    )

    sampler = threading.Thread(target=sample, name="rss")
    sampler.start()
    for t in threads:
        t.start()
    kills: list[Kill] = []
    try:
        for s, share in zip(servers, (1 / 3, 2 / 3), strict=True):
            if stop.wait(max(0.0, began + seconds * share - time.monotonic())):
                break
            kill = Kill(s.name, s.url, time.monotonic())
            s.kill()
            s.start()
            kill.restarted_after = time.monotonic() - kill.at
            kills.append(kill)
        stop.wait(max(0.0, began + seconds - time.monotonic()))
    finally:
        stop.set()
        ending = time.monotonic() + 2 * patience
        for t in threads:
            t.join(timeout=max(0.0, ending - time.monotonic()))
        sampler.join(timeout=30)
    elapsed = time.monotonic() - began
    with Redis.from_url(redis_url) as r, httpx.Client(base_url=servers[0].url, timeout=60) as http:
        problems = [f"client {t.name} did not finish" for t in threads if t.is_alive()]
        problems += _wait_quiet(r, lock_ttl)
        sessions = [sid for w in workers for sid in w.sessions]
        by_sid: dict[str, list[Seen]] = {}
        for s in seen:
            by_sid.setdefault(s.sid, []).append(s)
            if s.problems and s.reply_id:
                s.problems.append(_as_stored(r, s))
            problems += [
                f"{s.sid}: reply {s.reply_id or '?'} ({s.action}): {p}" for p in s.problems
            ]
        unseen = 0
        for sid in sessions:
            export = http.get(f"/api/v1/sessions/{sid}/export", params={"format": "json"})
            if export.status_code != 200:
                problems.append(f"{sid}: export answered {export.status_code}")
                continue
            found, count = check_conversation(sid, export.json(), by_sid.get(sid, []))
            problems += found
            unseen += count
        for sid in sessions:
            gone = http.delete(f"/api/v1/sessions/{sid}")
            if gone.status_code != 204:
                problems.append(f"{sid}: delete answered {gone.status_code}")
        documented, others, timed = untimed_keys(r, PREFIX)
        problems += [f"a key without a TTL is left: {k}" for k in others]
    return SoakResult(
        seconds=elapsed,
        clients=clients,
        replies=seen,
        conversations=len(sessions),
        unseen_interrupted=unseen,
        kills=kills,
        rss=rss,
        documented_keys=documented,
        untimed_keys=others,
        timed_keys=timed,
        client_errors=[e for w in workers for e in w.errors],
        retries=sum(w.retries for w in workers),
        log_errors={s.name: s.error_lines() for s in servers},
        problems=problems + [f"client error: {e}" for w in workers for e in w.errors],
    )


def _as_stored(r: Redis, s: Seen) -> str:
    """What Redis holds of a reply (for a problem's report)."""
    facts = r.hgetall(f"{PREFIX}:c:{{{s.sid}}}:reply:{s.reply_id}")
    entries = r.xrange(f"{PREFIX}:c:{{{s.sid}}}:reply:{s.reply_id}:events")
    last = entries[-1][1][b"b"][-120:] if entries else b""
    stored = r.hget(f"{PREFIX}:c:{{{s.sid}}}:msgs", s.reply_id) or b""
    return (
        f"stored as: status {facts.get(b'status')}, writer {s.writer}, {len(entries)} journal "
        f"batches ending {last!r}; message {stored[:300]!r}; last id seen {s.last_id}"
    )


def _wait_quiet(r: Redis, lock_ttl: int) -> list[str]:
    """Wait until no reply runs (a killed one is closed by the reaper within the lock TTL)."""
    deadline = time.monotonic() + 4 * lock_ttl + 30
    while time.monotonic() < deadline:
        running = r.zcard(f"{PREFIX}:replies:running")
        locks = list(r.scan_iter(match=f"{PREFIX}:c:{{*}}:reply", count=1000))
        if not running and not locks:
            return []
        time.sleep(0.5)
    return [f"replies still running at the end: {r.zrange(f'{PREFIX}:replies:running', 0, -1)}"]


# --- the summary ------------------------------------------------------------------


def rss_trend(samples: list[tuple[float, int]]) -> tuple[float, float] | None:
    """Median RSS (MB) of the first and the last quarter of a process's samples."""
    if len(samples) < 8:
        return None
    quarter = len(samples) // 4
    first = statistics.median(v for _t, v in samples[:quarter])
    last = statistics.median(v for _t, v in samples[-quarter:])
    return first / 2**20, last / 2**20


def after_kill(result: SoakResult) -> list[float]:
    """Seconds from each kill to the final event of the replies its process was writing."""
    out: list[float] = []
    for kill in result.kills:
        for s in result.replies:
            cut = s.writer == kill.url and s.started < kill.at < (s.ended or float("inf"))
            if cut and s.ended and s.final_data.get("code") == "reply_interrupted":
                out.append(s.ended - kill.at)
    return sorted(out)


def summarize(result: SoakResult) -> str:
    replies = result.replies
    actions: dict[str, int] = {}
    for s in replies:
        actions[s.action] = actions.get(s.action, 0) + 1
    interrupted = [s for s in replies if s.final_data.get("code") == "reply_interrupted"]
    stopped = [s for s in replies if s.final_data.get("finish_reason") == "stopped"]
    lines = [
        f"soak: {result.seconds:.0f} s, {result.clients} clients, {len(replies)} replies in "
        f"{result.conversations} conversations ("
        + ", ".join(f"{k} {v}" for k, v in sorted(actions.items()))
        + ")",
        f"  resumes {sum(s.resumes for s in replies)}, stopped {len(stopped)}, "
        f"interrupted by a kill {len(interrupted)} (+{result.unseen_interrupted} no client "
        f"saw start), requests tried again {result.retries}",
    ]
    waits = after_kill(result)
    for kill in result.kills:
        cut = [r for r in replies if r.writer == kill.url and r.started < kill.at
               and (r.ended or float("inf")) > kill.at]  # fmt: skip
        ends = sorted(
            {str(r.final_data.get("code") or r.final_data.get("finish_reason")) for r in cut}
        )
        lines.append(f"  SIGKILL {kill.server}: {len(cut)} of its replies in flight (ended: "
                     f"{', '.join(ends) or '-'})")  # fmt: skip
        lines.append(
            f"  SIGKILL {kill.server}: restarted and ready after {kill.restarted_after:.1f} s"
        )
    if waits:
        lines.append(
            f"  replies cut by a kill: final event {min(waits):.1f}–{max(waits):.1f} s after it "
            f"(median {statistics.median(waits):.1f} s, {len(waits)} replies)"
        )
    for name, samples in sorted(result.rss.items()):
        trend = rss_trend(samples)
        if trend:
            span = samples[-1][0] - samples[0][0]
            lines.append(f"  RSS {name} ({span:.0f} s): first quarter {trend[0]:.1f} MB, "
                         f"last quarter {trend[1]:.1f} MB")  # fmt: skip
    lines.append(
        f"  Redis after deleting every conversation: {result.timed_keys} keys with a TTL; "
        f"without one: {len(result.documented_keys)} documented "
        f"({', '.join(_key_kinds(result.documented_keys)) or 'none'}), "
        f"{len(result.untimed_keys)} others"
    )
    for name, errors in result.log_errors.items():
        if errors:
            lines.append(
                f"  server {name} logged {len(errors)} ERROR lines, e.g. {errors[0][:200]}"
            )
    if result.problems:
        lines.append(f"  INCONSISTENT: {len(result.problems)} problems")
        lines += [f"    - {p}" for p in result.problems[:50]]
    else:
        lines.append("  consistent: every check held")
    return "\n".join(lines)


def _key_kinds(keys: list[str]) -> list[str]:
    kinds: dict[str, int] = {}
    for key in keys:
        kind = key.split(":s:t:")[0] + ":s:t:*" if ":s:t:" in key else key
        kinds[kind] = kinds.get(kind, 0) + 1
    return [f"{k} ×{n}" if n > 1 else k for k, n in sorted(kinds.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patience", type=float, default=None,
                        help="seconds a client waits for a reply's end (default 150)")  # fmt: skip
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    result = run_soak(args.minutes * 60, args.clients, seed=args.seed, patience=args.patience)
    print(result.summary())
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
