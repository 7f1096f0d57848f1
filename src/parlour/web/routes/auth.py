"""Accounts: sign-up, sign-in and out, the current user, passwords, API tokens, and admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from parlour.accounts import Account, AccountService, check_password, check_username
from parlour.errors import Forbidden, NotFound, Unauthorized
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
    """Create an account and sign in. The first account is an administrator."""
    check_username(body.username)  # before an invitation is used up
    check_password(body.password)
    first = await accounts.claim_first()
    policy = services.settings.signup
    if not first:
        if policy == "closed":
            raise Forbidden("Sign-up is closed on this server.", code="signup_closed")
        if policy == "invite":
            if not body.invite:
                raise Forbidden(
                    "Sign-up needs an invitation code on this server.", code="invite_required"
                )
            await accounts.use_invite(body.invite)
    account = await accounts.create(body.username, body.password, admin=first)
    return await _sign_in(account, accounts, request, response)


@router.post("/auth/login")
async def login(
    body: Credentials, request: Request, response: Response, accounts: Accounts,
    services: ServicesDep,
) -> SignedIn:  # fmt: skip
    """Sign in with a username and password; sets the session and CSRF cookies."""
    limiter = services.limiter
    name = body.username.lower()
    if limiter is not None:
        await limiter.hit("login_ip", client_ip(request))
        await limiter.check("login_failures", name)
    try:
        account = await accounts.verify(body.username, body.password)
    except Unauthorized:
        if limiter is not None:
            await limiter.hit("login_failures", name)
        raise
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
    body: PasswordChange, principal: CurrentPrincipal, accounts: Accounts
) -> Response:
    """Change your password; your other sign-ins end."""
    account = await accounts.get(principal.id)
    await accounts.change_password(
        account, body.current_password, body.new_password, keep=principal.cookie or ""
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
async def disable_user(user_id: str, admin: AdminPrincipal, accounts: Accounts) -> UserOut:
    if user_id == admin.id:
        raise Forbidden("You cannot disable your own account.")
    return user_out(await accounts.set_disabled(user_id, True))


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
