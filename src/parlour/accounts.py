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
from redis.exceptions import WatchError

from parlour.domain import now
from parlour.errors import Forbidden, InvalidInput, NotFound, StorageUnavailable, Unauthorized
from parlour.store import Fields, Keys
from parlour.store.keys import is_id

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{3,32}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
BAD_CREDENTIALS = "The username or password is not correct."
_WATCH_TRIES = 20

# Sign-up in one step. KEYS: names, account, all, first, invite. ARGV: lower-cased name,
# uid, username, password hash, created_at, policy (open|invite|closed, or "user"/"admin"
# to make one regardless). Returns 2 (the first account: an administrator), 1 (made), or
# -1 closed, -2 invitation missing, -3 invitation not valid, -4 name taken. Nothing is
# written unless the account is made: an invitation or the first-admin claim is used up
# only with it, and a name never points at a missing account.
_SIGNUP = """
local policy = ARGV[6]
local first = redis.call('EXISTS', KEYS[4]) == 0
local admin = policy == 'admin' or (first and policy ~= 'user')
if not first and policy == 'closed' then return -1 end
local needs_invite = (not first) and policy == 'invite'
if needs_invite then
  if ARGV[7] == '' then return -2 end
  if redis.call('EXISTS', KEYS[5]) == 0 then return -3 end
end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -4 end
if needs_invite then redis.call('DEL', KEYS[5]) end
if admin then redis.call('SET', KEYS[4], '1') end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'username', ARGV[3], 'password_hash', ARGV[4],
  'is_admin', admin and '1' or '0', 'disabled', '0', 'created_at', ARGV[5])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
if admin then return 2 end
return 1
"""
_SIGNUP_REFUSALS = {
    -1: Forbidden("Sign-up is closed on this server.", code="signup_closed"),
    -2: Forbidden("Sign-up needs an invitation code on this server.", code="invite_required"),
    -3: Forbidden("This invitation is not valid or was already used.", code="invite_invalid"),
    -4: InvalidInput("This username is taken.", code="username_taken"),
}


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
        self._signup = redis.register_script(_SIGNUP)

    def _digest(self, value: str) -> str:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).hexdigest()

    # --- accounts -------------------------------------------------------------

    async def get(self, uid: str) -> Account:
        # A crafted id (``x:tokens``) would name another key: only real ids reach Redis.
        raw = {}
        if is_id(uid):
            raw = cast(dict[str, str], await self.redis.hgetall(self.keys.account(uid)))
        if "id" not in raw or "username" not in raw:
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
        k = self.keys
        keys = [k.account_names(), k.account(uid), k.accounts(), k.first_account(),
                k.invite(self._digest(invite))]  # fmt: skip
        args = [username.lower(), uid, username, password_hash, repr(ts), policy, invite]
        result = int(await self._signup(keys=keys, args=args))
        if result < 0:
            raise _SIGNUP_REFUSALS[result]
        return Account(uid, username, result == 2, False, ts)

    async def all(self) -> list[Account]:
        uids = cast(list[str], await self.redis.zrange(self.keys.accounts(), 0, -1))
        return [await self.get(uid) for uid in uids]

    async def set_disabled(self, uid: str, disabled: bool) -> Account:
        """Disabling also ends every sign-in of the account, in the same transaction."""
        await self.get(uid)
        flag: Fields = {"disabled": "1" if disabled else "0"}
        await self._revoke(uid, logins=disabled, tokens=False, fields=flag)
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
        await self._revoke(
            account.id,
            logins=not keep_sign_ins,
            tokens=not keep_tokens,
            fields={"password_hash": password_hash},
            keep=self._digest(keep_login) if keep_login else None,
        )

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
        await self._drop_expired_logins(account.id)
        return Login(account, cookie, csrf)

    async def _drop_expired_logins(self, uid: str) -> None:
        """Forget the sign-ins whose record has expired (a digest never comes back)."""
        digests = sorted(cast(set[str], await self.redis.smembers(self.keys.account_logins(uid))))
        if not digests:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for d in digests:
                pipe.exists(self.keys.login(d))
            alive = await pipe.execute()
        gone = [d for d, there in zip(digests, alive, strict=True) if not there]
        if gone:
            await self.redis.srem(self.keys.account_logins(uid), *gone)

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

    async def _revoke(
        self,
        uid: str,
        *,
        logins: bool,
        tokens: bool,
        fields: Fields,
        keep: str | None = None,
    ) -> None:
        """Write ``fields`` to the account and end its sign-ins (but ``keep``) and/or tokens,
        in one transaction: the sets are watched, so one added meanwhile is not missed."""
        k = self.keys
        watched = [k.account_logins(uid), k.account_tokens(uid)]
        for _ in range(_WATCH_TRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(*watched)
                    ended: list[str] = []
                    if logins:
                        members = cast(set[str], await pipe.smembers(watched[0]))
                        ended = sorted(d for d in members if d != keep)
                    revoked: dict[str, str] = {}
                    if tokens:
                        revoked = cast(dict[str, str], await pipe.hgetall(watched[1]))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(k.account(uid), mapping=fields)
                    if ended:
                        pipe.delete(*(k.login(d) for d in ended))
                        pipe.srem(watched[0], *ended)
                    if revoked:
                        pipe.delete(*(k.token(d) for d in revoked.values()))
                        pipe.delete(watched[1])
                    await pipe.execute()
                    return
                except WatchError:
                    continue
        raise StorageUnavailable()

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
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.token(digest))
            pipe.hdel(self.keys.account_tokens(account.id), token_id)
            await pipe.execute()

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
