"""What a GGUF file says about itself, read from its header without loading it.

A GGUF file starts with ``GGUF``, a version (2 or 3), the number of tensors and
of metadata entries, then the entries: a key (a length-prefixed UTF-8 string), a
value type and the value (a number, a string, or an array of either). Parlour
needs three of them to list a model: ``general.name`` (its display name),
``general.architecture`` and ``<architecture>.context_length`` (the context it
was trained for). Reading stops once they are found, so a vocabulary of 150,000
tokens stored after them is never read; an array before them is skipped by
seeking past it (its items' lengths still have to be read when they are strings).

A file that is not a GGUF, or whose header is cut short or absurd, raises
:class:`GGUFError`: the listing marks it as unreadable instead of offering it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"GGUF"
# Past these, a header is damaged (or hostile): no real file comes near them.
_MAX_STRING = 1 << 24  # 16 MiB
_MAX_ENTRIES = 1 << 20
_MAX_ITEMS = 1 << 26

_STRING, _ARRAY = 8, 9
# Fixed-size value types: struct format by type number.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip


class GGUFError(ValueError):
    """The file is not a readable GGUF model."""


@dataclass(frozen=True, slots=True)
class GGUFHeader:
    name: str | None  # general.name
    architecture: str | None  # general.architecture
    context_length: int | None  # <architecture>.context_length


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise GGUFError("the file ends inside its header")
    return data


def _u32(f: BinaryIO) -> int:
    return int(struct.unpack("<I", _read(f, 4))[0])


def _u64(f: BinaryIO) -> int:
    return int(struct.unpack("<Q", _read(f, 8))[0])


def _string(f: BinaryIO) -> str:
    length = _u64(f)
    if length > _MAX_STRING:
        raise GGUFError("the header holds an impossibly long string")
    return _read(f, length).decode("utf-8", errors="replace")


def _value(f: BinaryIO, kind: int) -> object:
    if kind == _STRING:
        return _string(f)
    fmt = _SCALARS.get(kind)
    if fmt is None:
        raise GGUFError(f"the header holds an unknown value type ({kind})")
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _skip_array(f: BinaryIO) -> None:
    kind, count = _u32(f), _u64(f)
    if count > _MAX_ITEMS:
        raise GGUFError("the header holds an impossibly long array")
    if kind == _STRING:
        for _ in range(count):
            length = _u64(f)
            if length > _MAX_STRING:
                raise GGUFError("the header holds an impossibly long string")
            f.seek(length, 1)
        return
    fmt = _SCALARS.get(kind)
    if fmt is None:  # arrays of arrays exist in the format, not in models
        raise GGUFError(f"the header holds an array of an unknown type ({kind})")
    f.seek(struct.calcsize(fmt) * count, 1)


def read_header(path: Path) -> GGUFHeader:
    """The display name, architecture and trained context length of a GGUF file."""
    try:
        with path.open("rb") as f:
            return _parse(f)
    except OSError as exc:
        raise GGUFError(f"the file cannot be read ({exc.strerror or type(exc).__name__})") from None


def _parse(f: BinaryIO) -> GGUFHeader:
    if f.read(4) != MAGIC:
        raise GGUFError("not a GGUF file")
    version = _u32(f)
    if version not in (2, 3):
        raise GGUFError(f"GGUF version {version} is not supported")
    _tensors, entries = _u64(f), _u64(f)
    if entries > _MAX_ENTRIES:
        raise GGUFError("the header claims an impossible number of entries")
    found: dict[str, object] = {}
    for _ in range(entries):
        key = _string(f)
        kind = _u32(f)
        if kind == _ARRAY:
            _skip_array(f)
            continue
        value = _value(f, kind)
        if key in ("general.name", "general.architecture") or key.endswith(".context_length"):
            found[key] = value
        arch = found.get("general.architecture")
        if "general.name" in found and arch and f"{arch}.context_length" in found:
            break
    arch = found.get("general.architecture")
    context = found.get(f"{arch}.context_length") if arch else None
    name = found.get("general.name")
    return GGUFHeader(
        name=name.strip() or None if isinstance(name, str) else None,
        architecture=arch if isinstance(arch, str) else None,
        context_length=int(context) if isinstance(context, int) and context > 0 else None,
    )
