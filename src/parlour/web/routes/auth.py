"""Accounts: sign-up, sign-in and out, the current user, passwords, API tokens, and admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from parlour.accounts import Account, AccountService
from parlour.errors import Forbidden, NotFound
from parlour.web.deps import (
    CSRF_COOKIE,
    LOCAL,
    SESSION_COOKIE,
    AdminPrincipal,
    CurrentPrincipal,
    ServicesDep,
    accounts_of,
    client_ip,
    limit_writes,
)
from parlour.web.schemas import (
    Credentials,
    ErrorOut,
    InviteOut,
    NewToken,
    PasswordChange,
    SignedIn,
    SignupIn,
    TokenCreate,
    TokenList,
    TokenOut,
    UserList,
    UserOut,
)

router = APIRouter(
    prefix="/api/v1",
    tags=["accounts"],
    responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)


def user_out(account: Account) -> UserOut:
    return UserOut(
        id=account.id, username=account.username, is_admin=account.is_admin,
        disabled=account.disabled,
    )  # fmt: skip


async def account_service(services: ServicesDep) -> AccountService:
    return accounts_of(services)


Accounts = Annotated[AccountService, Depends(account_service)]


async def _sign_in(
    account: Account, accounts: AccountService, request: Request, response: Response
) -> SignedIn:
    login = await accounts.login(account)
    secure = request.url.scheme == "https"
    max_age = accounts.login_seconds
    response.set_cookie(SESSION_COOKIE, login.cookie, max_age=max_age, httponly=True,
                        samesite="strict", secure=secure, path="/")  # fmt: skip
    # Readable by the page's script, which echoes it in X-CSRF-Token.
    response.set_cookie(CSRF_COOKIE, login.csrf, max_age=max_age, httponly=False,
                        samesite="strict", secure=secure, path="/")  # fmt: skip
    return SignedIn(user=user_out(account), csrf_token=login.csrf)


async def _limit_signup(request: Request, services: ServicesDep) -> None:
    if services.limiter is not None:
        await services.limiter.hit("write_ip", client_ip(request))


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(_limit_signup)])  # fmt: skip
async def signup(
    body: SignupIn, request: Request, response: Response, accounts: Accounts, services: ServicesDep
) -> SignedIn:
    """Create an account and sign in. The first account is an administrator.

    With ``SIGNUP=open`` a taken name is answered as taken (anyone may sign up, so the
    name list is as public as the sign-up form); under ``invite`` that answer needs a valid
    invitation, and ``closed`` answers every name alike."""
    account = await accounts.signup(
        body.username, body.password, policy=services.settings.signup, invite=body.invite
    )
    return await _sign_in(account, accounts, request, response)


async def _check_password(
    services: ServicesDep, request: Request, username: str, password: str
) -> Account:
    """The account if the password is right. The attempt is counted before the check, so
    concurrent guesses cannot pass the limit (see parlour.signin)."""
    accounts = accounts_of(services)
    limiter = services.limiter
    if limiter is None:
        return await accounts.verify(username, password)
    address = client_ip(request)
    await limiter.hit("login_ip", address)
    attempt = await limiter.signin.reserve(username, address)
    account = await accounts.verify(username, password)  # a failure stays counted
    await limiter.signin.succeeded(attempt)
    return account


@router.post("/auth/login")
async def login(
    body: Credentials, request: Request, response: Response, accounts: Accounts,
    services: ServicesDep,
) -> SignedIn:  # fmt: skip
    """Sign in with a username and password; sets the session and CSRF cookies."""
    account = await _check_password(services, request, body.username, body.password)
    return await _sign_in(account, accounts, request, response)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, accounts: Accounts) -> Response:
    if principal.cookie is not None:
        await accounts.logout(principal.cookie)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/auth/me")
async def me(principal: CurrentPrincipal, services: ServicesDep) -> UserOut:
    if principal is LOCAL:
        return UserOut(id=LOCAL.id, username=LOCAL.username, is_admin=True, auth_mode="none")
    return user_out(await accounts_of(services).get(principal.id))


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT,
             dependencies=[Depends(limit_writes)])  # fmt: skip
async def change_password(
    body: PasswordChange,
    principal: CurrentPrincipal,
    accounts: Accounts,
    services: ServicesDep,
    request: Request,
) -> Response:
    """Change your password. Your other sign-ins end and every API token is revoked (the
    one this request uses too), unless ``keep_sign_ins`` / ``keep_tokens`` say otherwise.
    Wrong current passwords count as failed sign-ins."""
    account = await accounts.get(principal.id)
    await _check_password(services, request, account.username, body.current_password)
    await accounts.change_password(
        account,
        body.new_password,
        keep_login=principal.cookie,
        keep_sign_ins=body.keep_sign_ins,
        keep_tokens=body.keep_tokens,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/tokens", status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(limit_writes)])  # fmt: skip
async def create_token(
    body: TokenCreate, principal: CurrentPrincipal, accounts: Accounts
) -> NewToken:
    info, value = await accounts.create_token(await accounts.get(principal.id), body.name)
    return NewToken(id=info.id, name=info.name, created_at=info.created_at, token=value)


@router.get("/auth/tokens")
async def list_tokens(principal: CurrentPrincipal, accounts: Accounts) -> TokenList:
    tokens = await accounts.list_tokens(await accounts.get(principal.id))
    return TokenList(tokens=[TokenOut(id=t.id, name=t.name, created_at=t.created_at)
                             for t in tokens])  # fmt: skip


@router.delete("/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[Depends(limit_writes)])  # fmt: skip
async def revoke_token(token_id: str, principal: CurrentPrincipal, accounts: Accounts) -> Response:
    await accounts.revoke_token(await accounts.get(principal.id), token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- administration -------------------------------------------------------------


@router.get("/admin/users")
async def list_users(_admin: AdminPrincipal, accounts: Accounts) -> UserList:
    return UserList(users=[user_out(a) for a in await accounts.all()])


@router.post("/admin/users/{user_id}/disable", dependencies=[Depends(limit_writes)])
async def disable_user(
    user_id: str, admin: AdminPrincipal, accounts: Accounts, services: ServicesDep
) -> UserOut:
    """Disable an account: its sign-ins end, its tokens stop working, its running
    replies stop (in whichever process writes them), which ends their streams, and its
    live channels close."""
    if user_id == admin.id:
        raise Forbidden("You cannot disable your own account.")
    account = await accounts.set_disabled(user_id, True)
    for rid in await services.ledger.owner_replies(account.id):
        await services.replies.stop(rid)
    if services.live is not None:
        services.live.end_pages_of(account.id)  # their live channels, on every process
    return user_out(account)


@router.post("/admin/users/{user_id}/enable", dependencies=[Depends(limit_writes)])
async def enable_user(user_id: str, _admin: AdminPrincipal, accounts: Accounts) -> UserOut:
    return user_out(await accounts.set_disabled(user_id, False))


@router.post("/admin/invites", status_code=status.HTTP_201_CREATED,
             dependencies=[Depends(limit_writes)])  # fmt: skip
async def create_invite(
    _admin: AdminPrincipal, accounts: Accounts, services: ServicesDep
) -> InviteOut:
    if services.settings.signup != "invite":
        raise NotFound("Invitations are used only with SIGNUP=invite.")
    return InviteOut(code=await accounts.create_invite())
