"""A schemathesis run over the OpenAPI schema: whatever it sends, no 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.accounts import PASSWORD_MODE
from tests.conftest import make_settings
from tests.live import LiveServer
from tests.upstream import ScriptedUpstream


@pytest.fixture(scope="module", params=["none", "password"])
def fuzzed_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    redis_url: str,
    _upstream: ScriptedUpstream,
) -> Iterator[LiveServer]:
    extra = PASSWORD_MODE if request.param == "password" else {}
    server = LiveServer(
        make_settings(
            tmp_path_factory.mktemp("fuzz"), redis_url=redis_url, openai_base_url=_upstream.url,
            local_enabled=False, redis_key_prefix=f"fuzz-{request.param}", **extra,
        )
    ).start()  # fmt: skip
    yield server
    server.stop()


def test_no_server_errors(fuzzed_server: LiveServer) -> None:
    """Every operation, with generated valid and invalid inputs, answers below 500."""
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            response = case.call(base_url=fuzzed_server.url, timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:300]}"
            )

        call()
    assert "POST /api/v1/sessions/{session_id}/messages" in tried
    assert len(tried) >= 25
