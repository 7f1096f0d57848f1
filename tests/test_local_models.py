"""Several local models: the bundled one and the GGUF files of the models directory, loaded
when first used, unloaded under the memory budget, and a clear error for one that is gone."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import httpx
import pytest

from parlour.providers.local import bundled_model_path, runtime_available
from tests.conftest import ServerFactory
from tests.live import LiveServer, collect, text_of

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(
        not runtime_available() or bundled_model_path() is None,
        reason="the local model extra is not installed",
    ),
]

BUNDLED = "SmolLM2-135M-Instruct.Q4_1"
LOCAL = {
    "openai_base_url": None,
    "openai_api_key": None,
    "local_enabled": True,
    "temperature": 0.0,
    "max_tokens": 20,
    "local_context_window": 2048,
    "reply_reserve_tokens": 256,
}


def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "models"  # the default: DATA_DIR/models
    path.mkdir(parents=True, exist_ok=True)
    return path


def link_copy(tmp_path: Path, name: str) -> Path:
    """The bundled model's file under another name in the models directory."""
    bundled = bundled_model_path()
    assert bundled is not None
    target = models_dir(tmp_path) / name
    os.link(bundled, target) if _same_device(bundled, target) else target.symlink_to(bundled)
    return target


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.parent.stat().st_dev


def chat(client: httpx.Client, sid: str, text: str = "Say hello.") -> list:  # type: ignore[type-arg]
    return collect(client, "POST", f"/api/v1/sessions/{sid}/messages", json={"content": text})


def new_session(client: httpx.Client, model: str) -> str:
    response = client.post("/api/v1/sessions", json={"model": model})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_every_file_is_listed_and_each_answers_its_conversations(
    tmp_path: Path, make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    link_copy(tmp_path, "second-model.gguf")
    caplog.set_level(logging.INFO, logger="parlour.providers.local")
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        listed = client.get("/api/v1/models").json()
        assert [(m["id"], m["provider"], m["context_window"], m["description"])
                for m in listed["models"]] == [
            (BUNDLED, "local", 2048, "Smollm2 135M 8k Lc100K Mix1 Ep2"),
            ("second-model", "local", 2048, "Smollm2 135M 8k Lc100K Mix1 Ep2"),
        ]  # fmt: skip
        assert listed["default"] == BUNDLED
        assert "local model second-model loaded" not in caplog.text  # not before it is used
        first, second = new_session(client, BUNDLED), new_session(client, "second-model")
        answers = [chat(client, first), chat(client, second), chat(client, first)]
        stored = client.get(f"/api/v1/sessions/{second}/messages").json()["items"]
    for events in answers:
        assert events[-1].event == "done"
        assert text_of(events).strip()
    assert stored[-1]["model"] == "second-model"
    assert caplog.text.count("local model second-model loaded") == 1  # once, on first use
    assert "unloaded" not in caplog.text  # the default budget holds both


def test_a_model_put_in_the_directory_while_the_server_runs_is_offered_at_once(
    tmp_path: Path, make_server: ServerFactory
) -> None:
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        before = [m["id"] for m in client.get("/api/v1/models").json()["models"]]
        assert before == [BUNDLED]
        link_copy(tmp_path, "pulled-meanwhile.gguf")  # what `parlour models pull` leaves
        after = [m["id"] for m in client.get("/api/v1/models").json()["models"]]
        assert after == [BUNDLED, "pulled-meanwhile"]
        sid = new_session(client, "pulled-meanwhile")
        events = chat(client, sid)
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    assert events[-1].event == "done"
    assert stored[-1]["model"] == "pulled-meanwhile"


def test_the_memory_budget_unloads_the_least_recently_used_model(
    tmp_path: Path, make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    copy = link_copy(tmp_path, "second-model.gguf")
    bundled = bundled_model_path()
    assert bundled is not None
    room_for_one = bundled.stat().st_size * 3 // 2 >> 20  # MB: one model fits, two do not
    caplog.set_level(logging.INFO, logger="parlour.providers.local")
    server: LiveServer = make_server(**LOCAL, local_models_memory_mb=room_for_one)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        first, second = new_session(client, BUNDLED), new_session(client, "second-model")
        for sid in (first, second, first):
            events = chat(client, sid)
            assert events[-1].event == "done"
            assert text_of(events).strip()
        # Unloaded, then its file removed: the reply (its tokens still counted) fails
        # with a clear error when the model is to be loaded again.
        copy.unlink()
        failed = chat(client, second, "Still there?")
        stored = client.get(f"/api/v1/sessions/{second}/messages").json()["items"][-1]
        again = chat(client, first)
    assert failed[-1].event == "failure"
    assert failed[-1].json()["code"] == "model_unavailable"
    assert "second-model is no longer in the models directory" in failed[-1].json()["message"]
    assert (stored["status"], stored["error"]) == ("error", "model_unavailable")
    assert again[-1].event == "done"
    unloads = [r.getMessage() for r in caplog.records if "unloaded" in r.getMessage()]
    assert unloads == [
        f"local model {BUNDLED} unloaded: the memory budget is {room_for_one} MB",
        f"local model second-model unloaded: the memory budget is {room_for_one} MB",
    ]


def test_a_removed_model_gives_its_conversation_a_clear_error(
    tmp_path: Path, make_server: ServerFactory
) -> None:
    copy = link_copy(tmp_path, "doomed.gguf")
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        doomed, fine = new_session(client, "doomed"), new_session(client, BUNDLED)
        copy.unlink()
        refused = client.post(f"/api/v1/sessions/{doomed}/messages",
                              json={"content": "Are you there?"})  # fmt: skip
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "model_unavailable"
        assert "The local model doomed is no longer in the models directory" in error["message"]
        assert client.get(f"/api/v1/sessions/{doomed}/messages").json()["items"] == []
        events = chat(client, fine)  # the other models go on
    assert events[-1].event == "done"


def test_a_damaged_model_file_gives_its_conversation_a_clear_error(
    tmp_path: Path, make_server: ServerFactory
) -> None:
    bundled = bundled_model_path()
    assert bundled is not None
    data = bundled.read_bytes()
    (models_dir(tmp_path) / "cut-short.gguf").write_bytes(data[: len(data) // 2])
    server = make_server(**LOCAL)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        assert "cut-short" in [m["id"] for m in client.get("/api/v1/models").json()["models"]]
        sid = new_session(client, "cut-short")
        refused = client.post(f"/api/v1/sessions/{sid}/messages", json={"content": "Hello?"})
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "model_unavailable"
        assert error["message"].startswith("The local model cut-short could not be read: its "
                                           "file is damaged.")  # fmt: skip
        events = chat(client, new_session(client, BUNDLED))
    assert events[-1].event == "done"
