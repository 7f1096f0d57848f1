"""The processes a run needs: the upstream, Parlour servers, load clients; their CPU and memory.

Every child runs in its own process (the load tools must not share the
server's event loop or GIL) and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class BenchError(RuntimeError):
    """A process the benchmark needs did not start or answer in time."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Upstream:
    """``bench.upstream`` in a child process."""

    def __init__(self, tokens: int = 50, interval: float = 0.02) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bench.upstream", "--tokens", str(tokens), "--interval", str(interval)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            _stop(self.proc)
            raise BenchError("the scripted upstream did not start")
        self.port = int(line.split()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        _stop(self.proc)


def supports_workers() -> bool:
    """Whether ``parlour serve`` knows ``--workers`` yet."""
    out = subprocess.run(
        [str(Path(PYTHON).parent / "parlour"), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--workers" in out.stdout


class Server:
    """``parlour serve`` in a child process, with a temporary data directory."""

    def __init__(self, env: Mapping[str, str], *, workers: int = 1, ready_timeout: float = 90.0):
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="parlour-bench-"))
        full_env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "LOG_LEVEL": "WARNING",
            "SHUTDOWN_GRACE_SECONDS": "0",
            **env,
        }
        args = [str(Path(PYTHON).parent / "parlour"), "serve", "--port", str(self.port)]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.workers = workers
        self.log = (self.data_dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            args, cwd=self.data_dir, env=full_env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"parlour serve exited at start:\n{self.log_text()}")
            if self._ready():
                return
            time.sleep(0.1)
        self.stop()
        raise BenchError("parlour serve was not ready in time")

    def _ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/readyz"
            with urllib.request.urlopen(url, timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def log_text(self) -> str:
        self.log.flush()
        return (self.data_dir / "server.log").read_text(errors="replace")[-4000:]

    def tree(self) -> list[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self.tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def stop(self) -> None:
        _stop(self.proc, timeout=30)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _plan_files(plan: dict[str, Any]) -> tuple[Path, Path]:
    folder = Path(tempfile.mkdtemp(prefix="parlour-bench-plan-"))
    result = folder / "result.json"
    (folder / "plan.json").write_bytes(orjson.dumps({**plan, "result_path": str(result)}))
    return folder / "plan.json", result


def _read_result(plan_path: Path, result_path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = orjson.loads(result_path.read_bytes())
        return data
    except (OSError, orjson.JSONDecodeError):
        return None
    finally:
        shutil.rmtree(plan_path.parent, ignore_errors=True)


def run_client(plan: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """Run ``bench.loadclient`` on a plan; its result."""
    plan_path, result_path = _plan_files(plan)
    out = subprocess.run(
        [PYTHON, "-m", "bench.loadclient", str(plan_path)],
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = _read_result(plan_path, result_path)
    if result is None:
        raise BenchError(f"the load client failed:\n{out.stderr.decode(errors='replace')[-3000:]}")
    return result


class IdleClient:
    """A load client holding idle streams open until :meth:`close`."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan_path, self.result_path = _plan_files(plan)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "bench.loadclient", str(self.plan_path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def wait_open(self) -> int:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if not line.startswith("OPEN "):
            raise BenchError("the idle client did not report its open streams")
        return int(line.split()[1])

    def close(self) -> dict[str, Any]:
        try:
            self.proc.communicate(b"close\n", timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return _read_result(self.plan_path, self.result_path) or {}
