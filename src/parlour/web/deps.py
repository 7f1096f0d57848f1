"""Dependencies: the app's services, and who is calling.

Routes take their owner only from :data:`Caller` (``/api/v1``) or
:data:`TutorialCaller` (the tutorial paths), so accounts can be added here
without touching a route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request

from parlour.chat import ChatService
from parlour.config import Settings
from parlour.errors import InvalidInput
from parlour.personas import PersonaCatalog
from parlour.providers.registry import ModelRegistry
from parlour.replies import ReplyManager
from parlour.store import ConversationStore

LOCAL_USER = "local"
_USER_ID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: ConversationStore
    chat: ChatService
    replies: ReplyManager
    models: ModelRegistry
    personas: PersonaCatalog


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def local_caller() -> str:
    """Single-user local mode: every request acts as the one local user."""
    return LOCAL_USER


def tutorial_caller(
    user_id: Annotated[str, Query(description="Names the user whose sessions these are.")],
) -> str:
    if not _USER_ID.fullmatch(user_id):
        raise InvalidInput(
            "user_id must be 1-64 characters: letters, digits, '_', '-', '.' or '@'."
        )
    return user_id


Caller = Annotated[str, Depends(local_caller)]
TutorialCaller = Annotated[str, Depends(tutorial_caller)]
