"""Real parts for every test: a real redis-server, the real app over HTTP, and a
scripted OpenAI-protocol server on loopback standing in for the external API."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from parlour.config import Settings
from parlour.embedded import EmbeddedRedis
from tests.live import LiveServer
from tests.processes import ServerProcess, running
from tests.upstream import ScriptedUpstream


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture
def redis(redis_url: str) -> Iterator[Redis]:
    """A client on the test Redis, emptied before each test."""
    client = Redis.from_url(redis_url, decode_responses=True)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(scope="session")
def _upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def upstream(_upstream: ScriptedUpstream) -> ScriptedUpstream:
    _upstream.reset()
    return _upstream


@pytest.fixture(scope="session")
def _second_upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream().start()
    yield server
    server.stop()


@pytest.fixture
def second_upstream(_second_upstream: ScriptedUpstream) -> ScriptedUpstream:
    """Another scripted upstream, for a second provider."""
    _second_upstream.reset()
    return _second_upstream


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for tests: never read from the environment or a .env file."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", **overrides)  # type: ignore[call-arg]


ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def make_server(
    tmp_path: Path, redis: Redis, redis_url: str, upstream: ScriptedUpstream
) -> Iterator[ServerFactory]:
    """Start apps with the test Redis and the scripted upstream, plus any overrides."""
    started: list[LiveServer] = []

    def factory(**overrides: Any) -> LiveServer:
        values: dict[str, Any] = {
            "redis_url": redis_url,
            "openai_base_url": upstream.url,
            "openai_api_key": "sk-test-secret-key-0123456789",
            "openai_model": "scripted-model",
            "local_enabled": False,
            "heartbeat_seconds": 1.0,
            "upstream_attempts": 3,
            # Model-made titles ask the upstream once more after a first exchange; the
            # tests that count requests do not expect that (tests/test_titles.py turns it on).
            "titles": False,
        }
        values.update(overrides)
        server = LiveServer(make_settings(tmp_path, **values)).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> LiveServer:
    return make_server()


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


PairFactory = Callable[..., tuple[ServerProcess, ServerProcess]]


@pytest.fixture
def server_pair(
    tmp_path: Path, redis: Redis, redis_url: str, upstream: ScriptedUpstream
) -> Iterator[PairFactory]:
    """Start two ``parlour serve`` processes sharing the test Redis and the scripted upstream."""
    with contextlib.ExitStack() as stack:

        def start(**env: str) -> tuple[ServerProcess, ServerProcess]:
            base = {"REDIS_URL": redis_url, "OPENAI_BASE_URL": upstream.url, "TITLES": "false",
                    **env}  # fmt: skip
            a, b = stack.enter_context(running(base, tmp_path))
            return a, b

        yield start
