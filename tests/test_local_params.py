"""The bundled local model honours a conversation's parameters."""

from __future__ import annotations

import httpx
import pytest

from parlour.providers.local import bundled_model_path, runtime_available
from tests.conftest import ServerFactory
from tests.live import collect, text_of
from tests.test_local_model import LOCAL

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not runtime_available() or bundled_model_path() is None,
        reason="the local model extra is not installed",
    ),
]


def reply(client: httpx.Client, params: dict[str, object]) -> tuple[str, dict[str, object]]:
    sid = client.post("/api/v1/sessions", json={}).json()["id"]
    assert client.patch(f"/api/v1/sessions/{sid}/settings", json=params).status_code == 200
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                     json={"content": "Tell me a story about a cat."})  # fmt: skip
    assert events[-1].event == "done"
    return text_of(events), events[-1].json()


def test_max_tokens_seed_and_temperature_reach_the_local_model(make_server: ServerFactory) -> None:
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        _short, done = reply(client, {"max_tokens": 3})
        assert done["finish_reason"] == "length"
        assert done["usage"]["completion_tokens"] <= 3
        hot = {"temperature": 1.5, "top_p": 1.0, "seed": 1234, "max_tokens": 24}
        first, _ = reply(client, hot)
        again, _ = reply(client, hot)
        other, _ = reply(client, {**hot, "seed": 99})
    assert first == again  # the same seed samples the same reply...
    assert first != other  # ...and another seed another one, at this temperature
