"""Models: what each provider offers now, the caller's default, and a refresh for admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from parlour.providers.discovery import MODELS_REFRESHED
from parlour.web.deps import AdminPrincipal, Caller, ServicesDep, current_principal, limit_writes
from parlour.web.schemas import DefaultModelIn, ErrorOut, ModelList, ModelOut, ProviderOut

# With accounts, only signed-in people see what this server offers.
router = APIRouter(
    prefix="/api/v1",
    tags=["catalog"],
    dependencies=[Depends(current_principal)],
    responses={403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


async def _listing(services: ServicesDep, owner: str) -> ModelList:
    models = services.models
    own = await services.preferences.default_model(owner) if services.preferences else None
    providers = []
    for provider, infos in models.grouped():
        catalogue = getattr(provider, "catalogue", None)
        providers.append(
            ProviderOut(
                name=provider.name,
                available=catalogue.available if catalogue else True,
                reason=catalogue.reason if catalogue else "",
                checked_at=catalogue.checked_at if catalogue else None,
                listed=catalogue.listed if catalogue else False,
                models=[ModelOut.of(m) for m in infos],
            )
        )
    return ModelList(
        models=[ModelOut.of(m) for m in models.models()],
        default=models.default_model if models.configured else None,
        user_default=own if own and models.known(own) else None,
        providers=providers,
    )


@router.get("/models")
async def list_models(services: ServicesDep, caller: Caller) -> ModelList:
    """Every model, and the same grouped by provider. Lists come from each provider's
    `GET /models`, read in the background: a provider that is down shows here with its
    models unavailable and the reason, without slowing this answer."""
    return await _listing(services, caller)


@router.put("/models/default", dependencies=[Depends(limit_writes)])
async def set_default_model(
    body: DefaultModelIn, services: ServicesDep, caller: Caller
) -> ModelList:
    """The caller's default model for new conversations (`null`: the server's)."""
    if body.model is not None:
        services.models.check(body.model)
    assert services.preferences is not None  # made by the lifespan
    await services.preferences.set_default_model(caller, body.model)
    return await _listing(services, caller)


@router.post("/models/refresh", dependencies=[Depends(limit_writes)])
async def refresh_models(
    _admin: AdminPrincipal, services: ServicesDep, caller: Caller
) -> ModelList:
    """Read every provider's model list again now (each within MODELS_DISCOVERY_TIMEOUT),
    here and in every other process of this server."""
    if services.discovery is not None:
        await services.discovery.refresh()
    if services.live is not None:
        services.live.broadcast(MODELS_REFRESHED)
    return await _listing(services, caller)
