"""Running ``parlour serve`` as a real process, for tests that restart or kill it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from parlour.store import Keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, env: dict[str, str], cwd: Path, *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "REDIS_"))}
        full_env.update({"LOCAL_ENABLED": "false", "LOG_LEVEL": "INFO", "TITLES": "false", **env})
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "parlour", "serve", "--port", str(self.port), *args],
            cwd=cwd,  # no .env there
            env=full_env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90) -> ServerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.output()}")

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log_file.close()
        return code


@contextmanager
def running(env: dict[str, str], cwd: Path, count: int = 2) -> Iterator[list[ServerProcess]]:
    """``count`` server processes with the same settings, stopped afterwards."""
    servers = [ServerProcess(env, cwd) for _ in range(count)]
    try:
        yield [s.wait_ready() for s in servers]
    finally:
        for s in servers:
            s.stop()


def stored_last(redis: Redis, sid: str) -> dict[str, Any]:
    """The last message of a conversation's active branch, as stored (for a stopped server)."""
    keys = Keys("parlour")
    leaf = redis.lindex(keys.path(sid), -1)
    return dict(json.loads(redis.hget(keys.messages(sid), leaf)))
