"""Memory beyond the window: older turns folded into a running summary of the branch,
after each reply, visible, editable, and off when the user says so."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from parlour.summaries import FOLD_PROMPT
from parlour.window import SUMMARY_HEADER
from tests.conftest import ServerFactory
from tests.live import collect
from tests.upstream import Reply, Script, ScriptedUpstream, Status
from tests.waiting import wait_until

# A window of 300 tokens (400 less the reply's 100): eight or so short exchanges.
SMALL = {"openai_context_window": 400, "reply_reserve_tokens": 100, "max_tokens": 50,
         "summary_max_tokens": 60}  # fmt: skip
FOLD_START = FOLD_PROMPT[:40]


def is_fold(body: dict[str, Any]) -> bool:
    return str(body["messages"][0]["content"]).startswith(FOLD_START)


def note_taker(body: dict[str, Any]) -> Script | None:
    """Plays the summarizing model: keeps the summary so far and every line naming
    someone (a model that keeps names and facts), and nothing else."""
    if not is_fold(body):
        return None
    text = str(body["messages"][1]["content"])
    before, _, new = text.partition("Messages to fold in:")
    old = before.removeprefix("Summary so far:").strip()
    kept = [line for line in old.splitlines() if line and line != "(none yet)"]
    kept += [line for line in new.splitlines() if "name" in line.lower()]
    return Reply(deltas=["\n".join(kept) or "Small talk."])


@pytest.fixture
def small(make_server: ServerFactory) -> httpx.Client:
    server = make_server(**SMALL)
    return httpx.Client(base_url=server.url, timeout=30)


def new_session(client: httpx.Client) -> str:
    return str(client.post("/api/v1/sessions", json={}).json()["id"])


def say(client: httpx.Client, sid: str, text: str) -> None:
    events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})
    assert events[-1].event == "done", events[-1].data


def state(client: httpx.Client, sid: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/sessions/{sid}/summary")
    assert response.status_code == 200, response.text
    return dict(response.json())


def settled(client: httpx.Client, sid: str) -> dict[str, Any]:
    """The summary state once no summary is being written."""
    return wait_until(lambda: (s := state(client, sid)) and not s["pending"] and s,
                      timeout=30, what="summaries settled")  # fmt: skip


def replies_sent(upstream: ScriptedUpstream) -> list[dict[str, Any]]:
    return [b for b in upstream.requests if not is_fold(b)]


def test_a_name_from_turn_1_of_200_reaches_the_model_through_the_summary(
    small: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.responder = note_taker
    sid = new_session(small)
    say(small, sid, "Hello! My name is Zanzibar Quint, I <think>muse on secrets</think> live here.")
    for i in range(2, 201):
        say(small, sid, f"Turn {i}: tell me about the weather.")
    settled(small, sid)
    say(small, sid, "What is my name?")

    sent = replies_sent(upstream)[-1]["messages"]
    assert sent[0]["content"].startswith("You are a friendly")  # the persona's, untouched
    assert sent[1]["role"] == "system"
    assert sent[1]["content"].startswith(SUMMARY_HEADER)
    assert "Zanzibar Quint" in sent[1]["content"]
    # Turn 1 itself fell out of the window long ago: only the summary carries it.
    assert not any("Zanzibar" in m["content"] for m in sent[2:])
    assert sent[-1] == {"role": "user", "content": "What is my name?"}
    folds = [b for b in upstream.requests if is_fold(b)]
    assert folds
    # Incremental: each fold gets the summary so far and a few messages, not the history;
    # never the persona's system prompt; never reasoning text.
    assert max(len(b["messages"][1]["content"]) for b in folds) < 3_000
    for body in folds:
        assert "friendly and professional" not in str(body["messages"])
        assert "muse on secrets" not in str(body["messages"])
    view = state(small, sid)
    assert view["enabled"]
    assert "Zanzibar Quint" in view["summary"]["text"]
    assert view["trimmed"] == 0
    assert view["first_kept"]


def test_summarizing_waits_for_the_reply_and_never_holds_up_the_next_one(
    small: httpx.Client, upstream: ScriptedUpstream
) -> None:
    def slow_notes(body: dict[str, Any]) -> Script | None:
        script = note_taker(body)
        if isinstance(script, Reply):
            script.first_delay = 0.5  # a slow summarizing model
        return script

    upstream.responder = slow_notes
    sid = new_session(small)
    say(small, sid, "My name is Ada.")
    for i in range(2, 25):
        say(small, sid, f"Turn {i}: more words to fill the window.")
    settled(small, sid)

    timeline = upstream.timeline
    folds = [i for i, b in enumerate(upstream.requests) if is_fold(b)]
    assert len(folds) >= 2
    position = {event: n for n, event in enumerate(timeline)}
    for fold in folds:
        # The reply that led to this fold had finished streaming before the fold began:
        # its first token (and its last) never waited for the summary.
        reply = max(i for i in range(fold) if not is_fold(upstream.requests[i]))
        assert position[("end", reply)] < position[("arrive", fold)]
    # While a (slow) fold was being written, the next reply started and finished.
    overlapped = [
        fold for fold in folds
        if any(position[("arrive", fold)] < position[("arrive", r)]
               < position[("end", r)] < position.get(("end", fold), len(timeline))
               for r in range(fold + 1, len(upstream.requests))
               if not is_fold(upstream.requests[r]))
    ]  # fmt: skip
    assert overlapped


def test_an_edited_summary_is_what_the_model_sees_next(
    small: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.responder = note_taker
    sid = new_session(small)
    say(small, sid, "My name is Bob.")
    for i in range(2, 16):
        say(small, sid, f"Turn {i}: filler words for the window.")
    assert "Bob" in settled(small, sid)["summary"]["text"]

    edited = small.put(f"/api/v1/sessions/{sid}/summary", json={"text": "The user is Robert."})
    assert edited.status_code == 200
    assert edited.json()["summary"]["edited"] is True
    say(small, sid, "Who am I?")
    sent = replies_sent(upstream)[-1]["messages"]
    assert sent[1]["content"] == SUMMARY_HEADER + "The user is Robert."
    # Later folds build on the correction.
    say(small, sid, "One more turn.")
    assert "Robert" in settled(small, sid)["summary"]["text"]
    last_fold = [b for b in upstream.requests if is_fold(b)][-1]
    assert "The user is Robert." in last_fold["messages"][1]["content"]

    # Bad input is refused with a reason.
    empty = small.put(f"/api/v1/sessions/{sid}/summary", json={"text": ""})
    assert empty.status_code == 422
    assert empty.json()["error"]["code"]


def test_summaries_off_trims_with_the_cut_shown_and_the_export_keeps_them(
    small: httpx.Client, upstream: ScriptedUpstream
) -> None:
    upstream.responder = note_taker
    sid = new_session(small)
    say(small, sid, "My name is Cleo.")
    for i in range(2, 14):
        say(small, sid, f"Turn {i}: some filler for the window.")
    assert settled(small, sid)["summary"]

    exported = small.get(f"/api/v1/sessions/{sid}/export").json()
    assert any("Cleo" in s["text"] for s in exported["summaries"])

    off = small.put(f"/api/v1/sessions/{sid}/summary/enabled", json={"enabled": False})
    assert off.status_code == 200
    view = off.json()
    assert view["enabled"] is False
    assert view["summary"] is None
    assert view["trimmed"] > 0  # the page marks the cut
    assert view["first_kept"]
    folds_before = sum(is_fold(b) for b in upstream.requests)
    say(small, sid, "And now?")
    sent = replies_sent(upstream)[-1]["messages"]
    assert [m["role"] for m in sent[:2]] == ["system", "user"]  # no summary: trimmed
    assert not any("Cleo" in m["content"] for m in sent)
    say(small, sid, "Again.")
    assert sum(is_fold(b) for b in upstream.requests) == folds_before

    on = small.put(f"/api/v1/sessions/{sid}/summary/enabled", json={"enabled": True})
    assert on.json()["enabled"] is True


def test_a_failed_summary_leaves_the_reply_whole_and_the_next_turn_tries_again(
    small: httpx.Client, upstream: ScriptedUpstream
) -> None:
    def broken(body: dict[str, Any]) -> Script | None:
        return Status(400) if is_fold(body) else None

    upstream.responder = broken
    sid = new_session(small)
    say(small, sid, "My name is Dora.")
    for i in range(2, 14):
        say(small, sid, f"Turn {i}: filler words for the window.")  # every reply completes
    view = settled(small, sid)
    assert view["failed"]
    assert view["summary"] is None
    assert view["trimmed"] > 0  # trimming took over

    upstream.responder = note_taker
    say(small, sid, "Try once more.")
    view = settled(small, sid)
    assert view["failed"] is None
    assert "Dora" in view["summary"]["text"]


def test_each_branch_has_its_own_summary(small: httpx.Client, upstream: ScriptedUpstream) -> None:
    upstream.responder = note_taker
    sid = new_session(small)
    say(small, sid, "My name is Eve.")
    for i in range(2, 14):
        say(small, sid, f"Turn {i}: filler words for the window.")
    assert "Eve" in settled(small, sid)["summary"]["text"]
    first = small.get(f"/api/v1/sessions/{sid}/messages", params={"limit": 1}).json()["items"][0]
    # Editing the first message starts a branch before anything was summarized.
    collect(small, "POST", f"/api/v1/sessions/{sid}/messages",
            json={"content": "My name is Fay.", "replace_from": first["id"]})  # fmt: skip
    assert settled(small, sid)["summary"] is None
    small.put(f"/api/v1/sessions/{sid}/branch", json={"message_id": first["id"]})
    assert "Eve" in settled(small, sid)["summary"]["text"]
