"""Liveness and readiness."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.exceptions import RedisError

from parlour.cluster import ping
from parlour.errors import Forbidden, Unauthorized
from parlour.web.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Redis (on a cluster: every master) answers and a model is configured."""
    checks: dict[str, bool] = {"model": services.models.configured}
    try:
        checks["redis"] = await ping(services.store.redis)
    except RedisError:
        checks["redis"] = False
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


def _may_read_metrics(request: Request, services: ServicesDep) -> None:
    """With METRICS_TOKEN, only its bearer reads /metrics; without one, it is open in
    single-user mode (loopback) and closed with accounts."""
    token = services.settings.metrics_token
    if token is None:
        if services.settings.auth_mode == "password":
            raise Forbidden(
                "Metrics are off with accounts unless METRICS_TOKEN is set.", code="metrics_off"
            )
        return
    sent = request.headers.get("authorization", "")
    expected = "Bearer " + token.get_secret_value()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Unauthorized("Metrics need Authorization: Bearer <METRICS_TOKEN>.")


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus metrics."""
    _may_read_metrics(request, services)
    return Response(request.app.state.metrics.expose(), media_type=CONTENT_TYPE_LATEST)
