"""Small GGUF files written by hand, for the tests that read headers and list models."""

from __future__ import annotations

import struct
from pathlib import Path

_U32, _STRING, _ARRAY, _U64 = 4, 8, 9, 10


def _str(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(
    path: Path,
    *,
    name: str | None = "Tiny Test Model",
    arch: str = "llama",
    context: int | None = 4096,
    tokens: int = 3,
    version: int = 3,
) -> Path:
    """A GGUF header (no tensors): a name, an architecture, a vocabulary array placed
    before the context length (so reading it skips an array), and the context length."""
    entries: list[bytes] = []
    entries.append(_str("general.architecture") + struct.pack("<I", _STRING) + _str(arch))
    if name is not None:
        entries.append(_str("general.name") + struct.pack("<I", _STRING) + _str(name))
    vocab = b"".join(_str(f"tok{i}") for i in range(tokens))
    entries.append(_str("tokenizer.ggml.tokens") + struct.pack("<IIQ", _ARRAY, _STRING, tokens)
                   + vocab)  # fmt: skip
    entries.append(_str("tokenizer.ggml.scores") + struct.pack("<IIQ", _ARRAY, 6, 2)
                   + struct.pack("<ff", 0.5, 0.25))  # fmt: skip
    if context is not None:
        entries.append(_str(f"{arch}.context_length") + struct.pack("<II", _U32, context))
    entries.append(_str("general.file_type") + struct.pack("<IQ", _U64, 3))
    header = b"GGUF" + struct.pack("<IQQ", version, 0, len(entries))
    path.write_bytes(header + b"".join(entries))
    return path
