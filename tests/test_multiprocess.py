"""Several Parlour processes on one Redis behave as one service; faults lose nothing."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx
import pytest
from redis import Redis

from parlour.embedded import EmbeddedRedis
from parlour.store import Keys
from tests.conftest import PairFactory, make_settings
from tests.live import LiveServer, collect, seq, sse, text_of
from tests.processes import ServerProcess
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until

WORDS = [f"w{i} " for i in range(40)]


@pytest.fixture
def pair(server_pair: PairFactory) -> tuple[ServerProcess, ServerProcess]:
    return server_pair(OPENAI_MODEL="scripted-model", REPLY_LOCK_TTL_SECONDS="2",
                       HEARTBEAT_SECONDS="1")  # fmt: skip


def start_slow_reply(url: str, upstream: ScriptedUpstream, delay: float = 0.05) -> str:
    upstream.enqueue(Reply(WORDS, delay=delay))
    return str(httpx.post(f"{url}/api/v1/sessions", json={}).json()["id"])


def test_resume_on_another_process_gets_exactly_the_rest(
    pair: tuple[ServerProcess, ServerProcess], upstream: ScriptedUpstream
) -> None:
    a, b = pair
    sid = start_slow_reply(a.url, upstream)
    seen: list[str] = []
    with httpx.Client(timeout=30) as client:
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            for event in events:
                if event.event == "delta":
                    seen.append(event.json()["content"])
                    last = event.id
                    if len(seen) == 4:
                        break  # the client drops off A
        rest = collect(client, "GET", f"{b.url}/api/v1/sessions/{sid}/reply",
                       headers={"Last-Event-ID": last})  # fmt: skip
    assert "".join(seen) + text_of(rest) == "".join(WORDS)
    assert rest[-1].event == "done"
    items = httpx.get(f"{b.url}/api/v1/sessions/{sid}/messages").json()["items"]
    assert items[-1]["content"] == "".join(WORDS)


def test_a_second_tab_on_another_process_sees_the_same_reply_live(
    pair: tuple[ServerProcess, ServerProcess], upstream: ScriptedUpstream
) -> None:
    a, b = pair
    sid = start_slow_reply(a.url, upstream, delay=0.02)
    with httpx.Client(timeout=30) as client:
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            next(events)  # started
            watcher = collect(client, "GET", f"{b.url}/api/v1/sessions/{sid}/reply")
            original = list(events)
    assert text_of(watcher) == "".join(WORDS)
    assert text_of(original) == "".join(WORDS)  # the first tab kept streaming too


def test_stop_through_another_process(
    pair: tuple[ServerProcess, ServerProcess], upstream: ScriptedUpstream
) -> None:
    a, b = pair
    sid = start_slow_reply(a.url, upstream, delay=0.1)
    with httpx.Client(timeout=30) as client:
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            deltas = 0
            for event in events:
                if event.event == "delta":
                    deltas += 1
                    if deltas == 3:
                        stop = client.post(f"{b.url}/api/v1/sessions/{sid}/reply/stop")
                        assert stop.status_code == 202
                if event.event in ("done", "failure"):
                    final = event
                    break
    assert final.json()["finish_reason"] == "stopped"
    stored = httpx.get(f"{b.url}/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert stored["status"] == "partial"
    assert len(stored["content"].split()) < len(WORDS)


def test_a_killed_process_leaves_its_reply_marked_interrupted(
    pair: tuple[ServerProcess, ServerProcess], upstream: ScriptedUpstream
) -> None:
    a, b = pair
    sid = start_slow_reply(a.url, upstream, delay=0.1)
    with httpx.Client(timeout=30) as client:
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            rid = next(events).json()["reply_id"]
            for event in events:
                if event.event == "delta" and seq(event) == 5:
                    break
        # A has written event 5 to Redis once a reader on B can read it.
        with sse(client, "GET", f"{b.url}/api/v1/sessions/{sid}/reply",
                 params={"reply_id": rid}) as (_r, on_b):  # fmt: skip
            next(e for e in on_b if e.id and seq(e) >= 5)
        a.stop(signal.SIGKILL)
        watcher = collect(client, "GET", f"{b.url}/api/v1/sessions/{sid}/reply")
    assert watcher[-1].event == "failure"
    assert watcher[-1].json()["code"] == "reply_interrupted"
    stored = httpx.get(f"{b.url}/api/v1/sessions/{sid}/messages").json()["items"][-1]
    assert stored["status"] == "partial"
    assert stored["error"] == "reply_interrupted"
    assert stored["content"].startswith("w0 w1 w2 w3")
    # the session is usable again
    again = collect(httpx.Client(timeout=30), "POST", f"{b.url}/api/v1/sessions/{sid}/messages",
                    json={"content": "still there?"})  # fmt: skip
    assert again[-1].event == "done"


def test_sigterm_lets_short_replies_finish_and_stores_long_ones_as_partial(
    tmp_path: Path, redis: Redis, redis_url: str, upstream: ScriptedUpstream
) -> None:
    env = {"REDIS_URL": redis_url, "OPENAI_BASE_URL": upstream.url,
           "SHUTDOWN_GRACE_SECONDS": "2"}  # fmt: skip
    server = ServerProcess(env, tmp_path).wait_ready()
    short_sid = httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"]
    long_sid = httpx.post(f"{server.url}/api/v1/sessions", json={}).json()["id"]
    upstream.enqueue(Reply(["a ", "b ", "c"], delay=0.3), Reply(WORDS, delay=0.25))  # 1 s; 10 s
    with httpx.Client(timeout=30) as client:
        for sid in (short_sid, long_sid):
            # start each reply, then leave: replies do not depend on their connection
            with sse(client, "POST", f"{server.url}/api/v1/sessions/{sid}/messages",
                     json={"content": "go"}) as (_r, events):  # fmt: skip
                next(events)
    server.stop(signal.SIGTERM)
    assert "s for 2 running replies" in server.output()

    keys = Keys("parlour")

    def last(sid: str) -> dict[str, object]:  # the active branch's last message, as stored
        leaf = redis.lindex(keys.path(sid), -1)
        return dict(json.loads(redis.hget(keys.messages(sid), leaf)))

    assert last(short_sid)["status"] == "complete"
    assert last(short_sid)["content"] == "a b c"
    assert last(long_sid)["status"] == "partial"
    assert 0 < len(str(last(long_sid)["content"]).split()) < len(WORDS)


def test_redis_outage_gives_503_then_recovers(tmp_path: Path, upstream: ScriptedUpstream) -> None:
    own = EmbeddedRedis(tmp_path / "outage")
    url = own.start()
    server = LiveServer(
        make_settings(
            tmp_path,
            redis_url=url,
            openai_base_url=upstream.url,
            local_enabled=False,
            redis_socket_timeout=2.0,
        )
    ).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            sid = client.post("/api/v1/sessions", json={}).json()["id"]
            own.stop()
            down = client.get(f"/api/v1/sessions/{sid}")
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "storage_unavailable"
            assert "try again" in down.json()["detail"]
            assert client.post(f"/api/v1/sessions/{sid}/messages",
                               json={"content": "x"}).status_code == 503  # fmt: skip
            assert client.get("/readyz").status_code == 503

            own.start()  # same data directory: the AOF brings the session back
            wait_until(lambda: client.get(f"/api/v1/sessions/{sid}").status_code == 200,
                       what="recovery", ignore=(httpx.HTTPError,))  # fmt: skip
            assert collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                           json={"content": "back"})[-1].event == "done"  # fmt: skip
    finally:
        server.stop()
        own.stop()


def test_a_reader_on_another_process_survives_a_long_silence(
    server_pair: PairFactory, upstream: ScriptedUpstream
) -> None:
    # Default heartbeat (15 s) and a short Redis socket timeout: the reader's blocking
    # reads must still end inside it while the model says nothing for 3 s.
    a, b = server_pair(REDIS_SOCKET_TIMEOUT="1")
    upstream.enqueue(Reply(["late ", "but ", "complete"], first_delay=3))
    sid = httpx.post(f"{a.url}/api/v1/sessions", json={}).json()["id"]
    with httpx.Client(timeout=30) as client:
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "go"}) as (_r, events):  # fmt: skip
            next(events)
            watcher = collect(client, "GET", f"{b.url}/api/v1/sessions/{sid}/reply")
            list(events)
    assert text_of(watcher) == "late but complete"
    assert watcher[-1].event == "done"


def test_resuming_at_the_end_or_after_expiry_ends_at_once(
    server_pair: PairFactory, upstream: ScriptedUpstream
) -> None:
    a, b = server_pair(REPLY_STREAM_TTL_SECONDS="1")
    sid = httpx.post(f"{a.url}/api/v1/sessions", json={}).json()["id"]
    with httpx.Client(timeout=10) as client:
        events = collect(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                         json={"content": "hi"})  # fmt: skip
        rid, last = events[0].json()["reply_id"], events[-1].id
        url = f"{b.url}/api/v1/sessions/{sid}/reply"
        # At the end: 204, nothing to follow (an EventSource stops reconnecting).
        at_end = client.get(url, params={"reply_id": rid}, headers={"Last-Event-ID": last})
        assert (at_end.status_code, at_end.content) == (204, b"")
        # From the start, while its events are kept, it is told again, up to `done`.
        replay = client.get(url, params={"reply_id": rid})
        if replay.status_code == 200:  # (unless its second of life has already passed)
            assert replay.text.rstrip().split("\n")[-1] == f"id: {last}"
        # Once they expire, the same: 204 (its text is in the conversation).
        wait_until(lambda: client.get(url, params={"reply_id": rid}).status_code == 204,
                   what="the finished reply's events to expire")  # fmt: skip


def test_a_model_refresh_asked_of_one_process_is_done_by_every_process(
    server_pair: PairFactory, upstream: ScriptedUpstream
) -> None:
    upstream.models = [{"id": "scripted-model"}]
    a, b = server_pair(OPENAI_MODEL="scripted-model", MODELS_REFRESH_SECONDS="0")

    def ids(url: str) -> list[str]:
        return [m["id"] for m in httpx.get(f"{url}/api/v1/models").json()["models"]]

    wait_until(lambda: upstream.models_asked >= 2, what="each process's first discovery")
    upstream.models = [{"id": "scripted-model"}, {"id": "new-model"}]
    assert ids(b.url) == ["scripted-model"]  # no schedule: nothing is read again unasked
    refreshed = httpx.post(f"{a.url}/api/v1/models/refresh")  # the single user is the admin
    assert refreshed.status_code == 200, refreshed.text
    assert ids(a.url) == ["scripted-model", "new-model"]
    wait_until(lambda: ids(b.url) == ["scripted-model", "new-model"], timeout=10,
               what="the other process's list refreshed")  # fmt: skip
