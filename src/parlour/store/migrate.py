"""Storage formats: the one this release writes, and upgrading older ones on start.

Format 1 (release 0.1.0) kept each conversation as a list of messages, with keys
``P:session:SID``, ``P:session:SID:messages``, ``P:user:OWNER:sessions`` and so on,
and had no format marker. Format 2 keeps trees (:mod:`parlour.store.keys`). The
upgrade runs in the first process that starts; others wait for it. It is
idempotent and resumable: each conversation moves in one transaction (old keys out,
new keys in), so a crash half-way leaves every conversation whole in one format or
the other, and the next start finishes the job. A database marked with a format
newer than this release knows is refused, never touched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from parlour.store.conversations import Fields
from parlour.store.keys import FORMAT_VERSION, Keys, is_id
from parlour.store.ledger import running_member

log = logging.getLogger(__name__)

_LOCK_SECONDS = 60


class FormatError(RuntimeError):
    """The stored data is in a format this release cannot use; the message says why."""


class V1Keys:
    """The key names of format 1, for reading them once."""

    def __init__(self, prefix: str) -> None:
        self.p = prefix

    def session(self, sid: str) -> str:
        return f"{self.p}:session:{sid}"

    def messages(self, sid: str) -> str:
        return f"{self.p}:session:{sid}:messages"

    def session_reply(self, sid: str) -> str:
        return f"{self.p}:session:{sid}:reply"

    def user_sessions(self, owner: str) -> str:
        return f"{self.p}:user:{owner}:sessions"

    def reply(self, rid: str) -> str:
        return f"{self.p}:reply:{rid}"

    def reply_events(self, rid: str) -> str:
        return f"{self.p}:reply:{rid}:events"

    def running(self) -> str:
        return f"{self.p}:replies:running"


def newer_format_message(version: int) -> str:
    return (
        f"The data in Redis is in storage format {version}, written by a newer Parlour; "
        f"this release knows format {FORMAT_VERSION} at most. Upgrade Parlour, or point it "
        "at another database (REDIS_URL / REDIS_KEY_PREFIX)."
    )


async def ensure_format(
    redis: Redis | RedisCluster,
    keys: Keys,
    *,
    wait_seconds: float = 120.0,
    stop_after: int | None = None,
) -> int:
    """Make the database hold format 2: mark a new one, upgrade an older one.

    Returns how many conversations were upgraded by this call. ``stop_after`` ends the
    upgrade after that many conversations (to test a crash half-way).
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        found = await redis.get(keys.format())
        if found is not None:
            version = int(found)
            if version > FORMAT_VERSION:
                raise FormatError(newer_format_message(version))
            if version == FORMAT_VERSION:
                return 0
        if isinstance(redis, RedisCluster):
            # Format 1 could not run on a cluster: a cluster holds format 2 or nothing.
            await redis.set(keys.format(), FORMAT_VERSION, nx=True)
            continue
        token = f"{time.time()}"
        if await redis.set(keys.migrating(), token, nx=True, ex=_LOCK_SECONDS):
            try:
                return await _upgrade(redis, keys, token, stop_after)
            finally:
                await redis.delete(keys.migrating())
        if time.monotonic() > deadline:
            raise FormatError(
                "Another Parlour process has been upgrading the stored data for too long. "
                f"If none is running, delete the key {keys.migrating()} and start again."
            )
        await asyncio.sleep(0.2)  # another process is upgrading: wait for its mark


async def _upgrade(redis: Redis, keys: Keys, token: str, stop_after: int | None) -> int:
    old = V1Keys(keys.p)
    sids = [
        key.removeprefix(f"{keys.p}:session:")
        async for key in redis.scan_iter(match=f"{keys.p}:session:*", count=1000)
        if key.count(":") == keys.p.count(":") + 2
    ]
    sids = [sid for sid in sids if is_id(sid)]
    if not sids and not await _any_v1_keys(redis, keys.p):
        await redis.set(keys.format(), FORMAT_VERSION)
        return 0
    log.warning("upgrading stored data from format 1 to %d: %d conversations",
                FORMAT_VERSION, len(sids))  # fmt: skip
    done = 0
    for sid in sids:
        if stop_after is not None and done >= stop_after:
            return done
        await _upgrade_conversation(redis, keys, old, sid)
        done += 1
        if done % 100 == 0:
            await redis.set(keys.migrating(), token, ex=_LOCK_SECONDS)
    await _upgrade_running_replies(redis, keys, old)
    await _rename_all(redis, keys)
    await redis.set(keys.format(), FORMAT_VERSION)
    log.warning("stored data upgraded to format %d", FORMAT_VERSION)
    return done


async def _any_v1_keys(redis: Redis, prefix: str) -> bool:
    for pattern in ("user:*", "account*", "login:*", "token:*", "invite:*", "reply:*"):
        async for _key in redis.scan_iter(match=f"{prefix}:{pattern}", count=1000):
            return True
    return False


async def _upgrade_conversation(redis: Redis, keys: Keys, old: V1Keys, sid: str) -> None:
    raw = cast(dict[str, str], await redis.hgetall(old.session(sid)))
    if not raw:
        return
    owner = raw.get("owner", "")
    items = cast(list[str], await redis.lrange(old.messages(sid), 0, -1))
    score = await redis.zscore(old.user_sessions(owner), sid)
    ttl = int(await redis.ttl(old.session(sid)))
    lock = cast(str | None, await redis.get(old.session_reply(sid)))
    lock_ttl = int(await redis.ttl(old.session_reply(sid)))
    messages: dict[str, str] = {}
    tree: dict[str, str] = {}
    path: list[str] = []
    parent = ""
    for item in items:
        fields: dict[str, Any] = orjson.loads(item)
        mid = str(fields.get("id", ""))
        if not mid or mid in messages:
            continue
        fields.setdefault("status", "complete")
        messages[mid] = orjson.dumps(fields).decode()
        tree[f"u:{mid}"] = parent
        tree[f"k:{parent}"] = orjson.dumps([mid]).decode()
        path.append(mid)
        parent = mid
    conversation: Fields = {
        "id": sid,
        "owner": owner,
        "title": raw.get("title", ""),
        "persona": raw.get("persona", ""),
        "model": raw.get("model", ""),
        "created_at": raw.get("created_at", "0"),
        "updated_at": raw.get("updated_at", raw.get("created_at", "0")),
        "message_count": str(len(path)),
        "active": path[-1] if path else "",
    }
    new = keys.conversation_keys(sid)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(*new)
        pipe.hset(new[0], mapping=conversation)
        if messages:
            pipe.hset(new[1], mapping=cast(Fields, messages))
            pipe.hset(new[2], mapping=cast(Fields, tree))
            pipe.rpush(new[3], *path)
        if ttl > 0:
            for key in new:
                pipe.expire(key, ttl)
        if lock is not None:  # a reply of the old release: the reaper closes it
            pipe.set(keys.session_reply(sid), lock, ex=max(lock_ttl, 1))
        pipe.zadd(keys.user_sessions(owner), {sid: score if score is not None else 0})
        pipe.zrem(old.user_sessions(owner), sid)
        pipe.delete(old.session(sid), old.messages(sid), old.session_reply(sid))
        await pipe.execute()
    # The old list was kept for the owner: drop it once empty.
    if not await redis.zcard(old.user_sessions(owner)):
        await redis.delete(old.user_sessions(owner))


async def _upgrade_running_replies(redis: Redis, keys: Keys, old: V1Keys) -> None:
    """Replies the old release was writing move beside their conversations, so the reaper
    stores their text so far as an interrupted reply."""
    async for key in redis.scan_iter(match=f"{keys.p}:reply:*", count=1000):
        rest = key.removeprefix(f"{keys.p}:reply:")
        if not is_id(rest):
            continue  # an events stream or a reaper mark: moved with its reply
        rid = rest
        facts = cast(dict[str, str], await redis.hgetall(old.reply(rid)))
        sid = facts.get("session", "")
        if not is_id(sid):
            await redis.delete(old.reply(rid), old.reply_events(rid))
            continue
        score = await redis.zscore(old.running(), rid)
        async with redis.pipeline(transaction=True) as pipe:
            moved: Fields = {**cast(Fields, facts), "id": rid, "parent": ""}
            pipe.hset(keys.reply(sid, rid), mapping=moved)
            pipe.expire(keys.reply(sid, rid), 86_400)
            pipe.delete(old.reply(rid))
            if await redis.exists(old.reply_events(rid)):
                pipe.rename(old.reply_events(rid), keys.reply_events(sid, rid))
            if score is not None:
                pipe.zrem(old.running(), rid)
                pipe.zadd(keys.running_replies(), {running_member(sid, rid): score})
            await pipe.execute()


# Keys whose content did not change, only their names: (old pattern, new name).
def _renames(keys: Keys) -> list[tuple[str, Callable[[str], str | None]]]:
    p = keys.p

    def tail(key: str, head: str) -> str:
        return key.removeprefix(f"{p}:{head}")

    def account(key: str) -> str | None:
        rest = tail(key, "account:").split(":")
        if not is_id(rest[0]):
            return None
        if len(rest) == 1:
            return keys.account(rest[0])
        return {"logins": keys.account_logins, "tokens": keys.account_tokens}.get(
            rest[1], lambda _uid: None
        )(rest[0])

    def usage(key: str) -> str | None:
        parts = tail(key, "user:").split(":")  # OWNER:usage:DAY
        if len(parts) == 3 and parts[1] == "usage":
            return keys.user_usage(parts[0], parts[2])
        return None

    return [
        (f"{p}:account:*", account),
        (f"{p}:accounts:names", lambda _k: keys.account_names()),
        (f"{p}:accounts:first", lambda _k: keys.first_account()),
        (f"{p}:accounts", lambda _k: keys.accounts()),
        (f"{p}:login:*", lambda k: keys.login(tail(k, "login:"))),
        (f"{p}:token:*", lambda k: keys.token(tail(k, "token:"))),
        (f"{p}:invite:*", lambda k: keys.invite(tail(k, "invite:"))),
        (f"{p}:user:*:usage:*", usage),
    ]


async def _rename_all(redis: Redis, keys: Keys) -> None:
    for pattern, new_name in _renames(keys):
        found = [key async for key in redis.scan_iter(match=pattern, count=1000)]
        for key in found:
            target = new_name(key)
            if target is not None and target != key:
                await redis.rename(key, target)  # keeps the key's TTL
    # Leftovers of running replies (their owners' counters) are not worth keeping.
    async for key in redis.scan_iter(match=f"{keys.p}:user:*:replies", count=1000):
        await redis.delete(key)
