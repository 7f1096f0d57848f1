"""The live channel: every open page of a user hears what changed, from any process."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

import httpx

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import PairFactory, ServerFactory
from tests.live import collect
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until


class Channel:
    """``GET /api/v1/events`` read in a thread: the changes heard so far."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.changes: list[dict[str, str]] = []
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        with contextlib.suppress(httpx.HTTPError, RuntimeError):  # closed at the end
            self._follow()

    def _follow(self) -> None:
        with self.client.stream("GET", "/api/v1/events", timeout=None) as response:
            assert response.status_code == 200
            name = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "change":
                    self.changes.append(httpx.Response(200, content=line[6:]).json())
                    self.opened.set()

    def about(self, sid: str) -> list[str]:
        return [c["kind"] for c in self.changes if c["session_id"] == sid]


@contextlib.contextmanager
def channel(url: str, client: httpx.Client | None = None) -> Iterator[Channel]:
    own = client or httpx.Client(base_url=url)
    listener = Channel(own)
    listener._thread.start()
    assert listener.opened.wait(30), "the channel did not open"
    try:
        yield listener
    finally:
        own.close()  # ends the stream


def test_a_page_on_another_process_hears_every_change(
    server_pair: PairFactory, upstream: ScriptedUpstream
) -> None:
    a, b = server_pair()
    upstream.enqueue(Reply(["Hi ", "there"], delay=0.02))
    with channel(b.url) as heard, httpx.Client(base_url=a.url, timeout=30) as client:
        assert heard.changes[0]["kind"] == "resync"  # every (re)connect starts with one
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        client.patch(f"/api/v1/sessions/{sid}", json={"title": "Renamed"})
        collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "hello"})
        client.delete(f"/api/v1/sessions/{sid}")
        expected = ["created", "updated", "message", "message", "deleted"]
        wait_until(lambda: heard.about(sid) == expected, timeout=30)


def test_a_burst_of_changes_reaches_a_page_on_another_process_whole_and_in_order(
    server_pair: PairFactory,
) -> None:
    a, b = server_pair()
    with channel(b.url) as heard, httpx.Client(base_url=a.url, timeout=30) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        renames = [f"Name {i}" for i in range(40)]
        url = f"/api/v1/sessions/{sid}"
        threads = [
            threading.Thread(target=client.patch, args=(url,), kwargs={"json": {"title": t}})
            for t in renames[:20]
        ]
        for thread in threads:  # many at once: they queue up and go out together
            thread.start()
        for thread in threads:
            thread.join()
        for title in renames[20:]:
            client.patch(f"/api/v1/sessions/{sid}", json={"title": title})
        client.delete(f"/api/v1/sessions/{sid}")
        expected = ["created", *["updated"] * 40, "deleted"]
        wait_until(lambda: heard.about(sid) == expected, timeout=30,
                   what="every change, the deletion last")  # fmt: skip


def test_a_user_hears_only_their_own_changes(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    with channel(server.url, bob) as bobs, channel(server.url, alice) as alices:
        theirs = alice.post("/api/v1/sessions", json={}).json()["id"]
        mine = bob.post("/api/v1/sessions", json={}).json()["id"]
        wait_until(lambda: bobs.about(mine) == ["created"] and alices.about(theirs) == ["created"])
        assert bobs.about(theirs) == []
        assert alices.about(mine) == []


def test_without_a_sign_in_there_is_no_channel(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE)
    response = httpx.get(f"{server.url}/api/v1/events")
    assert response.status_code == 401
    assert response.json()["error"]["message"]


def test_a_stopping_process_ends_its_pages_channels_cleanly(server_pair: PairFactory) -> None:
    a, _b = server_pair()
    lines: list[str] = []
    with httpx.Client(base_url=a.url, timeout=60) as client:
        with client.stream("GET", "/api/v1/events") as response:
            chunks = response.iter_lines()
            lines.append(next(chunks))  # open, with its first event
            a.proc.send_signal(signal.SIGTERM)
            lines += list(chunks)  # ends as a stream does, not cut off when time runs out
    assert lines[0] == "event: change"
    assert a.proc.wait(timeout=60) == 0
