"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import ScriptedUpstream, Status


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples named exactly ``name`` (any labels)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_health_and_readiness(client: httpx.Client, make_server: ServerFactory) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"model": True, "redis": True}
    bare = make_server(openai_base_url=None, openai_api_key=None, local_enabled=False)
    not_ready = httpx.get(f"{bare.url}/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["model"] is False


def test_metrics_count_requests_tokens_and_upstream_errors(
    client: httpx.Client, upstream: ScriptedUpstream
) -> None:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "a b c"})
    upstream.enqueue(Status(400))
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "x"})
    text = client.get("/metrics").text
    assert metric(text, "parlour_deltas_relayed_total") == 5  # "You said: a b c", a word a delta
    # No usage reported: counted by the API's estimate (4 characters a token): 15 / 4.
    assert metric(text, "parlour_completion_tokens_total") == 4
    assert metric(text, "parlour_time_to_first_token_seconds_count") == 1
    assert metric(text, "parlour_reply_duration_seconds_count") == 2
    assert 'parlour_upstream_errors_total{kind="upstream_rejected"} 1.0' in text
    assert (
        'parlour_http_requests_total{method="POST",route="/api/v1/sessions",status="201"} 1.0'
        in text
    )
    assert metric(text, "parlour_active_replies") == 0


def test_request_ids_are_returned_and_carried_into_reply_logs(
    client: httpx.Client, upstream: ScriptedUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    from parlour.web.observe import RequestIdFilter

    caplog.handler.addFilter(RequestIdFilter())
    caplog.set_level(logging.INFO)
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 16
    upstream.enqueue(Status(500), Status(500), Status(500))
    collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": "secret words"},
            headers={"X-Request-ID": "trace-42"})  # fmt: skip
    failures = [r for r in caplog.records if "upstream failure" in r.getMessage()]
    assert failures
    assert {getattr(r, "request_id", None) for r in failures} == {"trace-42"}
    assert not any("secret words" in r.getMessage() for r in caplog.records)
