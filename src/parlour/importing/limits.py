"""The bounds an import is held to (all settings: ``IMPORT_*``), and the error past them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from parlour.config import Settings
from parlour.errors import ImportRejected


@dataclass(frozen=True, slots=True)
class ImportLimits:
    max_upload_bytes: int = 256 * 1024 * 1024  # the file as sent
    max_unpacked_bytes: int = 1024 * 1024 * 1024  # a ZIP's members read, in total
    max_ratio: int = 100  # a ZIP member's size over its compressed size
    max_depth: int = 64  # nesting of objects and lists
    max_string_chars: int = 1_000_000  # one text
    max_items: int = 100_000  # entries of one object or list
    max_conversations: int = 20_000  # in one file
    max_messages: int = 10_000  # in one conversation (also HISTORY_MAX_MESSAGES)
    max_total_messages: int = 1_000_000  # in one file

    @classmethod
    def of(cls, settings: Settings) -> ImportLimits:
        return cls(
            max_upload_bytes=settings.import_max_upload_bytes,
            max_unpacked_bytes=settings.import_max_unpacked_bytes,
            max_ratio=settings.import_max_ratio,
            max_depth=settings.import_max_depth,
            max_string_chars=settings.import_max_string_chars,
            max_items=settings.import_max_items,
            max_conversations=settings.import_max_conversations,
            max_messages=min(settings.import_max_messages, settings.history_max_messages),
            max_total_messages=settings.import_max_total_messages,
        )


def reject(code: str, message: str, *, status_code: int = 422) -> NoReturn:
    raise ImportRejected(code, message, status_code=status_code)
