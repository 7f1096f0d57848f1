"""The built-in personas and their lookup."""

from __future__ import annotations

from collections.abc import Iterable

from parlour.domain import Persona
from parlour.errors import UnknownPersona

BUILTIN_PERSONAS: tuple[Persona, ...] = (
    Persona(
        id="assistant",
        name_en="Assistant",
        name_zh="智能助手",
        description_en="A friendly, professional helper for everyday questions.",
        description_zh="友善专业，适合日常问答。",
        system_prompt=(
            "You are a friendly and professional AI assistant. Answer accurately and "
            "concisely, ask when something is unclear, and reply in the language the "
            "user writes in."
        ),
        icon="💬",
    ),
    Persona(
        id="teacher",
        name_en="Teacher",
        name_zh="AI老师",
        description_en="A patient teacher who explains ideas step by step.",
        description_zh="耐心教学，善于解释复杂概念。",
        system_prompt=(
            "You are a patient, encouraging teacher. Explain concepts step by step with "
            "simple examples, check understanding, and reply in the language the user "
            "writes in."
        ),
        icon="🧑‍🏫",
    ),
    Persona(
        id="programmer",
        name_en="Programmer",
        name_zh="编程专家",
        description_en="An expert programmer for code, debugging and design advice.",
        description_zh="技术专业，提供代码建议。",
        system_prompt=(
            "You are an expert software engineer. Give precise technical answers, show "
            "code in fenced Markdown blocks with the language named, point out pitfalls, "
            "and reply in the language the user writes in."
        ),
        icon="🧑‍💻",
    ),
)


class PersonaCatalog:
    """Looks personas up by id."""

    def __init__(self, personas: Iterable[Persona] = BUILTIN_PERSONAS) -> None:
        self._by_id = {p.id: p for p in personas}

    def all(self) -> list[Persona]:
        return list(self._by_id.values())

    def ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, persona_id: str) -> Persona:
        try:
            return self._by_id[persona_id]
        except KeyError:
            raise UnknownPersona(persona_id, self.ids()) from None
