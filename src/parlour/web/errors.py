"""Maps Parlour's error tree (and a few library errors) to HTTP responses, in one place."""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ClusterDownError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from parlour.errors import ParlourError, StorageUnavailable

log = logging.getLogger(__name__)


def error_response(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    retry_after: float | None = None,
) -> JSONResponse:
    """The one error body: ``error`` has the fields of a stream's ``failure`` event."""
    error: dict[str, object] = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = retry_after
        headers = {**(headers or {}), "Retry-After": str(math.ceil(retry_after))}
    return JSONResponse({"detail": message, "error": error}, status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        kind = err.get("type", "")
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        if kind == "json_invalid":
            parts.append("The request body is not valid JSON.")
        elif kind == "missing":
            parts.append(f"'{where}' is required." if where else "The request body is required.")
        elif kind == "extra_forbidden":
            parts.append(f"'{where}' is not a known field.")
        elif kind in ("model_attributes_type", "dict_type"):
            parts.append("The request body must be a JSON object.")
        else:
            msg = str(err.get("msg", "is not valid"))
            parts.append(f"'{where}': {msg}." if where else f"{msg}.")
    # A parameter several dependencies take is reported by each: say it once.
    return " ".join(dict.fromkeys(parts)) or "The request is not valid."


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ParlourError)
    async def parlour_error(_request: Request, exc: ParlourError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("request failed: %s", exc.code)
        return error_response(exc.status_code, exc.code, exc.message, retry_after=exc.retry_after)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    @app.exception_handler(ClusterDownError)  # a cluster that lost a master answers this
    async def redis_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("Redis unavailable: %s", type(exc).__name__)
        err = StorageUnavailable()
        return error_response(err.status_code, err.code, err.message, retry_after=2)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_input", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {404: "Not found.", 405: "This method is not allowed here."}
        message = exc.detail if isinstance(exc.detail, str) else messages.get(exc.status_code, "")
        if exc.status_code in messages and message in ("Not Found", "Method Not Allowed"):
            message = messages[exc.status_code]
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, f"http_{exc.status_code}", message, headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
        err = ParlourError()
        return error_response(500, err.code, err.message)
