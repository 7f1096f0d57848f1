"""Dependencies: the app's services, and who is calling.

Routes take their owner only from :data:`Caller` (``/api/v1``) or
:data:`TutorialCaller` (the tutorial paths). With ``AUTH_MODE=none`` every
request acts as the one local user; with ``AUTH_MODE=password`` the caller is
the account behind a Bearer API token or the sign-in cookie, and a request
made with the cookie that changes anything must echo the sign-in's CSRF token
in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from parlour.accounts import Account, AccountService
from parlour.chat import ChatService
from parlour.config import Settings
from parlour.domain import SessionInfo
from parlour.errors import Forbidden, InvalidInput, Unauthorized
from parlour.followers import FollowerLimit, Ticket
from parlour.importing.jobs import ImportJobs
from parlour.live import LiveChannel
from parlour.memory import Memory
from parlour.personas import Personas
from parlour.providers.discovery import Discovery
from parlour.providers.registry import ModelRegistry
from parlour.ratelimit import Limiter
from parlour.replies import ReplyManager
from parlour.store import ConversationStore, ReplyLedger
from parlour.store.organise import Organiser
from parlour.store.preferences import Preferences
from parlour.store.search import SearchIndex
from parlour.store.shares import Shares
from parlour.store.usage import UsageStore
from parlour.summaries import Summaries

LOCAL_USER = "local"
SESSION_COOKIE = "parlour_session"
CSRF_COOKIE = "parlour_csrf"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_USER_ID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: ConversationStore
    ledger: ReplyLedger
    chat: ChatService
    replies: ReplyManager
    models: ModelRegistry
    personas: Personas
    accounts: AccountService | None = None  # only with AUTH_MODE=password
    limiter: Limiter | None = None  # only with AUTH_MODE=password
    search: SearchIndex | None = None
    followers: FollowerLimit = field(default_factory=lambda: FollowerLimit(20))
    live: LiveChannel | None = None
    imports: ImportJobs | None = None
    usage: UsageStore | None = None
    summaries: Summaries | None = None
    memory: Memory | None = None
    organiser: Organiser | None = None
    shares: Shares | None = None
    discovery: Discovery | None = None
    preferences: Preferences | None = None

    @property
    def organise(self) -> Organiser:
        assert self.organiser is not None  # made by the lifespan
        return self.organiser

    @property
    def sharing(self) -> Shares:
        assert self.shares is not None  # made by the lifespan
        return self.shares


# Dependencies are coroutines even where nothing is awaited: FastAPI runs a plain
# function in its thread pool, a thread hop on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


@dataclass(frozen=True, slots=True)
class Principal:
    id: str  # owns sessions
    username: str
    is_admin: bool
    via: Literal["local", "cookie", "token"]
    cookie: str | None = None

    @property
    def display_name(self) -> str:
        """The name a system prompt's {{user_name}} gets ("" for the single local user)."""
        return "" if self.via == "local" else self.username

    @classmethod
    def of(
        cls, account: Account, via: Literal["cookie", "token"], cookie: str | None = None
    ) -> Principal:
        return cls(account.id, account.username, account.is_admin, via, cookie)


LOCAL = Principal(LOCAL_USER, LOCAL_USER, True, "local")


def accounts_of(services: Services) -> AccountService:
    if services.accounts is None:
        raise Forbidden("This server runs without accounts (AUTH_MODE=none).")
    return services.accounts


async def current_principal(request: Request, services: ServicesDep) -> Principal:
    if services.settings.auth_mode == "none":
        return LOCAL
    accounts = accounts_of(services)
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return Principal.of(await accounts.from_token(authorization[7:].strip()), "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthorized()
    account, csrf = await accounts.from_cookie(cookie)
    # The tutorial's stream sends a message with GET. EventSource cannot set headers, so
    # there alone the token may come as ?csrf_token= (a query string ends up in logs and
    # history: nowhere else is it accepted).
    tutorial_stream = request.url.path == "/chat/stream"
    if request.method in UNSAFE_METHODS or tutorial_stream:
        sent = request.headers.get("x-csrf-token") or ""
        if not sent and tutorial_stream:
            sent = request.query_params.get("csrf_token", "")
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            raise Forbidden(
                "This request is missing its CSRF token (X-CSRF-Token). Reload the page and "
                "try again."
            )
    return Principal.of(account, "cookie", cookie)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def caller(principal: CurrentPrincipal) -> str:
    return principal.id


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_writes(
    request: Request, principal: CurrentPrincipal, services: ServicesDep
) -> None:
    """Counts changes (other than messages) against the per-user and per-IP limits."""
    if services.limiter is not None and request.method in UNSAFE_METHODS:
        await services.limiter.hit("write", principal.id)
        await services.limiter.hit("write_ip", client_ip(request))


async def limit_messages(
    request: Request, principal: CurrentPrincipal, services: ServicesDep
) -> None:
    if services.limiter is not None:
        await services.limiter.hit("message", principal.id)
        await services.limiter.hit("message_ip", client_ip(request))


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("Only an administrator can do that.")
    return principal


async def tutorial_caller(
    services: ServicesDep,
    request: Request,
    user_id: Annotated[str, Query(description="Names the user whose sessions these are.")],
) -> str:
    if not _USER_ID.fullmatch(user_id):
        raise InvalidInput(
            "user_id must be 1-64 characters: letters, digits, '_', '-', '.' or '@'."
        )
    if services.settings.auth_mode == "none":
        return user_id
    principal = await current_principal(request, services)
    if user_id not in (principal.username, principal.id):
        raise Forbidden("user_id does not match the signed-in user.")
    return principal.id


Caller = Annotated[str, Depends(caller)]
TutorialCaller = Annotated[str, Depends(tutorial_caller)]


# A reply stream holds its place from before the reply starts (a refusal is a 429, not a
# broken stream) until the response has been sent.
async def follower_ticket(owner: Caller, services: ServicesDep) -> AsyncIterator[Ticket]:
    async with services.followers.held(owner) as ticket:
        yield ticket


async def tutorial_follower_ticket(
    owner: TutorialCaller, services: ServicesDep
) -> AsyncIterator[Ticket]:
    async with services.followers.held(owner) as ticket:
        yield ticket


FollowerTicket = Annotated[Ticket, Depends(follower_ticket)]
TutorialFollowerTicket = Annotated[Ticket, Depends(tutorial_follower_ticket)]


# Routes get a conversation only through these: checked against its owner, so no route
# hands a bare id to the store. Another owner's id answers as a missing one does.
async def owned_conversation(session_id: str, owner: Caller, services: ServicesDep) -> SessionInfo:
    return await services.store.get_session(owner, session_id)


async def tutorial_conversation(
    owner: TutorialCaller,
    services: ServicesDep,
    session_id: Annotated[str, Query(max_length=64)],
) -> SessionInfo:
    return await services.store.get_session(owner, session_id)


Conversation = Annotated[SessionInfo, Depends(owned_conversation)]
TutorialConversation = Annotated[SessionInfo, Depends(tutorial_conversation)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
