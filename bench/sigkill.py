"""SIGKILL of the process writing a reply: how long its conversation stays busy, and what
its readers were shown against what was stored.

``python -m bench.sigkill [--rounds 6]``: two ``parlour serve`` processes on one Redis
(the shipped ``REPLY_LOCK_TTL_SECONDS``). Each round, one of them writes a long reply
followed by two readers: the sender's own stream on the writing process, and a tab on
the other process following it from the start. After a random number of deltas the
writer is killed. The sender then resumes with ``Last-Event-ID`` alone on the other
process, while a third client sends a new message there every 0.2 s until one is taken.
Measured: kill → the conversation takes a new message (bound: the lock TTL), kill → each
reader's final event; checked: both readers got a final ``reply_interrupted`` naming the
stored message, and the stored text equals what each reader assembled.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.fixtures import SharedRedis
from bench.procs import Upstream
from bench.soak import SoakServer, default_lock_ttl, server_env
from bench.soakclient import Broken, Seen, events

LONG = "[pace 50ms x 4000]"  # far longer than any round


@dataclass
class Round:
    writer: str
    deltas_at_kill: int
    free_after: float = 0.0  # kill -> a new message taken
    finals_after: list[float] = field(default_factory=list)
    refused: int = 0  # new messages refused (409) meanwhile
    problems: list[str] = field(default_factory=list)


def _read(http: httpx.Client, method: str, url: str, seen: Seen, **kw: Any) -> bool:
    """Read a reply stream into ``seen``; True once its final event came."""
    try:
        with http.stream(method, url, **kw) as r:
            if r.status_code != 200:
                r.read()
                seen.problems.append(f"{method} {url} answered {r.status_code}: {r.text[:200]}")
                return False
            give_up = time.monotonic() + 300
            for event in events(r):
                if time.monotonic() > give_up:
                    seen.problems.append("no final event after 300 s")
                    return True
                if not event.name:
                    continue
                seen.last_id = event.id
                if event.name == "start":
                    seen.reply_id = str(event.data["reply_id"])
                elif event.name == "delta":
                    seen.text += str(event.data["content"])
                elif event.name in ("done", "failure"):
                    seen.final, seen.final_data, seen.ended = (
                        event.name,
                        event.data,
                        time.monotonic(),
                    )
                    return True
            raise Broken
    except (httpx.TransportError, Broken):
        return False


def _until_final(http: httpx.Client, url: str, seen: Seen, patience: float) -> None:
    """Resume with Last-Event-ID alone until the final event (bounded)."""
    deadline = time.monotonic() + patience
    while not seen.final and time.monotonic() < deadline:
        seen.resumes += 1
        if _read(http, "GET", f"{url}/api/v1/sessions/{seen.sid}/reply",
                 seen, headers={"Last-Event-ID": seen.last_id}):  # fmt: skip
            return
        time.sleep(0.2)
    if not seen.final:
        seen.problems.append("no final event")


def one_round(writer: SoakServer, other: SoakServer, deltas: int, lock_ttl: int) -> Round:
    result = Round(writer.name, deltas)
    patience = 4 * lock_ttl + 30
    timeout = httpx.Timeout(60.0, connect=5.0)
    with (
        httpx.Client(timeout=timeout) as http,
        httpx.Client(timeout=timeout) as own,
        httpx.Client(timeout=timeout) as tabs,
    ):
        sid = str(http.post(f"{writer.url}/api/v1/sessions", json={}).json()["id"])
        sender, tab = Seen(0, sid, "send"), Seen(1, sid, "follow")
        got_deltas = threading.Event()

        def send() -> None:
            # The sender's own stream, on the writer, until it is cut by the kill.
            url = f"{writer.url}/api/v1/sessions/{sid}/messages"
            try:
                with own.stream("POST", url, json={"content": f"tell me {LONG}"}) as r:
                    for event in events(r):
                        if not event.name:
                            continue
                        sender.last_id = event.id
                        if event.name == "start":
                            sender.reply_id = str(event.data["reply_id"])
                        elif event.name == "delta":
                            sender.text += str(event.data["content"])
                            if sender.text.count(" ") >= deltas:
                                got_deltas.set()
                        elif event.name in ("done", "failure"):
                            sender.final, sender.final_data = event.name, event.data
                            sender.ended = time.monotonic()
                            return
            except httpx.TransportError:
                pass
            _until_final(own, other.url, sender, patience)

        first = threading.Thread(target=send)
        first.start()
        if not got_deltas.wait(60):
            raise RuntimeError("the reply did not start")
        follow = threading.Thread(
            target=lambda: _read(
                tabs,
                "GET",
                f"{other.url}/api/v1/sessions/{sid}/reply",
                tab,
                params={"reply_id": sender.reply_id},
            )
        )
        follow.start()
        while not tab.text and follow.is_alive():
            time.sleep(0.01)
        killed = time.monotonic()
        writer.kill()
        while time.monotonic() < killed + patience:
            with http.stream("POST", f"{other.url}/api/v1/sessions/{sid}/messages",
                             json={"content": "again [pace 10ms x 3]"}) as r:  # fmt: skip
                r.read()
                if r.status_code == 200:
                    result.free_after = time.monotonic() - killed
                    break
                if r.status_code != 409:
                    result.problems.append(f"a new message answered {r.status_code}")
                    break
                result.refused += 1
            time.sleep(0.2)
        first.join(patience)
        follow.join(patience)
        if not tab.final:
            _until_final(http, other.url, tab, patience)
        stored = {
            m["id"]: m
            for m in http.get(f"{other.url}/api/v1/sessions/{sid}/messages").json()["items"]
        }
        message = stored.get(sender.reply_id)
        for who, seen in (("the sender (resumed on the other process)", sender),
                          ("a tab on the other process", tab)):  # fmt: skip
            result.problems += [f"{who}: {p}" for p in seen.problems]
            if seen.ended:
                result.finals_after.append(seen.ended - killed)
            if seen.final_data.get("code") != "reply_interrupted":
                result.problems.append(f"{who}: final event {seen.final} {seen.final_data}")
            if seen.final_data.get("message_id") != sender.reply_id:
                result.problems.append(
                    f"{who}: final event names {seen.final_data.get('message_id')}"
                )
            if message is None:
                result.problems.append("the interrupted reply was not stored")
            elif message["content"] != seen.text:
                result.problems.append(
                    f"{who} saw {len(seen.text)} characters, {len(message['content'])} stored: "
                    f"{seen.text[-40:]!r} vs {message['content'][-40:]!r}"
                )
        if not result.free_after:
            result.problems.append(f"the conversation took no new message in {patience} s")
    writer.start()
    return result


def run(rounds: int, seed: int = 7) -> tuple[int, list[Round]]:
    lock_ttl = default_lock_ttl()
    rng = random.Random(seed)
    redis = SharedRedis()
    upstream = Upstream()
    env = server_env(redis.url, upstream.base_url, lock_ttl)
    servers = [SoakServer("A", env), SoakServer("B", env)]
    try:
        for s in servers:
            s.start()
        out = [one_round(servers[i % 2], servers[(i + 1) % 2], rng.randint(3, 60), lock_ttl)
               for i in range(rounds)]  # fmt: skip
        return lock_ttl, out
    finally:
        for s in servers:
            s.stop()
        upstream.stop()
        if upstream.proc.stdout is not None:
            upstream.proc.stdout.close()
        redis.stop()


def summarize(lock_ttl: int, rounds: list[Round]) -> str:
    free = [r.free_after for r in rounds if r.free_after]
    finals = [f for r in rounds for f in r.finals_after]
    lines = [
        f"SIGKILL of the writing process, {len(rounds)} rounds, REPLY_LOCK_TTL_SECONDS={lock_ttl}:"
    ]
    for r in rounds:
        lines.append(
            f"  killed {r.writer} after ~{r.deltas_at_kill} words: new message taken after "
            f"{r.free_after:.1f} s ({r.refused} refused with 409), final events after "
            + ", ".join(f"{f:.1f} s" for f in r.finals_after)
        )
    if free:
        lines.append(f"  new message taken: {min(free):.1f}–{max(free):.1f} s, median "
                     f"{statistics.median(free):.1f} s (bound {lock_ttl} s)")  # fmt: skip
    if finals:
        lines.append(
            f"  readers' final event: {min(finals):.1f}–{max(finals):.1f} s after the kill"
        )
    problems = [p for r in rounds for p in r.problems]
    late = [f for f in free if f > lock_ttl]
    problems += [f"a conversation was busy {f:.1f} s, past the lock TTL" for f in late]
    lines += [f"  PROBLEM: {p}" for p in problems] or [
        "  every reader got a final event and saw what was stored"
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    lock_ttl, rounds = run(args.rounds)
    text = summarize(lock_ttl, rounds)
    print(text)
    return 1 if "PROBLEM" in text else 0


if __name__ == "__main__":
    sys.exit(main())
