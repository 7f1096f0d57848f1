"""The parts of an uploaded file that hold conversations, checked before anything is read.

An upload is a ZIP (a ChatGPT data export as downloaded) or JSON text (its
``conversations.json``, one shard of it, or Parlour's own export). In a ZIP the
conversations are ``conversations.json`` or, in the sharded form,
``conversations-000.json``, ``conversations-001.json``… read in the order a manifest
lists them (a JSON file naming the shards: ``manifest.json``, ``conversations-index.json``
or a ``conversations.json`` that is an object), else by their numbers. A ZIP without
either is read for Parlour exports (its ``.json`` members).

Zip bombs are refused from the ZIP's directory before a byte is unpacked: each member's
size, the total and each member's compression ratio are bounded; a member is never
unpacked past the size its directory entry declares (``zipfile`` stops there).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from parlour.importing.jsonstream import documents
from parlour.importing.limits import ImportLimits, reject

_SHARD = re.compile(r"conversations-(\d{1,6})\.json")
_MANIFESTS = ("manifest.json", "conversations-index.json", "conversations.index.json")
_RATIO_FROM = 1 << 20  # small members may compress well: ratios count from 1 MiB
_MANIFEST_MAX = 1 << 20


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    size: int  # bytes it unpacks to
    open: Callable[[], IO[bytes]]


def parts(path: Path, limits: ImportLimits) -> list[Part]:
    """The parts of the upload at ``path`` to read, in order (raises ImportRejected)."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head.startswith(b"PK"):
        return _zip_parts(path, limits)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start not in (b"[", b"{"):
        reject(
            "import_unknown_format",
            "This is not a ChatGPT export (ZIP or conversations.json) or a Parlour export.",
        )
    return [Part(path.name, path.stat().st_size, lambda: path.open("rb"))]


def _zip_parts(path: Path, limits: ImportLimits) -> list[Part]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        reject("import_bad_zip", "The ZIP file is damaged or not a ZIP file.")
    with archive:
        members = {PurePosixPath(i.filename).name: i for i in archive.infolist() if not i.is_dir()}
    shards = sorted(
        (int(m.group(1)), info) for name, info in members.items() if (m := _SHARD.fullmatch(name))
    )
    chosen: list[zipfile.ZipInfo]
    if shards:
        listed = _manifest(path, members, limits)
        if listed is None:
            chosen = [info for _n, info in shards]
        else:
            missing = [n for n in listed if n not in members]
            if missing:
                reject(
                    "import_missing_shard",
                    f"The manifest lists {missing[0]}, which is not in the ZIP.",
                )
            chosen = [members[n] for n in listed]
    elif "conversations.json" in members:
        chosen = [members["conversations.json"]]
    else:
        chosen = [i for n, i in sorted(members.items()) if n.endswith(".json")]
    if not chosen:
        reject("import_no_conversations", "The ZIP has no conversations.json.")
    _check_sizes(chosen, limits)
    return [Part(i.filename, i.file_size, _opener(path, i)) for i in chosen]


def _check_sizes(chosen: list[zipfile.ZipInfo], limits: ImportLimits) -> None:
    total = 0
    for info in chosen:
        if info.flag_bits & 0x1:
            reject("import_bad_zip", "The ZIP is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            reject("import_bad_zip", "The ZIP uses a compression method Parlour cannot read.")
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > _RATIO_FROM and ratio > limits.max_ratio:
            reject(
                "import_zip_bomb",
                f"{info.filename} unpacks to {ratio:.0f} times its size (at most "
                f"{limits.max_ratio}): refused as a possible zip bomb.",
                status_code=413,
            )
        if total > limits.max_unpacked_bytes:
            reject(
                "import_too_large",
                f"The ZIP unpacks to more than {limits.max_unpacked_bytes} bytes.",
                status_code=413,
            )


def _opener(path: Path, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        archive = zipfile.ZipFile(path)
        member = archive.open(info)
        closing = member.close

        def close() -> None:  # the archive closes with its member
            closing()
            archive.close()

        member.close = close  # type: ignore[method-assign]
        return member

    return open_member


def _manifest(
    path: Path, members: dict[str, zipfile.ZipInfo], limits: ImportLimits
) -> list[str] | None:
    """The shard names a manifest lists, in its order; None when there is none."""
    for name in (*_MANIFESTS, "conversations.json"):
        info = members.get(name)
        if info is None or info.file_size > _MANIFEST_MAX:
            continue
        _check_sizes([info], limits)
        with _opener(path, info)() as f:
            found = list(documents(f, limits))  # a list's entries, or the one object
        whole = found[0] if len(found) == 1 and isinstance(found[0], dict) else found
        names = _shard_names(whole)
        if names is not None:
            return names
    return None


def _shard_names(doc: Any) -> list[str] | None:
    if isinstance(doc, dict):
        for key in ("shards", "files", "conversations", "parts"):
            if isinstance(doc.get(key), list):
                doc = doc[key]
                break
        else:
            return None
    if not isinstance(doc, list):
        return None
    names: list[str] = []
    for entry in doc:
        if isinstance(entry, dict):
            entry = next(
                (
                    entry[k]
                    for k in ("file", "filename", "name", "path")
                    if isinstance(entry.get(k), str)
                ),
                None,
            )
        if not isinstance(entry, str):
            return None
        names.append(PurePosixPath(entry).name)
    return names or None
