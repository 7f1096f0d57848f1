"""Your memory: the facts about you that go into your conversations while it is on."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from parlour.errors import NotFound
from parlour.memory import Memory
from parlour.web.deps import Caller, Services, ServicesDep, limit_writes
from parlour.web.schemas import ErrorOut, FactIn, MemoryOut, MemorySwitchIn

router = APIRouter(
    prefix="/api/v1/memory",
    tags=["memory"],
    dependencies=[Depends(limit_writes)],
    responses={404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


def memory_of(services: Services) -> Memory:
    if services.memory is None:
        raise NotFound("Memory is not available on this server.")
    return services.memory


@router.get("")
async def get_memory(caller: Caller, services: ServicesDep) -> MemoryOut:
    """Your facts, the switch, and how much of the budget they use."""
    return MemoryOut.of(await memory_of(services).state(caller))


@router.patch("")
async def switch_memory(body: MemorySwitchIn, caller: Caller, services: ServicesDep) -> MemoryOut:
    """Turn your memory on (its facts go into new messages' system prompts) or off."""
    memory = memory_of(services)
    await memory.set_enabled(caller, body.enabled)
    return MemoryOut.of(await memory.state(caller))


@router.post("/facts", status_code=status.HTTP_201_CREATED)
async def add_fact(body: FactIn, caller: Caller, services: ServicesDep) -> MemoryOut:
    """Remember a fact (also how a reply's "Remember that ...?" is confirmed)."""
    memory = memory_of(services)
    await memory.add(caller, body.text)
    return MemoryOut.of(await memory.state(caller))


@router.patch("/facts/{fact_id}")
async def edit_fact(fact_id: str, body: FactIn, caller: Caller, services: ServicesDep) -> MemoryOut:
    memory = memory_of(services)
    await memory.edit(caller, fact_id, body.text)
    return MemoryOut.of(await memory.state(caller))


@router.delete("/facts/{fact_id}")
async def delete_fact(fact_id: str, caller: Caller, services: ServicesDep) -> MemoryOut:
    memory = memory_of(services)
    await memory.delete(caller, fact_id)
    return MemoryOut.of(await memory.state(caller))
