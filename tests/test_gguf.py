"""Reading a GGUF file's header: the name, architecture and context length a listing shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from parlour.gguf import GGUFError, GGUFHeader, read_header
from tests.gguf_files import write_gguf


def test_reads_the_name_architecture_and_context_past_an_array(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", name="Qwen Small", arch="qwen2", context=32768,
                      tokens=500)  # fmt: skip
    assert read_header(path) == GGUFHeader("Qwen Small", "qwen2", 32768)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": None}, GGUFHeader(None, "llama", 4096)),
        ({"context": None}, GGUFHeader("Tiny Test Model", "llama", None)),
        ({"name": "   "}, GGUFHeader(None, "llama", 4096)),
        ({"version": 2}, GGUFHeader("Tiny Test Model", "llama", 4096)),
    ],
)
def test_what_is_missing_is_none(tmp_path: Path, kwargs: dict, expected: GGUFHeader) -> None:  # type: ignore[type-arg]
    assert read_header(write_gguf(tmp_path / "a.gguf", **kwargs)) == expected


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not a GGUF file"),
        (b"PK\x03\x04 a zip file", "not a GGUF file"),
        (b"GGUF\x07\x00\x00\x00", "GGUF version 7"),
        (
            b"GGUF\x03\x00\x00\x00" + b"\x00" * 8 + b"\x05\x00\x00\x00\x00\x00\x00\x00",
            "ends inside its header",
        ),
        (
            b"GGUF\x03\x00\x00\x00" + b"\x00" * 8 + b"\x01" + b"\x00" * 7 + b"\xff" * 8,
            "impossibly long string",
        ),
    ],
)
def test_a_damaged_header_is_refused_with_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(GGUFError, match=reason):
        read_header(path)


def test_a_file_cut_inside_its_header_is_refused(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "a.gguf", tokens=200)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(GGUFError, match="ends inside its header"):
        read_header(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GGUFError, match="cannot be read"):
        read_header(tmp_path / "none.gguf")
