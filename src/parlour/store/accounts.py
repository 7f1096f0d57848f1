"""AccountStore: accounts, browser sign-ins, API tokens and invitations in Redis.

Credentials are found by digest (the caller's HMAC of the secret value), so what is
stored holds no usable credential. Every multi-key change is one script or one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from parlour.errors import StorageUnavailable
from parlour.store.conversations import Fields
from parlour.store.keys import Keys, is_id

_WATCH_TRIES = 20

# Sign-up in one step. KEYS: names, account, all, first, invite. ARGV: lower-cased name,
# uid, username, password hash, created_at, policy (open|invite|closed, or "user"/"admin"
# to make one regardless), whether an invitation was given. Returns a ``SignUp``. Nothing
# is written unless the account is made: an invitation or the first-admin claim is used
# up only with it, and a name never points at a missing account.
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


class SignUp(IntEnum):
    """What the sign-up script did."""

    ADMIN = 2  # made: the first account, an administrator
    MADE = 1
    CLOSED = -1
    INVITE_MISSING = -2
    INVITE_INVALID = -3
    NAME_TAKEN = -4


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str
    is_admin: bool
    disabled: bool
    created_at: float


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    name: str
    created_at: float


@dataclass(frozen=True, slots=True)
class SignIn:
    """A browser sign-in's record: whose it is and its CSRF token."""

    uid: str
    csrf: str


class AccountStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._signup = redis.register_script(_SIGNUP)

    # --- accounts -------------------------------------------------------------

    async def get(self, uid: str) -> Account | None:
        # A crafted id (``x:tokens``) would name another key: only real ids reach Redis.
        if not is_id(uid):
            return None
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.account(uid)))
        if "id" not in raw or "username" not in raw:
            return None
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

    async def sign_up(
        self,
        uid: str,
        username: str,
        password_hash: str,
        created_at: float,
        *,
        policy: str,
        invite_digest: str,
        invited: bool,
    ) -> SignUp:
        k = self.keys
        keys = [k.account_names(), k.account(uid), k.accounts(), k.first_account(),
                k.invite(invite_digest)]  # fmt: skip
        args = [username.lower(), uid, username, password_hash, repr(created_at), policy,
                "1" if invited else ""]  # fmt: skip
        return SignUp(int(await self._signup(keys=keys, args=args)))

    async def ids(self) -> list[str]:
        return cast(list[str], await self.redis.zrange(self.keys.accounts(), 0, -1))

    async def password_hash(self, username: str) -> tuple[str, str] | None:
        """(uid, password hash) of the account named ``username``, if there is one."""
        uid = cast(str | None, await self.redis.hget(self.keys.account_names(), username.lower()))
        if uid is None:
            return None
        stored = cast(str | None, await self.redis.hget(self.keys.account(uid), "password_hash"))
        return (uid, stored) if stored is not None else None

    async def update(
        self,
        uid: str,
        fields: Fields,
        *,
        end_sign_ins: bool,
        revoke_tokens: bool,
        keep: str | None = None,
    ) -> None:
        """Write ``fields`` to the account and end its sign-ins (but ``keep``) and/or
        tokens, in one transaction: the sets are watched, so one added meanwhile is not
        missed."""
        k = self.keys
        watched = [k.account_logins(uid), k.account_tokens(uid)]
        for _ in range(_WATCH_TRIES):
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(*watched)
                    ended: list[str] = []
                    if end_sign_ins:
                        members = cast(set[str], await pipe.smembers(watched[0]))
                        ended = sorted(d for d in members if d != keep)
                    revoked: dict[str, str] = {}
                    if revoke_tokens:
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

    # --- browser sign-ins -----------------------------------------------------

    async def add_sign_in(
        self, uid: str, digest: str, csrf: str, created_at: float, seconds: int
    ) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            record: Fields = {"uid": uid, "csrf": csrf, "created_at": repr(created_at)}
            pipe.hset(self.keys.login(digest), mapping=record)
            pipe.expire(self.keys.login(digest), seconds)
            pipe.sadd(self.keys.account_logins(uid), digest)
            await pipe.execute()
        await self._drop_expired_sign_ins(uid)

    async def _drop_expired_sign_ins(self, uid: str) -> None:
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

    async def sign_in(self, digest: str) -> SignIn | None:
        raw = cast(dict[str, str], await self.redis.hgetall(self.keys.login(digest)))
        return SignIn(raw["uid"], raw["csrf"]) if raw else None

    async def end_sign_in(self, digest: str) -> None:
        uid = await self.redis.hget(self.keys.login(digest), "uid")
        await self.redis.delete(self.keys.login(digest))
        if uid is not None:
            await self.redis.srem(self.keys.account_logins(str(uid)), digest)

    # --- API tokens -----------------------------------------------------------

    async def add_token(self, uid: str, digest: str, info: TokenInfo) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.token(digest), mapping={"id": info.id, "uid": uid,
                      "name": info.name, "created_at": repr(info.created_at)})  # fmt: skip
            pipe.hset(self.keys.account_tokens(uid), info.id, digest)
            await pipe.execute()

    async def tokens(self, uid: str) -> list[TokenInfo]:
        digests = cast(dict[str, str], await self.redis.hgetall(self.keys.account_tokens(uid)))
        tokens = []
        for digest in digests.values():
            raw = cast(dict[str, str], await self.redis.hgetall(self.keys.token(digest)))
            if raw:
                tokens.append(TokenInfo(raw["id"], raw["name"], float(raw["created_at"])))
        return sorted(tokens, key=lambda t: t.created_at)

    async def remove_token(self, uid: str, token_id: str) -> bool:
        """False when the account has no such token."""
        key = self.keys.account_tokens(uid)
        digest = cast(str | None, await self.redis.hget(key, token_id))
        if digest is None:
            return False
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.token(digest))
            pipe.hdel(key, token_id)
            await pipe.execute()
        return True

    async def token_owner(self, digest: str) -> str | None:
        return cast(str | None, await self.redis.hget(self.keys.token(digest), "uid"))

    # --- invitations ----------------------------------------------------------

    async def add_invite(self, digest: str, ttl_seconds: int) -> None:
        await self.redis.set(self.keys.invite(digest), "1", ex=ttl_seconds)
