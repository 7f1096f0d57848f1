"""Personas: the built-in ones, the ones people make, and filling a system prompt.

Built-in personas are read-only. A signed-in user makes, edits, duplicates and deletes
their own; an administrator may publish one to everyone, who can use and duplicate it
but not change it. Another user's persona answers as a missing one does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from parlour.domain import Persona, new_id, now
from parlour.errors import Forbidden, InvalidInput, NotFound, UnknownPersona
from parlour.sampling import SAMPLING
from parlour.store.personas import PersonaStore

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


# --- the personas people make ----------------------------------------------------

MAX_NAME = 60
MAX_DESCRIPTION = 300
MAX_PROMPT = 8_000
MAX_STARTERS = 4
MAX_STARTER = 200
MAX_ICON = 16
MAX_OWN = 100
EXPORT_FORMAT = "parlour.persona"


@dataclass(frozen=True, slots=True)
class PersonaFields:
    """What a person sets on a persona (all optional in a change)."""

    name_en: str | None = None
    name_zh: str | None = None
    description_en: str | None = None
    description_zh: str | None = None
    system_prompt: str | None = None
    icon: str | None = None
    model: str | None = None
    starters: tuple[str, ...] | None = None
    use_memory: bool | None = None
    # Changes to its sampling parameters (None among them: unset that one); the ranges
    # were checked by the request's schema (parlour.sampling).
    params: Mapping[str, float | int | None] | None = None


def _text(value: str, what: str, most: int) -> str:
    value = value.strip()
    if len(value) > most:
        raise InvalidInput(f"The {what} is too long: {len(value)} characters, at most {most}.")
    if "\x00" in value:
        raise InvalidInput(f"The {what} contains a NUL character.")
    return value


def _checked(persona: Persona) -> Persona:
    if not (persona.name_en or persona.name_zh):
        raise InvalidInput("A persona needs a name (in English or Chinese).")
    if not persona.system_prompt.strip():
        raise InvalidInput("A persona needs a system prompt.")
    return persona


class Personas:
    """Every persona a caller may use: built in, published, and their own."""

    def __init__(self, catalog: PersonaCatalog, store: PersonaStore) -> None:
        self.catalog = catalog
        self.store = store

    async def visible(self, owner: str) -> list[Persona]:
        builtin = self.catalog.all()
        return [*builtin, *await self.store.published(), *await self.store.own(owner)]

    async def find(self, owner: str, pid: str) -> Persona | None:
        try:
            return self.catalog.get(pid)
        except UnknownPersona:
            pass
        return await self.store.get_own(owner, pid) or await self.store.get_published(pid)

    async def get(self, owner: str, pid: str) -> Persona:
        """A persona ``owner`` may use, for choosing one: else :class:`UnknownPersona`."""
        found = await self.find(owner, pid)
        if found is None:
            raise UnknownPersona(pid, [p.id for p in await self.visible(owner)][:20])
        return found

    async def read(self, owner: str, pid: str) -> Persona:
        """A persona ``owner`` may see, for the API: else :class:`NotFound`."""
        found = await self.find(owner, pid)
        if found is None:
            raise NotFound("This persona does not exist.")
        return found

    async def create(self, owner: str, fields: PersonaFields) -> Persona:
        if await self.store.count_own(owner) >= MAX_OWN:
            raise InvalidInput(f"You have {MAX_OWN} personas, the most one can keep. "
                               "Delete one first.")  # fmt: skip
        ts = now()
        blank = Persona(new_id(), "", "", "", "", "", owner=owner, created_at=ts, updated_at=ts)
        persona = _checked(self._apply(blank, fields))
        await self.store.save_own(persona)
        return persona

    async def update(self, owner: str, pid: str, fields: PersonaFields) -> Persona:
        current = await self._own(owner, pid)
        persona = _checked(replace(self._apply(current, fields), updated_at=now()))
        await self.store.save_own(persona)
        return persona

    async def delete(self, owner: str, pid: str) -> None:
        await self._own(owner, pid)
        await self.store.delete_own(owner, pid)

    async def duplicate(self, owner: str, pid: str, *, suffix: tuple[str, str]) -> Persona:
        source = await self.read(owner, pid)
        en, zh = suffix
        return await self.create(
            owner,
            PersonaFields(
                name_en=f"{source.name_en} {en}".strip() if source.name_en else "",
                name_zh=f"{source.name_zh}{zh}" if source.name_zh else "",
                description_en=source.description_en,
                description_zh=source.description_zh,
                system_prompt=source.system_prompt,
                icon=source.icon,
                model=source.model,
                starters=source.starters,
                use_memory=source.use_memory,
                params={name: getattr(source.params, name) for name in SAMPLING},
            ),
        )

    async def publish(self, owner: str, pid: str) -> Persona:
        """Share one of ``owner``'s personas with everyone (administrators only)."""
        persona = replace(await self._own(owner, pid), published=True, updated_at=now())
        await self.store.publish(persona)
        return persona

    async def unpublish(self, pid: str) -> None:
        if not await self.store.unpublish(pid):
            raise NotFound("This persona is not published.")

    async def _own(self, owner: str, pid: str) -> Persona:
        own = await self.store.get_own(owner, pid)
        if own is not None:
            return own
        if await self.find(owner, pid) is not None:
            raise Forbidden(
                "This persona is read-only. Duplicate it to make a version of your own.",
                code="persona_read_only",
            )
        raise NotFound("This persona does not exist.")

    @staticmethod
    def _apply(persona: Persona, f: PersonaFields) -> Persona:
        changes: dict[str, Any] = {}
        for name, most in (("name_en", MAX_NAME), ("name_zh", MAX_NAME),
                           ("description_en", MAX_DESCRIPTION),
                           ("description_zh", MAX_DESCRIPTION),
                           ("system_prompt", MAX_PROMPT), ("icon", MAX_ICON)):  # fmt: skip
            value = getattr(f, name)
            if value is not None:
                changes[name] = _text(value, name.replace("_", " "), most)
        if f.model is not None:
            changes["model"] = f.model.strip() or None
        if f.use_memory is not None:
            changes["use_memory"] = f.use_memory
        if f.starters is not None:
            starters = tuple(_text(x, "starter prompt", MAX_STARTER) for x in f.starters)
            if len(starters) > MAX_STARTERS:
                raise InvalidInput(f"A persona has at most {MAX_STARTERS} starter prompts.")
            changes["starters"] = tuple(x for x in starters if x)
        if f.params is not None:
            sampling = {k: v for k, v in f.params.items() if k in SAMPLING}
            changes["params"] = replace(persona.params, **sampling)  # type: ignore[arg-type]
        return replace(persona, **changes)


def export_persona(persona: Persona) -> dict[str, object]:
    """A persona as a file people can share and import."""
    return {
        "format": EXPORT_FORMAT,
        "version": 1,
        "name_en": persona.name_en,
        "name_zh": persona.name_zh,
        "description_en": persona.description_en,
        "description_zh": persona.description_zh,
        "system_prompt": persona.system_prompt,
        "icon": persona.icon,
        "model": persona.model,
        "starters": list(persona.starters),
        "use_memory": persona.use_memory,
        "params": {k: v for k, v in asdict(persona.params).items() if v is not None},
    }


# --- system prompt variables -------------------------------------------------------

_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
LANGUAGES = {"zh": "Chinese", "en": "English"}
VARIABLES = ("date", "time", "weekday", "user_name", "language")


def fill_prompt(
    prompt: str, *, user_name: str = "", language: str = "", moment: float | None = None
) -> str:
    """The system prompt with ``{{date}}``, ``{{time}}`` (UTC), ``{{weekday}}``,
    ``{{user_name}}`` and ``{{language}}`` filled in; unknown ones are left as written."""
    if "{{" not in prompt:
        return prompt
    at = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    lang = language.split("-")[0].lower()
    values: Mapping[str, str] = {
        "date": at.strftime("%Y-%m-%d"),
        "time": at.strftime("%H:%M UTC"),
        "weekday": at.strftime("%A"),
        "user_name": user_name,
        "language": LANGUAGES.get(lang, language),
    }
    return _VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), prompt)
