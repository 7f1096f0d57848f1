"""The filled system prompt a persona would send, for the editor's live preview.

Apart from the personas router: typing in the editor asks for a preview often, and
a preview stores nothing, so it does not count against the limit on changes.
"""

from __future__ import annotations

from fastapi import APIRouter

from parlour.personas import VARIABLES, fill_prompt
from parlour.web.deps import CurrentPrincipal
from parlour.web.schemas import ErrorOut, PromptPreviewIn, PromptPreviewOut

router = APIRouter(
    prefix="/api/v1/personas", tags=["personas"], responses={422: {"model": ErrorOut}}
)


@router.post("/preview")
async def preview_prompt(body: PromptPreviewIn, principal: CurrentPrincipal) -> PromptPreviewOut:
    """``system_prompt`` with its variables filled as a message sent now would have them."""
    filled = fill_prompt(
        body.system_prompt, user_name=principal.display_name, language=body.language or ""
    )
    return PromptPreviewOut(filled=filled, variables=list(VARIABLES))
