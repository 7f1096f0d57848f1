"""Abuse limits, counted in Redis (so they hold across processes) by the ``limits`` library.

Each limit has a name, a rate such as ``20/minute`` and a sentence for people.
A limit that is reached raises :class:`~parlour.errors.RateLimited` with the
seconds to wait.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from parlour.config import Settings
from parlour.errors import RateLimited
from parlour.signin import SigninGuard
from parlour.store import Keys


@dataclass(frozen=True, slots=True)
class Limit:
    item: RateLimitItem
    what: str  # "You are sending messages too quickly" ...


def _storage_uri(url: str) -> str:
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    return "async+" + url


def _storage(redis: Redis, url: str, settings: Settings) -> RedisStorage:
    prefix = f"{settings.redis_key_prefix}:limits"
    if settings.redis_cluster:
        # Each limit is one key, so the library's scripts run on one node. It opens
        # its own cluster client (it cannot share ours): closed by Limiter.aclose.
        address = settings.cluster_address()
        return RedisClusterStorage(
            f"async+redis+cluster://{address.netloc}",
            implementation="redispy",
            key_prefix=prefix,
            ssl=address.tls,
            socket_connect_timeout=settings.redis_connect_timeout,
            socket_timeout=settings.redis_socket_timeout,
        )
    return RedisStorage(
        _storage_uri(url),
        implementation="redispy",
        key_prefix=prefix,
        connection_pool=redis.connection_pool,  # type: ignore[arg-type]
    )


class Limiter:
    def __init__(self, redis: Redis, url: str, settings: Settings) -> None:
        self._storage = _storage(redis, url, settings)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self.limits = {
            "message": Limit(parse(settings.rate_messages), "You are sending messages too quickly"),
            "message_ip": Limit(
                parse(settings.rate_messages_ip), "Too many messages from your network"
            ),
            "write": Limit(parse(settings.rate_writes), "You are making changes too quickly"),
            "write_ip": Limit(parse(settings.rate_writes_ip), "Too many changes from your network"),
            "login_ip": Limit(parse(settings.rate_login_ip), "Too many sign-in attempts"),
            "export": Limit(parse(settings.rate_exports), "You are exporting too often"),
        }
        # Failed sign-ins are counted before the password is checked (see signin.py).
        self.signin = SigninGuard(
            redis,
            Keys(settings.redis_key_prefix),
            per_address=settings.rate_login_failures,
            per_account=settings.rate_login_account_failures,
        )

    async def aclose(self) -> None:
        """Close the connections the library opened itself (a cluster's); a single
        server's are the app's pool, closed with it."""
        if isinstance(self._storage, RedisClusterStorage):
            bridge: Any = self._storage.bridge  # the library has no close method
            await bridge.storage.aclose()

    async def hit(self, name: str, *identity: str) -> None:
        """Count one request against the limit; raise if it is over."""
        limit = self.limits[name]
        if not await self._strategy.hit(limit.item, name, *identity):
            raise await self._refusal(limit, name, identity)

    async def check(self, name: str, *identity: str) -> None:
        """Raise if the limit is already reached, without counting."""
        limit = self.limits[name]
        if not await self._strategy.test(limit.item, name, *identity):
            raise await self._refusal(limit, name, identity)

    async def _refusal(self, limit: Limit, name: str, identity: tuple[str, ...]) -> RateLimited:
        stats = await self._strategy.get_window_stats(limit.item, name, *identity)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        return RateLimited(
            f"{limit.what} (at most {limit.item.amount} per "
            f"{_window(limit.item)}). Please try again in {wait} s.",
            retry_after=wait,
        )


def _window(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
