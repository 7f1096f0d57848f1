"""Redis Cluster: where its seed nodes are, and the clients that talk to it.

With ``REDIS_CLUSTER=true``, ``REDIS_URL`` names one or more seed nodes of the cluster:
``redis://[user:password@]host:port[,host:port...]`` (``rediss://`` for TLS). The client
asks them for the slot map and finds every other node itself. Every key that one script
or transaction touches carries the same hash tag (see :mod:`parlour.store.keys`), so the
cluster client sends each one to a single node; nothing else changes for the code that
takes the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import ClusterNode as SyncClusterNode
from redis.cluster import RedisCluster as SyncRedisCluster


class ClusterUrlError(ValueError):
    """REDIS_URL does not name cluster seed nodes."""


@dataclass(frozen=True, slots=True)
class ClusterAddress:
    """The seed nodes of a cluster and how to sign in to them."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @property
    def netloc(self) -> str:
        """``[user:password@]host:port,host:port`` as written in a URL."""
        hosts = ",".join(f"{host}:{port}" for host, port in self.nodes)
        return f"{self._auth()}{hosts}"

    def _auth(self) -> str:
        if self.password is None and self.username is None:
            return ""
        return f"{self.username or ''}:{self.password or ''}@"

    def connection_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl": self.tls}
        if self.username is not None:
            options["username"] = self.username
        if self.password is not None:
            options["password"] = self.password
        return options


def parse_cluster_url(url: str) -> ClusterAddress:
    """The seed nodes in ``redis://[user:password@]host:port[,host:port...][/0]``."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss"):
        raise ClusterUrlError(
            "With REDIS_CLUSTER=true, REDIS_URL must be redis://host:port[,host:port...] "
            "(or rediss:// for TLS)"
        )
    netloc, _, tail = rest.partition("/")
    path = tail.partition("?")[0]
    if path not in ("", "0"):
        raise ClusterUrlError("A Redis Cluster has only database 0: drop the /N from REDIS_URL")
    auth, _, hosts = netloc.rpartition("@")
    username = password = None
    if auth:
        user, colon, secret = auth.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    nodes: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ClusterUrlError(
                f"REDIS_URL names a seed node without host:port ({item.strip() or 'empty'!r})"
            )
        nodes.append((host.strip("[]"), int(port)))
    return ClusterAddress(tuple(nodes), username, password, scheme == "rediss")


async def ping(redis: Redis | RedisCluster) -> bool:
    """PING the server, or on a cluster every master (the client's own PING asks one)."""
    if isinstance(redis, RedisCluster):
        return bool(await redis.ping(target_nodes=RedisCluster.PRIMARIES))
    return bool(await redis.ping())


def open_cluster(address: ClusterAddress, **options: Any) -> RedisCluster:
    """The asyncio client; ``options`` apply to every node's connections."""
    return RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in address.nodes],
        **address.connection_options(),
        **options,
    )


def open_cluster_sync(address: ClusterAddress, **options: Any) -> SyncRedisCluster:
    """The blocking client, for the command line's checks before the server starts."""
    nodes = [SyncClusterNode(host, port) for host, port in address.nodes]  # type: ignore[no-untyped-call]
    return SyncRedisCluster(
        startup_nodes=nodes,
        **address.connection_options(),
        **options,
    )
