"""Models."""

from __future__ import annotations

from fastapi import APIRouter

from parlour.web.deps import ServicesDep
from parlour.web.schemas import ModelList, ModelOut

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/models")
async def list_models(services: ServicesDep) -> ModelList:
    models = services.models
    return ModelList(
        models=[ModelOut.of(m) for m in models.models()],
        default=models.default_model if models.configured else None,
    )
