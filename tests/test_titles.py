"""Titles written by a model after a conversation's first exchange: never before the
reply has ended, never over the user's own name for it, off when the setting says so,
and always a plain short title (or the first words) whatever the model writes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from parlour.providers.local import bundled_model_path, runtime_available
from parlour.titles import TITLE_PROMPT, clean_title, first_words
from tests.conftest import ServerFactory
from tests.live import collect, sse
from tests.test_live import channel
from tests.upstream import Reply, Script, ScriptedUpstream
from tests.waiting import wait_until


def is_title(body: dict[str, Any]) -> bool:
    return str(body["messages"][0]["content"]) == TITLE_PROMPT


def titler(*deltas: str, first_delay: float = 0.0) -> Any:
    """Plays the model: answers a title request with ``deltas``, anything else by echo."""

    def respond(body: dict[str, Any]) -> Script | None:
        return Reply(deltas=list(deltas), first_delay=first_delay) if is_title(body) else None

    return respond


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def say(client: httpx.Client, sid: str, text: str) -> None:
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    assert events[-1].event == "done", events[-1].data


def title(client: httpx.Client, sid: str) -> str:
    return str(client.get(f"/api/v1/sessions/{sid}").json()["title"])


def titled(client: httpx.Client, sid: str, want: str) -> None:
    wait_until(lambda: title(client, sid) == want, timeout=20, what=f"the title {want!r}")


def test_the_title_is_asked_for_after_the_replys_final_event_and_every_page_hears_it(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(titles=True)
    upstream.responder = titler("Planning a trip to Lisbon", first_delay=1.0)
    upstream.enqueue(Reply(deltas=["Lisbon ", "in May ", "is lovely."], delay=0.05, hold=0.5))
    with httpx.Client(base_url=server.url, timeout=30) as client, channel(server.url) as page:
        sid = new_session(client)
        url = f"/api/v1/sessions/{sid}/messages"
        done = False
        with sse(client, "POST", url, json={"content": "Help me plan a trip to Lisbon"}) as (
            _response,
            events,
        ):
            for event in events:
                if event.event == "done":
                    done = True
                    # Until the final event, nothing but the reply was answered.
                    assert title(client, sid) == "Help me plan a trip to Lisbon"  # first words
        assert done
        titled(client, sid, "Planning a trip to Lisbon")
        asked = [i for i, b in enumerate(upstream.requests) if is_title(b)]
        assert len(asked) == 1
        # The upstream saw the reply's stream end before the title was asked for.
        timeline = upstream.timeline
        assert timeline.index(("end", 0)) < timeline.index(("arrive", asked[0])), timeline
        sent = upstream.requests[asked[0]]["messages"][1]["content"]
        assert "Help me plan a trip to Lisbon" in sent
        assert "is lovely." in sent
        wait_until(lambda: "updated" in page.about(sid), timeout=10, what="the page told")
        # Only the first exchange is titled.
        say(client, sid, "And in June?")
        time.sleep(0.5)
        assert sum(is_title(b) for b in upstream.requests) == 1


def test_a_rename_made_before_the_title_lands_wins(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(titles=True)
    upstream.responder = titler("A model's title", first_delay=1.0)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        say(client, sid, "Tell me about otters")
        wait_until(lambda: any(is_title(b) for b in upstream.requests), timeout=10,
                   what="the title asked for")  # fmt: skip
        renamed = client.patch(f"/api/v1/sessions/{sid}", json={"title": "Otters, mine"})
        assert renamed.status_code == 200, renamed.text
        time.sleep(1.5)  # the model's title has come back by now
        assert len(upstream.ended) >= 2  # the reply's stream and the title's
        assert title(client, sid) == "Otters, mine"
        # A conversation named before its first message keeps its name, too.
        named = client.post("/api/v1/sessions", json={"title": "My own name"}).json()["id"]
        say(client, named, "Tell me about badgers")
        time.sleep(1.5)
        assert title(client, named) == "My own name"


def test_with_the_setting_off_no_title_is_asked_for(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(titles=False)
    upstream.responder = titler("Never asked")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        say(client, sid, "What is the **capital** of Peru?")
        time.sleep(1.0)
        assert not any(is_title(b) for b in upstream.requests)
        assert len(upstream.requests) == 1
        assert title(client, sid) == "What is the **capital** of Peru?"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (['**"Lima', ', Capital of Peru."**'], "Lima, Capital of Peru"),
        (["# Title: `Peru` facts\n\nHere is why..."], "Peru facts"),
        (["Sure! Here is a title:\n", "“Capitals of South America”"], "Capitals of South America"),
        (["<think>The user asks about Peru.</think>Peru's capital"], "Peru's capital"),
        ([" ".join(["word"] * 40)], " ".join(["word"] * 10)),
        (["A" * 200], "A" * 60),
        (["**"], "What is the capital of Peru?"),  # nothing left: the first words, plain
        (["秘鲁的首都"], "What is the capital of Peru?"),  # another script than the user's
    ],
)
def test_what_the_model_writes_is_cleaned_or_gives_way_to_the_first_words(
    make_server: ServerFactory, upstream: ScriptedUpstream, written: list[str], shown: str
) -> None:
    server = make_server(titles=True)
    upstream.responder = titler(*written)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        say(client, sid, "What is the **capital** of `Peru`?")
        titled(client, sid, shown)


def test_a_failed_title_request_leaves_the_first_words_without_markdown(
    make_server: ServerFactory, upstream: ScriptedUpstream
) -> None:
    server = make_server(titles=True, upstream_attempts=1)

    def respond(body: dict[str, Any]) -> Script | None:
        return Reply(deltas=[], error_event="overloaded") if is_title(body) else None

    upstream.responder = respond
    with httpx.Client(base_url=server.url, timeout=30) as client:
        sid = new_session(client)
        say(client, sid, "## Help\n\nWhat is **2+2**?")
        titled(client, sid, "Help What is 2+2?")


def test_the_pure_cleaning_keeps_the_conversations_language() -> None:
    assert clean_title("「秘鲁的首都」。", "秘鲁的首都是哪里？") == "秘鲁的首都"
    assert clean_title("The capital of Peru", "秘鲁的首都是哪里？") == ""
    assert (
        first_words("- [x] **done** and `code`\n```py\nx = 1\n```\nafter") == "done and code after"
    )
    assert first_words("x" * 100).endswith("…")


LOCAL = {"openai_base_url": None, "openai_api_key": None, "local_enabled": True,
         "temperature": 0.0, "max_tokens": 40, "local_context_window": 2048,
         "reply_reserve_tokens": 256, "titles": True}  # fmt: skip


@pytest.mark.local_model
@pytest.mark.skipif(not runtime_available() or bundled_model_path() is None,
                    reason="the local model extra is not installed")  # fmt: skip
def test_the_bundled_models_title_is_plain_and_short_or_the_first_words(
    make_server: ServerFactory,
) -> None:
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        sid = new_session(client)
        say(client, sid, "What is the **capital** of `France`?")
        # Whatever it wrote, the first words as stored (with their markdown) give way.
        wait_until(lambda: "**" not in title(client, sid), timeout=60, what="a title")
        got = title(client, sid)
        assert got.strip() == got
        assert 0 < len(got) <= 61, got
        assert not any(mark in got for mark in ("*", "#", "`", '"', "“", "\n")), got
        # Asked in Chinese, it answers in English: the Chinese first words stay.
        zh = new_session(client)
        say(client, zh, "法国的首都是哪里？")
        time.sleep(8)  # the bundled model writes a title in well under that
        got = title(client, zh)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in got), got
