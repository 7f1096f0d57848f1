"""Several OpenAI-compatible providers at once: configured in a file, their models
discovered, listed by provider, and each conversation's reply sent to its own."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlour.config import Settings
from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory, make_settings
from tests.live import collect, text_of
from tests.upstream import Reply, ScriptedUpstream
from tests.waiting import wait_until

KEY_A = "sk-alpha-secret-0123456789abcdef"
KEY_B = "sk-beta-secret-fedcba9876543210"
HEADER_SECRET = "header-secret-5555"


@pytest.fixture
def second(second_upstream: ScriptedUpstream) -> ScriptedUpstream:
    return second_upstream


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "providers.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def two_providers(tmp_path: Path, a: ScriptedUpstream, b: ScriptedUpstream) -> Path:
    return write_file(
        tmp_path,
        f"""
        [[provider]]
        name = "alpha"
        base_url = "{a.url}"
        api_key = "{KEY_A}"
        headers = {{ "X-Team" = "{HEADER_SECRET}" }}
        [provider.display_names]
        "chat-1" = "Chat One"
        [provider.context_windows]
        "chat-1" = 16000

        [[provider]]
        name = "beta"
        base_url = "{b.url}"
        api_key_env = "PARLOUR_TEST_BETA_KEY"
        models = ["chat-1", "thinker-r1"]
        reasoning = ["thinker-r1"]
        """,
    )


def listing(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/api/v1/models")
    assert response.status_code == 200, response.text
    return dict(response.json())


def group(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in body["providers"] if p["name"] == name)


def send(client: httpx.Client, sid: str, content: str) -> list[Any]:
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": content})


def test_two_providers_from_a_file_are_listed_by_provider_and_each_reply_goes_to_its_own(
    tmp_path: Path,
    make_server: ServerFactory,
    upstream: ScriptedUpstream,
    second: ScriptedUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLOUR_TEST_BETA_KEY", KEY_B)
    # Both serve a model named chat-1; beta also lists one it is not allowed to show.
    upstream.models = [{"id": "chat-1", "object": "model"},
                       {"id": "big-2", "object": "model", "context_length": 200_000},
                       {"id": "text-embedding-3-small", "object": "model"}]  # fmt: skip
    second.models = [{"id": "chat-1"}, {"id": "thinker-r1", "max_model_len": 32768},
                     {"id": "hidden-9"}]  # fmt: skip
    server = make_server(
        openai_base_url=None, openai_api_key=None,
        providers_file=two_providers(tmp_path, upstream, second),
    )  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body = wait_until(
            lambda: (b := listing(client)) and all(p["listed"] for p in b["providers"]) and b,
            what="both lists read",
        )
        alpha, beta = group(body, "alpha"), group(body, "beta")
        assert [m["id"] for m in alpha["models"]] == ["alpha/chat-1", "alpha/big-2"]
        assert [m["id"] for m in beta["models"]] == ["beta/chat-1", "beta/thinker-r1"]
        one, big = alpha["models"]
        assert (one["name"], one["context_window"], one["context_window_source"]) == (
            "Chat One", 16000, "config")  # fmt: skip
        assert (big["context_window"], big["context_window_source"], big["source"]) == (
            200_000, "server", "discovery")  # fmt: skip
        thinker = beta["models"][1]
        assert (thinker["reasoning"], thinker["context_window"], thinker["source"]) == (
            True, 32768, "config")  # fmt: skip
        assert beta["models"][0]["context_window_source"] == "default"
        assert beta["models"][0]["context_window"] == 8192  # DEFAULT_CONTEXT_WINDOW
        # The flat list of before is still there, with the same fields and more.
        assert {m["id"] for m in body["models"]} == {
            "alpha/chat-1", "alpha/big-2", "beta/chat-1", "beta/thinker-r1"}  # fmt: skip
        assert body["default"] == "alpha/chat-1"
        # Keys and header values never leave the server.
        for secret in (KEY_A, KEY_B, HEADER_SECRET):
            assert secret not in client.get("/api/v1/models").text
        # Discovery used each provider's own key and headers.
        assert upstream.models_headers[0]["authorization"] == f"Bearer {KEY_A}"
        assert upstream.models_headers[0]["x-team"] == HEADER_SECRET
        assert second.models_headers[0]["authorization"] == f"Bearer {KEY_B}"

        # A conversation on each: the same model name, two providers, no confusion.
        upstream.enqueue(Reply(["from ", "alpha"]))
        second.enqueue(Reply(["from ", "beta"]))
        sa = client.post("/api/v1/sessions", json={"model": "alpha/chat-1"}).json()["id"]
        sb = client.post("/api/v1/sessions", json={"model": "beta/chat-1"}).json()["id"]
        assert text_of(send(client, sa, "hi a")) == "from alpha"
        assert text_of(send(client, sb, "hi b")) == "from beta"
        assert upstream.requests[-1]["model"] == "chat-1"  # the provider's own id
        assert second.requests[-1]["model"] == "chat-1"
        assert upstream.headers[-1]["x-team"] == HEADER_SECRET
        assert second.headers[-1]["authorization"] == f"Bearer {KEY_B}"
        stored = client.get(f"/api/v1/sessions/{sb}/messages").json()["items"]
        assert stored[-1]["model"] == "beta/chat-1"
        # A model beta's allow-list leaves out cannot be chosen.
        refused = client.post("/api/v1/sessions", json={"model": "beta/hidden-9"})
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "unknown_model"


def test_a_provider_down_or_slow_leaves_the_list_and_the_other_providers_replies_alone(
    tmp_path: Path, make_server: ServerFactory, upstream: ScriptedUpstream,
    second: ScriptedUpstream,
) -> None:  # fmt: skip
    upstream.models = [{"id": "fast-1"}]
    second.models = [{"id": "slow-1"}]
    second.models_delay = 30  # answers long after the discovery timeout
    path = write_file(
        tmp_path,
        f"""
        [[provider]]
        name = "fast"
        base_url = "{upstream.url}"
        [[provider]]
        name = "slow"
        base_url = "{second.url}"
        models = ["slow-1"]
        [[provider]]
        name = "down"
        base_url = "http://127.0.0.1:{closed_port()}/v1"
        models = ["gone-1"]
        """,
    )
    server = make_server(openai_base_url=None, openai_api_key=None, providers_file=path,
                         models_discovery_timeout=1.0)  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body = wait_until(
            lambda: (b := listing(client)) and not group(b, "slow")["available"] and b,
            what="the slow provider given up on",
        )
        down, slow, fast = group(body, "down"), group(body, "slow"), group(body, "fast")
        assert fast["available"]
        assert [m["id"] for m in fast["models"]] == ["fast/fast-1"]
        assert not down["available"]
        assert down["reason"]
        assert [(m["id"], m["available"]) for m in down["models"]] == [("down/gone-1", False)]
        assert "1 s" in slow["reason"]  # did not answer within the timeout
        assert slow["models"][0]["reason"] == slow["reason"]
        assert body["default"] == "fast/fast-1"  # the first model that is available
        # The fast provider's conversation is answered meanwhile.
        sid = client.post("/api/v1/sessions", json={"model": "fast/fast-1"}).json()["id"]
        assert send(client, sid, "still there?")[-1].event == "done"
        # The down one's conversation says so, and nothing is sent elsewhere.
        asked = len(upstream.requests)
        sid = client.post("/api/v1/sessions", json={"model": "down/gone-1"}).json()["id"]
        events = send(client, sid, "anyone?")
        assert (events[-1].event, events[-1].json()["code"]) == ("failure", "upstream_unavailable")
        assert len(upstream.requests) == asked


def test_an_admin_refreshes_the_lists_and_others_may_not(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    upstream.models = [{"id": "scripted-model"}]
    server = make_server(models_refresh_seconds=0, **PASSWORD_MODE)
    admin = signed_up(server.url, "admin")  # the first account is an administrator
    other = signed_up(server.url, "bob")
    wait_until(lambda: upstream.models_asked >= 1, what="the first discovery")
    upstream.models = [{"id": "scripted-model"}, {"id": "new-model"}]
    assert "new-model" not in {m["id"] for m in listing(other)["models"]}
    refused = other.post("/api/v1/models/refresh")
    assert refused.status_code == 403
    refreshed = admin.post("/api/v1/models/refresh")
    assert refreshed.status_code == 200, refreshed.text
    # The OPENAI_* provider keeps its bare ids; its list adds to OPENAI_MODEL.
    assert [m["id"] for m in refreshed.json()["models"]] == ["scripted-model", "new-model"]
    assert "new-model" in {m["id"] for m in listing(other)["models"]}


def test_openai_settings_alone_keep_working_as_one_provider(client: httpx.Client) -> None:
    body = listing(client)  # the scripted upstream keeps no model list (404)
    assert [(m["id"], m["provider"], m["context_window"]) for m in body["models"]] == [
        ("scripted-model", "openai", 128_000)]  # fmt: skip
    assert group(body, "openai")["available"]
    assert body["default"] == "scripted-model"


def test_each_user_has_a_default_model_for_new_conversations(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    upstream.models = [{"id": "scripted-model"}, {"id": "other-model"}]
    server = make_server(**PASSWORD_MODE)
    alice, bob = signed_up(server.url, "alice"), signed_up(server.url, "bob")
    wait_until(lambda: len(listing(alice)["models"]) == 2, what="discovery")
    chosen = alice.put("/api/v1/models/default", json={"model": "other-model"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["user_default"] == "other-model"
    assert alice.post("/api/v1/sessions", json={}).json()["model"] == "other-model"
    assert bob.post("/api/v1/sessions", json={}).json()["model"] == "scripted-model"
    assert listing(bob)["user_default"] is None
    bad = alice.put("/api/v1/models/default", json={"model": "no-such-model"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "unknown_model")
    alice.put("/api/v1/models/default", json={"model": None})
    assert alice.post("/api/v1/sessions", json={}).json()["model"] == "scripted-model"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[provider]]\nname = "x"\n', "base_url"),
        ('[[provider]]\nname = "Bad Name"\nbase_url = "http://h/v1"\n', "name"),
        ('[[provider]]\nname = "x"\nbase_url = "ftp://h"\n', "http://"),
        ('[[provider]]\nname = "x"\nbase_url = "http://h/v1"\ndiscover = false\n', "models"),
        ('[[provider]]\nname = "x"\nbase_url = "http://h/v1"\napi_key_env = "NOPE_NOT_SET"\n',
         "NOPE_NOT_SET"),
        ('[[provider]]\nname = "x"\nbase_url = "http://h"\n[[provider]]\nname = "x"\n'
         'base_url = "http://i"\n', "unique"),
        ("[provider\n", "not valid TOML"),
        ('[[provider]]\nname = "x"\nbase_url = "http://h"\ncolour = "red"\n', "colour"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_providers_file_stops_the_start_saying_what(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=says):
        make_settings(tmp_path, providers_file=path)


def test_providers_also_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "PROVIDERS",
        '[{"name": "env-one", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-env-9999"}]',
    )
    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    assert [p.name for p in settings.providers] == ["env-one"]
    assert "sk-env-9999" not in repr(settings.providers)
