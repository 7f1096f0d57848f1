"""Parlour on a real 3-master Redis Cluster (REDIS_CLUSTER=true).

The fixtures below replace the suite's single server with the cluster for every test in
this module, so the scenarios imported from the other test files run here unchanged:
each script, pipeline and transaction they drive would fail with CROSSSLOT (or redis-py's
CrossSlotTransactionError) if it touched keys of more than one slot.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.cluster import RedisCluster

from parlour.cluster import ClusterUrlError, open_cluster, parse_cluster_url
from parlour.domain import Message, new_id, now
from parlour.store import Keys
from parlour.store.search import Filters, SearchIndex
from tests.accounts import SECRET_KEY, signed_in, signed_up
from tests.aio import run_async
from tests.cluster import LocalCluster
from tests.conftest import PairFactory, ServerFactory, make_settings
from tests.live import LiveServer, collect, sse, text_of
from tests.processes import free_port

# The suite's scenarios, run here against the cluster (pytest collects them again).
from tests.test_branches import (  # noqa: F401
    test_a_reload_sees_the_branch_another_tab_chose,
    test_deleting_a_branch_shows_its_sibling_and_keeps_the_rest,
    test_editing_an_earlier_message_keeps_the_old_one_and_its_replies,
    test_exports_hold_the_tree_as_json_and_the_branch_as_markdown,
    test_regenerating_makes_a_sibling_reply_and_both_can_be_shown,
    test_switching_deleting_and_clearing_wait_for_a_running_reply,
    test_switching_to_a_version_shows_its_newest_leaf,
    test_the_tutorial_history_is_the_active_branch,
)
from tests.test_import import (  # noqa: F401
    test_a_chatgpt_zip_keeps_titles_times_and_branches,
    test_imported_messages_are_found_by_search,
    test_importing_the_same_file_twice_adds_nothing,
)
from tests.test_import_limits import (  # noqa: F401
    test_deep_nesting_fails_the_import_and_keeps_nothing,
)
from tests.test_import_parlour import test_export_then_import_gives_the_same_tree  # noqa: F401
from tests.test_isolation import test_isolation_matrix  # noqa: F401
from tests.test_limits import (  # noqa: F401
    pair,
    test_concurrent_replies_per_user,
    test_daily_token_quota,
    test_message_rate_holds_across_processes,
)
from tests.test_organise import (  # noqa: F401
    test_a_clear_can_be_undone_until_new_messages,
    test_another_users_conversations_cannot_be_organised,
    test_bulk_archive_move_and_delete,
    test_delete_goes_to_the_trash_and_comes_back_as_it_was,
    test_folders_hold_conversations_and_deleting_one_keeps_them,
    test_pinned_come_first_and_archived_leave_the_list_but_not_search,
)
from tests.test_personas import (  # noqa: F401
    test_a_persona_of_your_own_is_made_used_changed_and_deleted,
    test_personas_are_private_and_an_admin_can_publish_one,
)
from tests.test_replies import (  # noqa: F401
    test_a_second_message_while_replying_is_refused_with_409,
    test_cut_off_mid_stream_stores_the_partial_reply,
    test_deleting_the_conversation_mid_reply_stores_nothing,
    test_resume_after_last_event_id_gets_exactly_the_rest,
    test_stop_keeps_the_partial_text,
)
from tests.test_search import (  # noqa: F401
    test_a_deleted_conversation_or_branch_is_gone_at_once,
    test_chinese_english_prefix_case_and_code,
    test_messages_stored_before_the_index_existed_are_backfilled,
)
from tests.test_sessions_api import (  # noqa: F401
    test_messages_oldest_first_paginated_and_cleared,
    test_session_lifecycle,
    test_sessions_are_listed_newest_activity_first_and_paginated,
)
from tests.test_tutorial_api import test_a_full_tutorial_conversation  # noqa: F401
from tests.upstream import Reply, ScriptedUpstream

WORDS = [f"w{i} " for i in range(40)]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    running = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield running
    running.stop()


@pytest.fixture
def redis_url(cluster: LocalCluster) -> str:
    return cluster.url


@pytest.fixture
def redis(cluster: LocalCluster) -> Iterator[RedisCluster]:
    """A client on the cluster, emptied (every master) before each test."""
    client = cluster.client()
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    client.close()


@pytest.fixture
def make_server(make_server: ServerFactory) -> ServerFactory:
    return functools.partial(make_server, redis_cluster=True)


@pytest.fixture
def server_pair(server_pair: PairFactory) -> PairFactory:
    return functools.partial(server_pair, REDIS_CLUSTER="true")


def master_of(redis: RedisCluster, key: str) -> str:
    return str(redis.get_node_from_key(key).name)


def wait_for(predicate, what: str, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.02)


# --- settings ------------------------------------------------------------------------


def test_the_cluster_url_names_its_seed_nodes() -> None:
    address = parse_cluster_url("rediss://app:s%40cret@10.0.0.1:7000,[::1]:7001/0")
    assert address.nodes == (("10.0.0.1", 7000), ("::1", 7001))
    assert (address.username, address.password, address.tls) == ("app", "s@cret", True)
    for bad in ("unix:///tmp/r.sock", "redis://host", "redis://h:1,h2", "redis://h:1/3"):
        with pytest.raises(ClusterUrlError):
            parse_cluster_url(bad)


def test_a_cluster_needs_an_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="REDIS_CLUSTER=true needs REDIS_URL"):
        make_settings(tmp_path, redis_cluster=True)
    with pytest.raises(ValueError, match="only database 0"):
        make_settings(tmp_path, redis_cluster=True, redis_url="redis://127.0.0.1:7000/2")


# --- the app on the cluster ------------------------------------------------------------


def test_the_api_works_on_conversations_held_by_each_master(
    make_server: ServerFactory, cluster: LocalCluster, redis: RedisCluster
) -> None:
    server = make_server()
    keys = Keys("parlour")
    by_master: dict[str, str] = {}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for _ in range(100):  # ids are random: a few reach every master
            sid = client.post("/api/v1/sessions", json={}).json()["id"]
            by_master.setdefault(master_of(redis, keys.conversation(sid)), sid)
            if len(by_master) == len(cluster.ports):
                break
        assert len(by_master) == 3
        for sid in by_master.values():
            events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                             json={"content": f"hello {sid[:4]}"})  # fmt: skip
            assert text_of(events) == f"You said: hello {sid[:4]}"
            items = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
            assert [m["content"] for m in items] == [
                f"hello {sid[:4]}",
                f"You said: {items[0]['content']}",
            ]
        titles = {s["id"]: s["title"] for s in client.get("/api/v1/sessions").json()["items"]}
        assert all(titles[sid] == f"hello {sid[:4]}" for sid in by_master.values())
        assert client.get("/readyz").status_code == 200
    # Each master holds its conversation's messages: read on that node alone.
    for name, sid in by_master.items():
        host, port = name.rsplit(":", 1)
        with Redis(host=host, port=int(port), decode_responses=True) as node:
            assert node.hlen(keys.messages(sid)) == 2


def test_resume_and_stop_through_a_second_instance(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    a, b = make_server(), make_server()
    with httpx.Client(timeout=30) as client:
        sid = client.post(f"{a.url}/api/v1/sessions", json={}).json()["id"]
        upstream.enqueue(Reply(WORDS, delay=0.02))
        seen: list[str] = []
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
        items = client.get(f"{b.url}/api/v1/sessions/{sid}/messages").json()["items"]
        assert items[-1]["content"] == "".join(WORDS)

        # A slow reply on A, stopped through B: the stop travels by pub/sub.
        upstream.enqueue(Reply(WORDS, delay=0.2))
        with sse(client, "POST", f"{a.url}/api/v1/sessions/{sid}/messages",
                 json={"content": "again"}) as (_r, events):  # fmt: skip
            deltas = 0
            for event in events:
                if event.event == "delta":
                    deltas += 1
                    if deltas == 2:
                        stop = client.post(f"{b.url}/api/v1/sessions/{sid}/reply/stop")
                        assert stop.status_code == 202
                if event.event in ("done", "failed", "error"):
                    final = event
                    break
        assert final.json()["finish_reason"] == "stopped"
        stored = client.get(f"{b.url}/api/v1/sessions/{sid}/messages").json()["items"][-1]
        assert stored["status"] == "partial"
        assert 2 <= len(stored["content"].split()) < len(WORDS)


def test_password_mode_signs_in_and_limits_messages_on_the_cluster(
    make_server: ServerFactory, redis: RedisCluster, upstream: ScriptedUpstream
) -> None:
    a = make_server(auth_mode="password", secret_key=SECRET_KEY, rate_messages="2/minute")
    b = make_server(auth_mode="password", secret_key=SECRET_KEY, rate_messages="2/minute")
    on_a = signed_up(a.url, "ada")
    on_b = signed_in(b.url, "ada")
    sid = on_a.post("/api/v1/sessions", json={}).json()["id"]
    for client in (on_a, on_b):
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "hi"})
        assert events[-1].event == "done"
    refused = on_b.post(f"/api/v1/sessions/{sid}/messages", json={"content": "one more"})
    assert refused.status_code == 429
    assert "2 per minute" in refused.json()["detail"]
    assert on_a.get(f"/api/v1/sessions/{sid}/messages").json()["total"] == 4
    assert redis.keys("parlour:limits*", target_nodes=RedisCluster.PRIMARIES)
    for client in (on_a, on_b):
        client.close()


def test_a_cluster_is_marked_with_the_storage_format(
    make_server: ServerFactory, redis: RedisCluster
) -> None:
    make_server()
    assert redis.get(Keys("parlour").format()) == "2"


def test_a_cross_slot_script_fails_on_the_cluster(redis: RedisCluster) -> None:
    """The check the imported scenarios rely on: the cluster refuses what spans slots."""
    script = redis.register_script("return redis.call('MGET', KEYS[1], KEYS[2])")
    sid_a, sid_b = "a" * 32, "b" * 32
    keys = Keys("parlour")
    assert script(keys=[keys.conversation(sid_a), keys.path(sid_a)]) == [None, None]
    with pytest.raises(Exception, match=r"same key slot|CROSSSLOT"):
        script(keys=[keys.conversation(sid_a), keys.conversation(sid_b)])


def test_a_conversation_is_indexed_at_once_on_a_fresh_cluster(
    redis: RedisCluster, cluster: LocalCluster
) -> None:
    """Many messages indexed in one go (backfill, import) on nodes that have never run
    the index's script: each batch is one script call on the owner's node, not a
    pipeline of them (which a cluster pipeline sends without loading the script)."""

    async def go() -> list[str]:
        client = open_cluster(parse_cluster_url(cluster.url), decode_responses=True)
        index = SearchIndex(client, Keys("parlour"))
        sid = new_id()
        messages = [Message(new_id(), "user", f"line {i} of the 灯塔 logbook", now(), "assistant")
                    for i in range(300)]  # fmt: skip
        try:
            await index.add_many("local", sid, messages)
            found = await index.search("local", "灯塔 logbook 299", Filters())
        finally:
            await client.aclose()
        return [hit.message_id for hit in found.hits]

    for port in cluster.ports:  # no node knows the script yet
        with Redis(port=port) as node:
            node.script_flush()
    assert redis.strlen("parlour:u:{local}:s:docs") == 0
    run_async(go())
    assert redis.strlen("parlour:u:{local}:s:docs") == 300 * 32
    assert redis.strlen("parlour:u:{local}:s:t:logbook") == 300 * 4


# --- the command line and real processes ---------------------------------------------------


def test_an_unreachable_cluster_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    ports = [free_port(), free_port()]  # nothing listens here
    seeds = ",".join(f"127.0.0.1:{p}" for p in ports)
    env = {"REDIS_CLUSTER": "true", "REDIS_URL": f"redis://:hunter2@{seeds}",
           "LOCAL_ENABLED": "false", "PATH": "/usr/bin:/bin"}  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "parlour", "serve", "--port", str(free_port())],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 1
    assert f"cannot reach Redis at redis://:***@{seeds}" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


# --- a cluster in trouble (each test on a cluster of its own) --------------------------------


@pytest.fixture
def own_cluster(
    tmp_path: Path, upstream: ScriptedUpstream
) -> Iterator[tuple[LocalCluster, LiveServer]]:
    """A cluster of the test's own and an app on it."""
    own = LocalCluster(tmp_path / "own").start()
    server = None
    try:
        settings = make_settings(tmp_path, redis_url=own.url, redis_cluster=True,
                                 openai_base_url=upstream.url, local_enabled=False)  # fmt: skip
        server = LiveServer(settings).start()
        yield own, server
    finally:
        if server is not None:
            server.stop()
        own.stop()


def test_a_slot_the_cluster_does_not_serve_gives_503(
    own_cluster: tuple[LocalCluster, LiveServer],
) -> None:
    own, server = own_cluster
    with httpx.Client(base_url=server.url, timeout=30) as client, own.client() as direct:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        # Its master stops serving the conversation's slot: it answers CLUSTERDOWN.
        key = Keys("parlour").conversation(sid)
        node = direct.get_node_from_key(key)
        with Redis(host=node.host, port=node.port) as master:
            master.execute_command("CLUSTER", "DELSLOTS", direct.keyslot(key))
        at = own.ports.index(node.port)
        wait_for(lambda: own.state(at) == "fail", "the master did not notice", 60)
        refused = client.get(f"/api/v1/sessions/{sid}")
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "storage_unavailable"
    assert refused.headers["retry-after"]


def test_a_lost_master_makes_the_app_unready(own_cluster: tuple[LocalCluster, LiveServer]) -> None:
    own, server = own_cluster
    # Not the master the client sends keyless commands to: every master must answer.
    default = server.app.state.services.store.redis.get_default_node().name
    lost = next(n for n in range(len(own.ports)) if own.name(n) != default)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/readyz").status_code == 200
        own.kill(lost)
        wait_for(lambda: client.get("/readyz").status_code == 503, "still ready", 60)
        assert client.get("/readyz").json()["checks"]["redis"] is False
        own.restart(lost)  # and back by itself once the master returns
        wait_for(lambda: client.get("/readyz").status_code == 200, "not ready again", 60)
