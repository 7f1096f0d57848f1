"""Accounts for ``AUTH_MODE=password``: sign-up, sign-in, API tokens, invitations, admin.

Passwords are hashed with argon2id (in a worker thread: hashing is slow on
purpose). Browser sign-ins are server-side records in Redis, found by the
HMAC of a random cookie value; API tokens are stored the same way, so a copy
of Redis holds no usable credential. Each sign-in has its own CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from parlour.domain import now
from parlour.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from parlour.store import Fields, Keys
from parlour.store.accounts import Account, AccountStore, SignUp, TokenInfo

__all__ = ["Account", "AccountService", "Login", "TokenInfo"]

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
BAD_CREDENTIALS = "The username or password is not correct."

_SIGNUP_REFUSALS = {
    SignUp.CLOSED: Forbidden("Sign-up is closed on this server.", code="signup_closed"),
    SignUp.INVITE_MISSING: Forbidden(
        "Sign-up needs an invitation code on this server.", code="invite_required"
    ),
    SignUp.INVITE_INVALID: Forbidden(
        "This invitation is not valid or was already used.", code="invite_invalid"
    ),
    SignUp.NAME_TAKEN: InvalidInput("This username is taken.", code="username_taken"),
}


@dataclass(frozen=True, slots=True)
class Login:
    """A signed-in browser: the cookie value to set, and its CSRF token."""

    account: Account
    cookie: str
    csrf: str


def _usable(account: Account) -> Account:
    if account.disabled:
        raise Forbidden("This account is disabled. Ask an administrator.", code="account_disabled")
    return account


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput(
            "A username has 3-32 letters, digits, '.', '_' or '-'.", code="invalid_username"
        )
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.", code="invalid_password"
        )
    return password


class AccountService:
    """Accounts as people use them: passwords checked and hashed, credentials handed
    out once and kept only as digests (:class:`AccountStore` holds them)."""

    def __init__(self, redis: Redis, keys: Keys, secret: str, *, login_seconds: int) -> None:
        self.store = AccountStore(redis, keys)
        self._secret = secret.encode()
        self.login_seconds = login_seconds
        self._hasher = PasswordHasher()  # argon2id
        # A hash to verify against when the username is unknown, so both take as long.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    def _digest(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    # --- accounts -------------------------------------------------------------

    async def get(self, uid: str) -> Account:
        account = await self.store.get(uid)
        if account is None:
            raise NotFound("This account does not exist.")
        return account

    async def claim_first(self) -> bool:
        """True for exactly one caller ever: the one making the first account."""
        return await self.store.claim_first()

    async def signup(
        self, username: str, password: str, *, policy: str, invite: str | None = None
    ) -> Account:
        """Make an account under the sign-up ``policy`` (the first one is an administrator),
        all or nothing."""
        return await self._make(username, password, policy, invite or "")

    async def create(self, username: str, password: str, *, admin: bool = False) -> Account:
        """Make an account whatever the sign-up policy (an administrator's tool)."""
        return await self._make(username, password, "admin" if admin else "user", "")

    async def _make(self, username: str, password: str, policy: str, invite: str) -> Account:
        check_username(username)
        check_password(password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        uid = secrets.token_hex(16)
        ts = now()
        result = await self.store.sign_up(uid, username, password_hash, ts, policy=policy,
                                          invite_digest=self._digest(invite),
                                          invited=bool(invite))  # fmt: skip
        if result in _SIGNUP_REFUSALS:
            raise _SIGNUP_REFUSALS[result]
        return Account(uid, username, result == SignUp.ADMIN, False, ts)

    async def all(self) -> list[Account]:
        return [await self.get(uid) for uid in await self.store.ids()]

    async def set_disabled(self, uid: str, disabled: bool) -> Account:
        """Disabling also ends every sign-in of the account, in the same transaction."""
        await self.get(uid)
        flag: Fields = {"disabled": "1" if disabled else "0"}
        await self.store.update(uid, flag, end_sign_ins=disabled, revoke_tokens=False)
        return await self.get(uid)

    # --- passwords ------------------------------------------------------------

    async def verify(self, username: str, password: str) -> Account:
        """The account if the password is right; one message for every failure."""
        found = await self.store.password_hash(username)
        stored = found[1] if found is not None else self._dummy_hash
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials") from None
        if found is None:
            raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials")
        return _usable(await self.get(found[0]))

    async def change_password(
        self,
        account: Account,
        new: str,
        *,
        keep_login: str | None,
        keep_sign_ins: bool = False,
        keep_tokens: bool = False,
    ) -> None:
        """Set a new password (the current one was checked by the caller) and, unless asked
        to keep them, end every other sign-in and revoke every API token - together."""
        check_password(new)
        password_hash = await asyncio.to_thread(self._hasher.hash, new)
        await self.store.update(
            account.id,
            {"password_hash": password_hash},
            end_sign_ins=not keep_sign_ins,
            revoke_tokens=not keep_tokens,
            keep=self._digest(keep_login) if keep_login else None,
        )

    # --- browser sign-ins -----------------------------------------------------

    async def login(self, account: Account) -> Login:
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        await self.store.add_sign_in(
            account.id, self._digest(cookie), csrf, now(), self.login_seconds
        )
        return Login(account, cookie, csrf)

    async def from_cookie(self, cookie: str) -> tuple[Account, str]:
        """The signed-in account and its CSRF token."""
        record = await self.store.sign_in(self._digest(cookie))
        if record is None:
            raise Unauthorized("Your sign-in has expired. Please sign in again.")
        return _usable(await self.get(record.uid)), record.csrf

    async def logout(self, cookie: str) -> None:
        await self.store.end_sign_in(self._digest(cookie))

    # --- API tokens -----------------------------------------------------------

    async def create_token(self, account: Account, name: str) -> tuple[TokenInfo, str]:
        """A new token; its value is returned once and never stored."""
        value = "plr_" + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(16), name, now())
        await self.store.add_token(account.id, self._digest(value), info)
        return info, value

    async def list_tokens(self, account: Account) -> list[TokenInfo]:
        return await self.store.tokens(account.id)

    async def revoke_token(self, account: Account, token_id: str) -> None:
        if not await self.store.remove_token(account.id, token_id):
            raise NotFound("This token does not exist.")

    async def from_token(self, value: str) -> Account:
        uid = await self.store.token_owner(self._digest(value))
        if uid is None:
            raise Unauthorized("This API token is not valid (revoked or mistyped).")
        return _usable(await self.get(uid))

    # --- invitations ----------------------------------------------------------

    async def create_invite(self, ttl_seconds: int = 7 * 86_400) -> str:
        code = secrets.token_urlsafe(16)
        await self.store.add_invite(self._digest(code), ttl_seconds)
        return code
