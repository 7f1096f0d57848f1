"""Models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from parlour.web.deps import ServicesDep, current_principal
from parlour.web.schemas import ModelList, ModelOut

# With accounts, only signed-in people see what this server offers.
router = APIRouter(prefix="/api/v1", tags=["catalog"], dependencies=[Depends(current_principal)])


@router.get("/models")
async def list_models(services: ServicesDep) -> ModelList:
    models = services.models
    return ModelList(
        models=[ModelOut.of(m) for m in models.models()],
        default=models.default_model if models.configured else None,
    )
