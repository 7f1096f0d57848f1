"""``parlour serve`` as real processes: workers log like the single process, die with
their supervisor, and a stop signal ends every reply stream with a final event."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from parlour.store import Keys
from tests.live import collect, sse, text_of
from tests.processes import ServerProcess, stored_last
from tests.test_upstream_faults import Event, read_reply, wait_for
from tests.upstream import Reply, ScriptedUpstream

WORDS = [f"w{i} " for i in range(40)]


@pytest.fixture
def env(redis: Redis, redis_url: str, upstream: ScriptedUpstream) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "OPENAI_BASE_URL": upstream.url, "HEARTBEAT_SECONDS": "1"}


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def leftovers() -> Iterator[list[int]]:
    """Processes a test started indirectly, killed afterwards if they outlived it."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", [("--workers", "2"), ("--reload",)], ids=["workers", "reload"])
def test_workers_log_json_lines_with_request_ids(
    env: dict[str, str], tmp_path: Path, mode: tuple[str, ...]
) -> None:
    server = ServerProcess({**env, "LOG_FORMAT": "json"}, tmp_path, *mode)
    try:
        server.wait_ready(timeout=90)
        probes = {f"probe-{i}" for i in range(8)}
        for rid in probes:
            got = httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": rid})
            assert got.headers["x-request-id"] == rid

        def logged() -> set[str]:
            ids = set()
            for line in server.output().splitlines():
                if any(p in line for p in probes):
                    record = json.loads(line)  # every line about a request is JSON
                    ids.add(record["request_id"])
            return ids

        wait_for(lambda: logged() == probes)
    finally:
        server.stop()


@pytest.mark.timeout(300)
def test_killing_the_supervisor_takes_its_workers_down_and_frees_the_port(
    env: dict[str, str], tmp_path: Path, leftovers: list[int]
) -> None:
    first = ServerProcess(env, tmp_path, "--workers", "2")
    try:
        first.wait_ready(timeout=90)
        workers = wait_for(lambda: len(kids := children(first.proc.pid)) >= 2 and kids)
        leftovers.extend(workers)
        first.stop(signal.SIGKILL)
        wait_for(lambda: not any(alive(pid) for pid in workers), within=30)
    finally:
        first.stop()
    second = ServerProcess(env, tmp_path, "--workers", "2", port=first.port)
    try:
        second.wait_ready(timeout=90)
        assert httpx.get(f"{second.url}/healthz").status_code == 200
    finally:
        second.stop()


@pytest.mark.timeout(300)
def test_sigkill_of_the_worker_writing_a_reply_loses_nothing_under_workers(
    env: dict[str, str], tmp_path: Path, redis: Redis, upstream: ScriptedUpstream,
    leftovers: list[int],
) -> None:  # fmt: skip
    upstream.enqueue(Reply(WORDS, delay=0.1), Reply(["still ", "here"]))
    server = ServerProcess({**env, "REPLY_LOCK_TTL_SECONDS": "3"}, tmp_path, "--workers", "2")
    try:
        server.wait_ready(timeout=90)
        leftovers.extend(wait_for(lambda: len(kids := children(server.proc.pid)) >= 2 and kids))
        url = server.url
        sid = httpx.post(f"{url}/api/v1/sessions", json={}).json()["id"]
        seen: list[str] = []
        with httpx.Client(timeout=60) as client:
            with sse(client, "POST", f"{url}/api/v1/sessions/{sid}/messages",
                     json={"content": "go"}) as (_r, events):  # fmt: skip
                rid = next(events).json()["reply_id"]
                for event in events:
                    if event.event == "delta":
                        seen.append(event.json()["content"])
                        last = event.id
                        if len(seen) == 5:
                            break
            worker = str(redis.hget(Keys("parlour").reply(sid, rid), "worker"))
            os.kill(int(worker.split("-")[0]), signal.SIGKILL)  # the worker writing it
            # The other worker (or the one started in its place) ends the reply.
            rest = collect(client, "GET", f"{url}/api/v1/sessions/{sid}/reply",
                           headers={"Last-Event-ID": last})  # fmt: skip
            assert rest[-1].event == "failure"
            assert rest[-1].json()["code"] == "reply_interrupted"
            stored: dict[str, Any] = stored_last(redis, sid)
            assert (stored["status"], stored["error"]) == ("partial", "reply_interrupted")
            assert stored["content"] == "".join(seen) + text_of(rest)  # what the reader saw
            assert 0 < len(stored["content"].split()) < len(WORDS)
            again = collect(client, "POST", f"{url}/api/v1/sessions/{sid}/messages",
                            json={"content": "and now?"})  # fmt: skip
        assert again[-1].event == "done"
        assert text_of(again) == "still here"
    finally:
        server.stop()


@pytest.mark.timeout(300)
def test_sigterm_with_twenty_replies_hands_them_over_with_a_final_event(
    env: dict[str, str], tmp_path: Path, redis: Redis, upstream: ScriptedUpstream
) -> None:
    count = 20
    upstream.enqueue(*[Reply(WORDS, delay=0.5) for _ in range(count)])  # 20 s each
    server = ServerProcess({**env, "SHUTDOWN_GRACE_SECONDS": "6"}, tmp_path).wait_ready(timeout=90)
    try:
        sids = [
            httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"] for _ in range(count)
        ]
        seen: dict[str, list[Event]] = {sid: [] for sid in sids}
        results: dict[str, list[Event]] = {}

        def read(sid: str) -> None:
            with httpx.Client(timeout=60) as client:
                url = f"{server.url}/api/v1/sessions/{sid}/messages"
                results[sid] = read_reply(client, "POST", url, within=60, json={"content": "go"},
                                          seen=seen[sid])  # fmt: skip

        readers = [threading.Thread(target=read, args=(sid,)) for sid in sids]
        for reader in readers:
            reader.start()
        wait_for(lambda: all(any(n == "delta" for n, _ in seen[s]) for s in sids), within=30)
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(timeout=60)
        for reader in readers:
            reader.join(timeout=30)
    finally:
        server.stop()
    assert code == 0
    assert " ERROR " not in server.output()
    for sid in sids:
        events = results[sid]
        name, data = events[-1]
        assert (name, data["code"]) == ("failure", "reply_interrupted")
        assert "send your message again" in data["message"]
        stored: dict[str, Any] = stored_last(redis, sid)
        assert stored["id"] == data["message_id"]
        assert (stored["status"], stored["error"]) == ("partial", "reply_interrupted")
        assert stored["content"] == "".join(d["content"] for n, d in events if n == "delta")
        assert 0 < len(stored["content"].split()) < len(WORDS)
    assert not any(redis.exists(Keys("parlour").session_reply(sid)) for sid in sids)  # all free
