"""A reply's stream followed with the browser's own EventSource, as any SSE client would.

The spec's EventSource reconnects whenever a stream ends, unless the server answers
204; and it takes a server event named ``error`` for a connection error. So a
finished reply answers 204, and failures come as ``failure`` events.
"""

from __future__ import annotations

import json

import httpx
import pytest
from playwright.sync_api import Page, Request, Route

from tests.live import LiveServer, collect, text_of
from tests.upstream import Reply, ScriptedUpstream, Status

pytestmark = pytest.mark.browser

# Follows `url` until the EventSource gives up (readyState CLOSED), recording what came.
FOLLOW = """(url) => {
  window.seen = [];
  window.connectionErrors = [];
  const source = new EventSource(url);
  window.source = source;
  for (const name of ["start", "delta", "done", "failure", "message"]) {
    source.addEventListener(name, (e) => window.seen.push([name, e.data, e.lastEventId]));
  }
  source.onerror = (e) => window.connectionErrors.push(e instanceof MessageEvent ? e.data : null);
}"""
CLOSED = "() => window.source.readyState === EventSource.CLOSED"


def finished_reply(server: LiveServer, content: str = "hello") -> tuple[str, str, list]:  # type: ignore[type-arg]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = client.post("/api/v1/sessions", json={}).json()["id"]
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                         json={"content": content})  # fmt: skip
    return sid, events[0].json()["reply_id"], events


def requests_to(page: Page, path: str) -> list[Request]:
    seen: list[Request] = []
    page.on("request", lambda r: seen.append(r) if path in r.url else None)
    return seen


def test_after_done_it_gets_204_and_stops(app: Page, server: LiveServer) -> None:
    sid, rid, events = finished_reply(server)
    follows = requests_to(app, "/reply")
    app.evaluate(FOLLOW, f"/api/v1/sessions/{sid}/reply?reply_id={rid}")
    app.wait_for_function(CLOSED, timeout=20_000)
    seen = app.evaluate("window.seen")
    assert seen[0][0] == "start"
    assert seen[-1][0] == "done"
    assert "".join(json.loads(d)["content"] for n, d, _ in seen if n == "delta") == (
        text_of(events)
    )
    # One replay, one reconnect carrying the last id, answered 204: then it stops.
    assert len(follows) == 2
    assert follows[1].all_headers().get("last-event-id") == events[-1].id
    response = follows[1].response()
    assert response is not None
    assert response.status == 204
    # onerror: once as the stream ended (reconnecting), once for the 204 (closed).
    assert app.evaluate("window.connectionErrors") == [None, None]


def test_with_nothing_running_it_stops_at_once(app: Page, server: LiveServer) -> None:
    sid, _rid, _events = finished_reply(server)
    follows = requests_to(app, "/reply")
    app.evaluate(FOLLOW, f"/api/v1/sessions/{sid}/reply")
    app.wait_for_function(CLOSED)
    assert len(follows) == 1
    assert app.evaluate("window.seen") == []


def test_a_failure_arrives_as_its_own_event(
    app: Page, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Status(500), Status(502), Status(503))
    sid, rid, events = finished_reply(server)
    assert events[-1].event == "failure"
    app.evaluate(FOLLOW, f"/api/v1/sessions/{sid}/reply?reply_id={rid}")
    app.wait_for_function(CLOSED, timeout=20_000)
    seen = app.evaluate("window.seen")
    assert [name for name, _data, _id in seen] == ["start", "failure"]
    failure = json.loads(seen[-1][1])
    assert failure["code"] == "upstream_unavailable"
    assert failure["message"]
    # onerror fired only for the connection (stream ended, then 204), never with the
    # failure's data.
    assert app.evaluate("window.connectionErrors") == [None, None]


def test_a_broken_stream_resumes_with_last_event_id(
    app: Page, server: LiveServer, upstream: ScriptedUpstream
) -> None:
    upstream.enqueue(Reply([f"w{i} " for i in range(6)]))
    sid, rid, events = finished_reply(server)
    follows = requests_to(app, "/reply")
    answered: list[int] = []

    def break_first(route: Route) -> None:
        # The first answer is cut after its first event, as a dropped connection would.
        answered.append(1)
        if len(answered) > 1:
            route.continue_()
            return
        body = route.fetch().text()
        first = body.split("\n\n")[0] + "\n\n"
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=first)

    app.route("**/reply?*", break_first)
    app.evaluate(FOLLOW, f"/api/v1/sessions/{sid}/reply?reply_id={rid}")
    app.wait_for_function(CLOSED, timeout=30_000)
    seen = app.evaluate("window.seen")
    # The reconnect sent Last-Event-ID: <rid>:1 (chromium adds it below what Playwright
    # shows), so the server told the rest and not `start` again.
    assert [name for name, _data, _id in seen] == ["start", "delta", "done"]
    assert [last_id for _name, _data, last_id in seen] == [f"{rid}:1", seen[1][2], events[-1].id]
    text = "".join(json.loads(d)["content"] for n, d, _ in seen if n == "delta")
    assert text == "w0 w1 w2 w3 w4 w5 "  # exactly the rest, once
    assert seen[-1][0] == "done"
    assert len(follows) == 3  # cut, resumed, 204
