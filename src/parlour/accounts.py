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
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis

from parlour.domain import now
from parlour.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from parlour.store import Fields, Keys

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
BAD_CREDENTIALS = "The username or password is not correct."


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    is_admin: bool
    disabled: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class Login:
    """A signed-in browser: the cookie value to set, and its CSRF token."""

    account: Account
    cookie: str
    csrf: str


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    created_at: float


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
    def __init__(self, redis: Redis, keys: Keys, secret: str, *, login_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self._secret = secret.encode()
        self.login_seconds = login_seconds
        self._hasher = PasswordHasher()  # argon2id
        # A hash to verify against when the username is unknown, so both take as long.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    def _digest(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    # --- accounts -------------------------------------------------------------

    async def get(self, uid: str) -> Account:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.account(uid)))
        if not raw:
            raise NotFound("This account does not exist.")
        return Account(
            id=raw["id"],
            username=raw["username"],
            is_admin=raw.get("is_admin") == "1",
            disabled=raw.get("disabled") == "1",
            created_at=float(raw.get("created_at", 0)),
        )

    async def claim_first(self) -> bool:
        """True for exactly one caller ever: the one making the first account."""
        return bool(await self.redis.set(self.keys.first_account(), "1", nx=True))

    async def create(self, username: str, password: str, *, admin: bool = False) -> Account:
        check_username(username)
        check_password(password)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        uid = secrets.token_hex(16)
        if not await self.redis.hsetnx(self.keys.account_names(), username.lower(), uid):
            raise InvalidInput("This username is taken.", code="username_taken")
        ts = now()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.account(uid),
                mapping={
                    "id": uid,
                    "username": username,
                    "password_hash": password_hash,
                    "is_admin": "1" if admin else "0",
                    "disabled": "0",
                    "created_at": repr(ts),
                },
            )
            pipe.zadd(self.keys.accounts(), {uid: ts})
            await pipe.execute()
        return Account(uid, username, admin, False, ts)

    async def all(self) -> list[Account]:
        uids = cast(list[str], await self.redis.zrange(self.keys.accounts(), 0, -1))
        return [await self.get(uid) for uid in uids]

    async def set_disabled(self, uid: str, disabled: bool) -> Account:
        await self.get(uid)
        await self.redis.hset(self.keys.account(uid), "disabled", "1" if disabled else "0")
        if disabled:
            await self._end_logins(uid)
        return await self.get(uid)

    # --- passwords ------------------------------------------------------------

    async def verify(self, username: str, password: str) -> Account:
        """The account if the password is right; one message for every failure."""
        uid = cast(str | None, await self.redis.hget(self.keys.account_names(), username.lower()))
        stored = self._dummy_hash
        if uid is not None:
            stored = cast(str, await self.redis.hget(self.keys.account(uid), "password_hash"))
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials") from None
        if uid is None:
            raise Unauthorized(BAD_CREDENTIALS, code="bad_credentials")
        account = await self.get(uid)
        return _usable(account)

    async def change_password(self, account: Account, current: str, new: str, keep: str) -> None:
        await self.verify(account.username, current)
        check_password(new)
        password_hash = await asyncio.to_thread(self._hasher.hash, new)
        await self.redis.hset(self.keys.account(account.id), "password_hash", password_hash)
        await self._end_logins(account.id, keep=self._digest(keep))

    # --- browser sign-ins -----------------------------------------------------

    async def login(self, account: Account) -> Login:
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        digest = self._digest(cookie)
        async with self.redis.pipeline(transaction=True) as pipe:
            record: Fields = {"uid": account.id, "csrf": csrf, "created_at": repr(now())}
            pipe.hset(self.keys.login(digest), mapping=record)
            pipe.expire(self.keys.login(digest), self.login_seconds)
            pipe.sadd(self.keys.account_logins(account.id), digest)
            await pipe.execute()
        return Login(account, cookie, csrf)

    async def from_cookie(self, cookie: str) -> tuple[Account, str]:
        """The signed-in account and its CSRF token."""
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.login(self._digest(cookie))))
        if not raw:
            raise Unauthorized("Your sign-in has expired. Please sign in again.")
        account = await self.get(raw["uid"])
        return _usable(account), raw["csrf"]

    async def logout(self, cookie: str) -> None:
        digest = self._digest(cookie)
        uid = await self.redis.hget(self.keys.login(digest), "uid")
        await self.redis.delete(self.keys.login(digest))
        if uid is not None:
            await self.redis.srem(self.keys.account_logins(str(uid)), digest)

    async def _end_logins(self, uid: str, keep: str | None = None) -> None:
        digests = cast(set[str], await self.redis.smembers(self.keys.account_logins(uid)))
        ended = [d for d in digests if d != keep]
        if ended:
            await self.redis.delete(*(self.keys.login(d) for d in ended))
            await self.redis.srem(self.keys.account_logins(uid), *ended)

    # --- API tokens -----------------------------------------------------------

    async def create_token(self, account: Account, name: str) -> tuple[TokenInfo, str]:
        """A new token; its value is returned once and never stored."""
        value = "plr_" + secrets.token_urlsafe(32)
        info = TokenInfo(secrets.token_hex(16), name, now())
        digest = self._digest(value)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.token(digest), mapping={"id": info.id, "uid": account.id,
                      "name": name, "created_at": repr(info.created_at)})  # fmt: skip
            pipe.hset(self.keys.account_tokens(account.id), info.id, digest)
            await pipe.execute()
        return info, value

    async def list_tokens(self, account: Account) -> list[TokenInfo]:
        digests = cast(
            dict[str, str], await self.redis.hgetall(self.keys.account_tokens(account.id))
        )
        tokens = []
        for digest in digests.values():
            raw = cast(dict[str, str], await self.redis.hgetall(self.keys.token(digest)))
            if raw:
                tokens.append(TokenInfo(raw["id"], raw["name"], float(raw["created_at"])))
        return sorted(tokens, key=lambda t: t.created_at)

    async def revoke_token(self, account: Account, token_id: str) -> None:
        digest = cast(
            str | None, await self.redis.hget(self.keys.account_tokens(account.id), token_id)
        )
        if digest is None:
            raise NotFound("This token does not exist.")
        await self.redis.delete(self.keys.token(digest))
        await self.redis.hdel(self.keys.account_tokens(account.id), token_id)

    async def from_token(self, value: str) -> Account:
        uid = cast(str | None, await self.redis.hget(self.keys.token(self._digest(value)), "uid"))
        if uid is None:
            raise Unauthorized("This API token is not valid (revoked or mistyped).")
        account = await self.get(uid)
        return _usable(account)

    # --- invitations ----------------------------------------------------------

    async def create_invite(self, ttl_seconds: int = 7 * 86_400) -> str:
        code = secrets.token_urlsafe(16)
        await self.redis.set(self.keys.invite(self._digest(code)), "1", ex=ttl_seconds)
        return code

    async def use_invite(self, code: str) -> None:
        if not await self.redis.delete(self.keys.invite(self._digest(code))):
            raise Forbidden(
                "This invitation is not valid or was already used.", code="invite_invalid"
            )
