"""An upload read as a stream of conversations, in constant memory (blocking: run in a thread).

One conversation at a time is built, converted and handed on; the bytes read so far
are told to ``progress`` as they are read.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from parlour.importing import chatgpt, parlour_json
from parlour.importing.jsonstream import documents
from parlour.importing.limits import ImportLimits, reject
from parlour.importing.model import ImportedConversation, Skipped
from parlour.importing.source import parts

Item = ImportedConversation | Skipped
Progress = Callable[[int, int], None]


class _Counting:
    """A binary stream that tells how many bytes were read from it."""

    def __init__(self, raw: IO[bytes], told: Callable[[int], None]) -> None:
        self.raw = raw
        self.told = told
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if data:
            self.told(self.count)
        return data


def _offset(progress: Progress, before: int, total: int) -> Callable[[int], None]:
    return lambda n: progress(before + n, total)


def convert(doc: Any, limits: ImportLimits) -> Item:
    if parlour_json.is_parlour(doc):
        return parlour_json.convert(doc, limits)
    return chatgpt.convert(doc, limits)


def read_upload(path: Path, limits: ImportLimits, progress: Progress) -> Iterator[Item]:
    """Every conversation of the upload (or why it is skipped), in the file's order."""
    found = parts(path, limits)
    total = sum(p.size for p in found) or 1
    before = conversations = messages = 0
    for part in found:
        try:
            with part.open() as raw:
                stream = _Counting(raw, _offset(progress, before, total))
                for doc in documents(stream, limits):  # type: ignore[arg-type]
                    conversations += 1
                    if conversations > limits.max_conversations:
                        reject(
                            "import_too_many_conversations",
                            f"The file has more than {limits.max_conversations} conversations.",
                            status_code=413,
                        )
                    item = convert(doc, limits)
                    del doc
                    if isinstance(item, ImportedConversation):
                        messages += len(item.messages)
                        if messages > limits.max_total_messages:
                            reject(
                                "import_too_many_messages",
                                f"The file has more than {limits.max_total_messages} messages.",
                                status_code=413,
                            )
                    yield item
        except (zipfile.BadZipFile, zlib.error, EOFError):
            reject("import_bad_zip", f"{part.name} in the ZIP is damaged.")
        before += part.size
    progress(total, total)
