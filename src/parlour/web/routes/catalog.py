"""Personas and models."""

from __future__ import annotations

from fastapi import APIRouter

from parlour.web.deps import ServicesDep
from parlour.web.schemas import ModelList, ModelOut, PersonaList, PersonaOut

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/personas")
async def list_personas(services: ServicesDep) -> PersonaList:
    return PersonaList(
        personas=[PersonaOut.of(p) for p in services.personas.all()],
        default=services.chat.default_persona,
    )


@router.get("/models")
async def list_models(services: ServicesDep) -> ModelList:
    models = services.models
    return ModelList(
        models=[ModelOut.of(m) for m in models.models()],
        default=models.default_model if models.configured else None,
    )
