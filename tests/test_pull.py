"""``parlour models pull``: the real download code (``huggingface_hub``) against a loopback
server in the Hub's URL layout (tests/hub.py), then the pulled model in a real chat."""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import struct
import termios
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import constants

from parlour.cli import main
from parlour.models_dir import ModelsDir
from parlour.providers.local import bundled_model_path, runtime_available
from parlour.pull import Hub, PullError, human_size, pull
from tests.conftest import ServerFactory
from tests.gguf_files import write_gguf
from tests.hub import FakeHub
from tests.live import collect, text_of
from tests.test_models_dir import parlour

REPO = "parlour-test/tiny-GGUF"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    server = FakeHub().start()
    yield server
    server.stop()


# huggingface_hub writes what arrives in pieces of this size: a cut connection loses
# what arrived since the last piece.
PIECE = constants.DOWNLOAD_CHUNK_SIZE
CUT = PIECE + PIECE // 2  # the server cuts the connection here: one piece is kept


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    """A GGUF header followed by 2.5 pieces of bytes that never repeat."""
    path = write_gguf(tmp_path / "source.gguf", name="Big Test Model")
    with path.open("ab") as f:
        f.write(os.urandom(PIECE * 5 // 2))
    return path


def at_a_terminal(tmp_path: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """Run the command line with its stderr on a pseudo-terminal (where a person would see
    the progress bar); returns the exit code, stdout and what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed its end
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = parlour(tmp_path, *args, stderr=slave, **env)
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return done.returncode, done.stdout, b"".join(shown).decode(errors="replace")


def models_in(tmp_path: Path) -> ModelsDir:
    return ModelsDir(tmp_path / "data" / "models")


def model_files(models: ModelsDir) -> list[str]:
    return sorted(p.name for p in models.directory.glob("*.gguf"))


needs_local = pytest.mark.skipif(
    not runtime_available() or bundled_model_path() is None,
    reason="the local model extra is not installed",
)


@needs_local
@pytest.mark.local_model
def test_a_pulled_model_answers_a_real_chat(
    tmp_path: Path, hub: FakeHub, make_server: ServerFactory
) -> None:
    bundled = bundled_model_path()
    assert bundled is not None
    hub.add(REPO, "tiny-chat.Q4_1.gguf", bundled)
    hub.add(REPO, "README.md", Path(__file__))  # not a model: not a choice to make
    code, out, terminal = at_a_terminal(tmp_path, "models", "pull", REPO, HF_ENDPOINT=hub.url)
    assert code == 0, terminal
    assert "pulled tiny-chat.Q4_1 (98.4 MB, checksum verified)" in out
    assert "tiny-chat.Q4_1.gguf: 100%" in terminal  # the progress bar, drawn on the terminal
    pulled = tmp_path / "data" / "models" / "tiny-chat.Q4_1.gguf"
    assert sha256(pulled) == sha256(bundled)
    assert [s.method for s in hub.seen if "/resolve/" in s.path] == ["HEAD", "GET"]

    server = make_server(openai_base_url=None, openai_api_key=None, local_enabled=True,
                         temperature=0.0, max_tokens=30, local_context_window=2048,
                         reply_reserve_tokens=256)  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=60) as client:
        models = {m["id"]: m for m in client.get("/api/v1/models").json()["models"]}
        assert models["tiny-chat.Q4_1"]["provider"] == "local"
        assert models["tiny-chat.Q4_1"]["context_window"] == 2048
        assert "SmolLM2-135M-Instruct.Q4_1" in models  # the bundled one, beside it
        sid = client.post("/api/v1/sessions", json={"model": "tiny-chat.Q4_1"}).json()["id"]
        events = collect(client, "POST", f"/api/v1/sessions/{sid}/messages",
                         json={"content": "Say hello."})  # fmt: skip
        stored = client.get(f"/api/v1/sessions/{sid}/messages").json()["items"]
    assert events[-1].event == "done"
    assert text_of(events).strip()
    assert stored[-1]["model"] == "tiny-chat.Q4_1"
    assert stored[-1]["content"] == text_of(events)


def test_an_interrupted_pull_resumes_on_the_next_one(
    tmp_path: Path, hub: FakeHub, big_file: Path
) -> None:
    hub.add(REPO, "big.gguf", big_file)
    models = models_in(tmp_path)
    hub.cut_after, hub.then_down = CUT, True  # cut mid-file, then the server is down
    arrived = f"{human_size(PIECE)} of {human_size(big_file.stat().st_size)}"
    with pytest.raises(PullError, match=rf"stopped .*What arrived \({arrived}\) is kept"):
        pull(models, Hub(endpoint=hub.url), REPO, "big.gguf")
    assert model_files(models) == []  # half a file is never a model
    assert [p.stat().st_size for p in models.partial_dir.iterdir()] == [PIECE]

    hub.down = False
    hub.seen.clear()
    done = pull(models, Hub(endpoint=hub.url), REPO, "big.gguf")
    assert done.resumed_from == PIECE
    assert [s.range for s in hub.downloads()] == [f"bytes={PIECE}-"]
    assert model_files(models) == ["big.gguf"]
    assert sha256(models.directory / "big.gguf") == sha256(big_file)
    assert list(models.partial_dir.iterdir()) == []


def test_a_connection_cut_within_a_pull_is_resumed_by_it(
    tmp_path: Path, hub: FakeHub, big_file: Path
) -> None:
    hub.add(REPO, "big.gguf", big_file)
    models = models_in(tmp_path)
    hub.cut_after = CUT
    done = pull(models, Hub(endpoint=hub.url), REPO, "big.gguf")
    assert [s.range for s in hub.downloads()] == [None, f"bytes={PIECE}-"]
    assert done.resumed_from == 0
    assert sha256(models.directory / "big.gguf") == sha256(big_file)


def test_a_corrupted_download_is_refused_and_leaves_no_file(
    tmp_path: Path, hub: FakeHub, big_file: Path
) -> None:
    hub.add(REPO, "big.gguf", big_file)
    models = models_in(tmp_path)
    hub.corrupt = True
    with pytest.raises(PullError, match="arrived damaged: its checksum does not match"):
        pull(models, Hub(endpoint=hub.url), REPO, "big.gguf")
    assert model_files(models) == []
    assert list(models.partial_dir.iterdir()) == []  # the next pull starts from nothing

    hub.corrupt = False
    pull(models, Hub(endpoint=hub.url), REPO, "big.gguf")
    assert sha256(models.directory / "big.gguf") == sha256(big_file)


def test_a_repo_with_several_models_asks_which_one(tmp_path: Path, hub: FakeHub) -> None:
    hub.add(REPO, "tiny.Q4_K_M.gguf", write_gguf(tmp_path / "a.gguf", tokens=100))
    hub.add(REPO, "tiny.Q8_0.gguf", write_gguf(tmp_path / "b.gguf", tokens=4000))
    asked = parlour(tmp_path, "models", "pull", REPO, HF_ENDPOINT=hub.url)
    assert asked.returncode == 1
    assert f"{REPO} has 2 .gguf files; name the one you want" in asked.stderr
    assert "tiny.Q4_K_M.gguf  (1.6 KB)" in asked.stderr
    assert "tiny.Q8_0.gguf  (59.2 KB)" in asked.stderr
    assert not hub.downloads()

    chosen = parlour(tmp_path, "models", "pull", REPO, "tiny.Q8_0.gguf", HF_ENDPOINT=hub.url)
    assert chosen.returncode == 0, chosen.stderr
    assert model_files(models_in(tmp_path)) == ["tiny.Q8_0.gguf"]
    again = parlour(tmp_path, "models", "pull", REPO, "tiny.Q8_0.gguf", HF_ENDPOINT=hub.url)
    assert again.returncode == 0
    assert "tiny.Q8_0 is already in" in again.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody/nothing"], "No repository nobody/nothing at http://127.0.0.1:"),
        ([REPO, "missing.gguf"], f"No file missing.gguf in {REPO} (at revision main)."),
        ([REPO, "README.md"], "README.md is not a GGUF file"),
        (["not a repo"], "'not a repo' is not a repository name"),
    ],
)
def test_what_cannot_be_pulled_is_said_plainly(
    tmp_path: Path, hub: FakeHub, args: list[str], message: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    hub.add(REPO, "tiny.gguf", write_gguf(tmp_path / "a.gguf"))
    monkeypatch.chdir(tmp_path)  # no .env file
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert main(["models", "pull", *args]) == 1
    assert message in capsys.readouterr().err
    assert not hub.downloads()
