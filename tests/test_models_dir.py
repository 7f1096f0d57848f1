"""The models directory: what is listed as a local model, and ``parlour models list`` / ``rm``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parlour.models_dir import ModelsDir, UnknownLocalModel
from tests.gguf_files import write_gguf


def test_every_gguf_file_is_listed_with_its_name_and_context(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    write_gguf(models / "qwen-small.Q4_K_M.gguf", name="Qwen Small", context=32768)
    write_gguf(models / "Another.gguf", name=None, context=None)
    (models / "notes.txt").write_text("not a model")
    write_gguf(models / ".hidden.gguf")
    (models / ".partial").mkdir()
    write_gguf(models / ".partial" / "half.gguf.0123.part")
    listed = ModelsDir(models).scan()
    assert [(m.id, m.name, m.context_length, m.problem) for m in listed] == [
        ("Another", "Another", None, None),
        ("qwen-small.Q4_K_M", "Qwen Small", 32768, None),
    ]
    assert listed[1].size == (models / "qwen-small.Q4_K_M.gguf").stat().st_size


def test_a_file_moved_in_or_removed_shows_at_the_next_listing(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    listing = ModelsDir(models)
    assert listing.scan() == []
    staged = write_gguf(tmp_path / "new.gguf")
    os.replace(staged, models / "new.gguf")  # how a pull lands its file
    assert [m.id for m in listing.scan()] == ["new"]
    (models / "new.gguf").unlink()
    assert listing.scan() == []


def test_a_missing_directory_lists_only_the_bundled_model(tmp_path: Path) -> None:
    bundled = write_gguf(tmp_path / "Bundled.gguf", name="Bundled One")
    listed = ModelsDir(tmp_path / "nowhere", bundled).scan()
    assert [(m.id, m.bundled) for m in listed] == [("Bundled", True)]


def test_damaged_and_duplicate_files_are_listed_with_the_reason_not_offered(
    tmp_path: Path,
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    bundled = write_gguf(tmp_path / "Same.gguf")
    write_gguf(models / "Same.gguf")
    (models / "broken.gguf").write_bytes(b"<html>not found</html>")
    listing = ModelsDir(models, bundled)
    assert [(m.id, m.bundled, m.problem) for m in listing.scan()] == [
        ("Same", True, None),
        ("broken", False, "not a GGUF file"),
        ("Same", False, "the same name as the bundled model"),
    ]
    assert [m.id for m in listing.available()] == ["Same"]


def test_rm_deletes_the_file_and_refuses_the_bundled_and_unknown_names(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    bundled = write_gguf(tmp_path / "Bundled.gguf")
    write_gguf(models / "mine.gguf")
    listing = ModelsDir(models, bundled)
    unknown = r"No local model is named 'nope'; the local models: Bundled, mine\."
    with pytest.raises(UnknownLocalModel, match=unknown):
        listing.remove("nope")
    with pytest.raises(UnknownLocalModel, match="is the bundled model"):
        listing.remove("Bundled")
    assert listing.remove("mine.gguf").id == "mine"
    assert not (models / "mine.gguf").exists()
    assert bundled.exists()
    assert [m.id for m in listing.scan()] == ["Bundled"]


def parlour(
    tmp_path: Path, *args: str, stderr: int = subprocess.PIPE, **env: str
) -> subprocess.CompletedProcess[str]:
    """The real command line, in a directory of its own (no .env file), with ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MODELS_", "LOCAL_"))}
    return subprocess.run(
        [sys.executable, "-m", "parlour", *args],
        env={**base, "DATA_DIR": str(tmp_path / "data"),
             "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"), **env},
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=stderr, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def test_the_cli_lists_and_removes_models(tmp_path: Path) -> None:
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    write_gguf(models / "tiny-a.gguf", tokens=2000)
    bundled = write_gguf(tmp_path / "Chosen.gguf")
    env = {"LOCAL_MODEL_PATH": str(bundled)}
    listed = parlour(tmp_path, "models", "list", **env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "PATH"]
    assert lines[1].split()[0] == "Chosen"
    assert lines[1].endswith("(bundled)")
    assert lines[2].split()[:3] == ["tiny-a", "29.2", "KB"]
    assert str(models / "tiny-a.gguf") in lines[2]

    gone = parlour(tmp_path, "models", "rm", "tiny-a", **env)
    assert gone.returncode == 0, gone.stderr
    assert "removed tiny-a" in gone.stdout
    assert not (models / "tiny-a.gguf").exists()

    unknown = parlour(tmp_path, "models", "rm", "tiny-a", **env)
    assert unknown.returncode == 1
    assert "No local model is named 'tiny-a'; the local models: Chosen." in unknown.stderr
    assert "Traceback" not in unknown.stderr
