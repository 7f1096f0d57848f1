"""Import conversations: upload a file (streamed to disk), follow the job, read its report."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from parlour.errors import ImportRejected
from parlour.importing.jobs import ImportJobs
from parlour.importing.limits import ImportLimits, reject
from parlour.importing.source import parts
from parlour.web.deps import Caller, ServicesDep, limit_writes
from parlour.web.schemas import ErrorBody, ErrorOut

router = APIRouter(
    prefix="/api/v1/imports",
    tags=["imports"],
    responses={404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


class ImportOut(BaseModel):
    id: str
    status: Literal["running", "done", "failed"] = Field(
        description="`failed`: nothing of the file was kept (see `error`)."
    )
    filename: str
    created_at: float
    finished_at: float = Field(description="0 while it runs.")
    done_bytes: int = Field(description="Bytes of the file read so far (of `total_bytes`).")
    total_bytes: int
    conversations: int = Field(description="Conversations read from the file so far.")
    imported: int
    skipped: int = Field(description="Conversations left out (see the report for why).")
    duplicates: int = Field(description="Conversations imported before, not added again.")
    messages: int = Field(description="Messages imported.")
    not_imported: int = Field(description="Images and files that could not be imported.")
    error: ErrorBody | None = None

    @classmethod
    def of(cls, facts: dict[str, Any]) -> ImportOut:
        code = facts.get("error_code") or ""
        numbers = {k: int(float(facts.get(k) or 0)) for k in (
            "done_bytes", "total_bytes", "conversations", "imported", "skipped",
            "duplicates", "messages", "not_imported",
        )}  # fmt: skip
        return cls(
            id=facts["id"], status=facts["status"], filename=facts.get("filename", ""),
            created_at=float(facts.get("created_at") or 0),
            finished_at=float(facts.get("finished_at") or 0),
            error=ErrorBody(code=code, message=facts.get("error_message", "")) if code else None,
            **numbers,
        )  # fmt: skip


class ReportEntry(BaseModel):
    outcome: Literal["imported", "skipped", "duplicate"]
    title: str
    source_id: str = Field(description="The conversation's id in the file.")
    session_id: str | None = Field(None, description="The conversation it is in Parlour.")
    messages: int | None = None
    code: str | None = Field(None, description="Why it was skipped (for programs).")
    reason: str | None = Field(None, description="Why it was skipped (for people).")
    not_imported: list[str] = Field(
        default_factory=list, description="Images and files it had that were not imported."
    )
    not_imported_count: int = 0


class ReportPage(BaseModel):
    items: list[ReportEntry]
    total: int
    offset: int
    limit: int


def _jobs(services: Any) -> ImportJobs:
    jobs: ImportJobs = services.imports
    return jobs


async def _receive(request: Request, limits: ImportLimits) -> tuple[Path, int]:
    """The request body, streamed into a temporary file (refused past the limit)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_upload_bytes:
        reject("import_too_large", _too_large(limits), status_code=413)
    handle, name = tempfile.mkstemp(prefix="parlour-import-")
    path = Path(name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_upload_bytes:
                    reject("import_too_large", _too_large(limits), status_code=413)
                if chunk:
                    await asyncio.to_thread(_write, out, chunk)
        if size == 0:
            reject("import_empty_file", "The file is empty.", status_code=422)
        await asyncio.to_thread(parts, path, limits)  # refuse a wrong or hostile file now
    except ClientDisconnect:
        await asyncio.to_thread(path.unlink, True)
        raise ImportRejected(
            "import_upload_incomplete", "The upload did not finish.", status_code=400
        ) from None
    except BaseException:
        await asyncio.to_thread(path.unlink, True)
        raise
    return path, size


def _write(out: IO[bytes], chunk: bytes) -> None:
    out.write(chunk)


def _too_large(limits: ImportLimits) -> str:
    return f"The file is too large to import (at most {limits.max_upload_bytes} bytes)."


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_writes)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
    responses={409: {"model": ErrorOut}},
)
async def start_import(
    request: Request,
    caller: Caller,
    services: ServicesDep,
    filename: Annotated[str, Query(max_length=200)] = "",
) -> ImportOut:
    """Import a ChatGPT data export (the ZIP as downloaded, or its `conversations.json`)
    or a Parlour JSON export, sent as the request body. The import runs in the
    background: follow it with GET /api/v1/imports/{import_id}."""
    jobs = _jobs(services)
    path, size = await _receive(request, jobs.limits)
    return ImportOut.of(await jobs.start(caller, path, filename, size))


@router.get("/{import_id}")
async def get_import(import_id: str, caller: Caller, services: ServicesDep) -> ImportOut:
    """An import's progress, and its counts when it has finished."""
    return ImportOut.of(await _jobs(services).get(caller, import_id))


@router.get("/{import_id}/report")
async def import_report(
    import_id: str,
    caller: Caller,
    services: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ReportPage:
    """What became of each conversation of the file, in the file's order."""
    items, total = await _jobs(services).report(caller, import_id, offset, limit)
    return ReportPage(
        items=[ReportEntry(**i) for i in items], total=total, offset=offset, limit=limit
    )
