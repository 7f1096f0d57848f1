"""The interactive API page works offline: Swagger UI comes from the package, not a CDN."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageLog
from tests.live import LiveServer

pytestmark = pytest.mark.browser


def test_docs_render_swagger_ui_from_local_files(
    page: Page, server: LiveServer, page_log: PageLog
) -> None:
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(server.url + "/docs")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("Parlour")
    operations = page.locator(".opblock-summary-path")
    expect(operations.filter(has_text="/api/v1/sessions").first).to_be_visible()
    assert operations.count() > 10
    # Open one operation: its parameters and responses render too.
    page.locator(".opblock-summary-path", has_text="/api/v1/sessions/{session_id}").first.click()
    expect(page.locator(".opblock-body .responses-wrapper").first).to_be_visible()
    assert f"{server.url}/vendor/swagger-ui/swagger-ui-bundle.js" in loaded
    assert f"{server.url}/vendor/swagger-ui/swagger-ui.css" in loaded
    assert not page_log.foreign_requests
    assert not page_log.failed_responses
    assert not page_log.errors


def test_vendored_swagger_files_are_served(page: Page, server: LiveServer) -> None:
    for name, kind in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")):
        response = page.request.get(f"{server.url}/vendor/swagger-ui/{name}")
        assert response.status == 200
        assert kind in response.headers["content-type"]
