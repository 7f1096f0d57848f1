"""Personas: the built-in ones, published ones, and the caller's own."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from parlour.personas import PersonaFields, export_persona
from parlour.web.deps import AdminPrincipal, Caller, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut, PersonaImport, PersonaIn, PersonaList, PersonaOut

router = APIRouter(
    prefix="/api/v1/personas",
    tags=["personas"],
    dependencies=[Depends(limit_writes)],
    responses={403: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)

COPY_SUFFIX = ("(copy)", "（副本）")


def fields_of(body: PersonaIn) -> PersonaFields:
    return PersonaFields(
        name_en=body.name_en,
        name_zh=body.name_zh,
        description_en=body.description_en,
        description_zh=body.description_zh,
        system_prompt=body.system_prompt,
        icon=body.icon,
        model=body.model,
        starters=tuple(body.starters) if body.starters is not None else None,
        use_memory=body.use_memory,
        params=body.params.changes() if body.params is not None else None,
    )


async def _checked_model(services: ServicesDep, body: PersonaIn) -> None:
    if body.model:
        services.models.check(body.model)


@router.get("")
async def list_personas(caller: Caller, services: ServicesDep) -> PersonaList:
    """Every persona you may use: built in, published by an administrator, your own."""
    return PersonaList(
        personas=[PersonaOut.of(p, caller) for p in await services.personas.visible(caller)],
        default=services.chat.default_persona,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_persona(body: PersonaIn, caller: Caller, services: ServicesDep) -> PersonaOut:
    await _checked_model(services, body)
    return PersonaOut.of(await services.personas.create(caller, fields_of(body)), caller)


@router.post("/import", status_code=status.HTTP_201_CREATED)
async def import_persona(body: PersonaImport, caller: Caller, services: ServicesDep) -> PersonaOut:
    """Make a persona of your own from an exported file."""
    await _checked_model(services, body)
    return PersonaOut.of(await services.personas.create(caller, fields_of(body)), caller)


@router.get("/{persona_id}")
async def get_persona(persona_id: str, caller: Caller, services: ServicesDep) -> PersonaOut:
    return PersonaOut.of(await services.personas.read(caller, persona_id), caller)


@router.patch("/{persona_id}")
async def update_persona(
    persona_id: str, body: PersonaIn, caller: Caller, services: ServicesDep
) -> PersonaOut:
    await _checked_model(services, body)
    persona = await services.personas.update(caller, persona_id, fields_of(body))
    return PersonaOut.of(persona, caller)


@router.delete("/{persona_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_persona(persona_id: str, caller: Caller, services: ServicesDep) -> Response:
    await services.personas.delete(caller, persona_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{persona_id}/duplicate", status_code=status.HTTP_201_CREATED)
async def duplicate_persona(persona_id: str, caller: Caller, services: ServicesDep) -> PersonaOut:
    """A copy of any persona you may use, as one of your own (to edit)."""
    copy = await services.personas.duplicate(caller, persona_id, suffix=COPY_SUFFIX)
    return PersonaOut.of(copy, caller)


@router.get("/{persona_id}/export")
async def export(persona_id: str, caller: Caller, services: ServicesDep) -> dict[str, object]:
    """The persona as a file (``format`` parlour.persona) that POST .../import takes."""
    return export_persona(await services.personas.read(caller, persona_id))


@router.put("/{persona_id}/published")
async def publish_persona(
    persona_id: str, admin: AdminPrincipal, services: ServicesDep
) -> PersonaOut:
    """Share one of your personas with everyone (administrators only)."""
    return PersonaOut.of(await services.personas.publish(admin.id, persona_id), admin.id)


@router.delete("/{persona_id}/published", status_code=status.HTTP_204_NO_CONTENT)
async def unpublish_persona(
    persona_id: str, _admin: AdminPrincipal, services: ServicesDep
) -> Response:
    await services.personas.unpublish(persona_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
