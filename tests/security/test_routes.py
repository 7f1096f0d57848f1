"""Findings 8, 12 and 13 over every route, read from the app's OpenAPI document: a route
added later (search, organising, shares, imports, the live channel, personas, memory,
summaries, usage, chat settings...) is checked the day it is added."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.accounts import PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.live import LiveServer

MISSING = "f" * 32
METHODS = ("get", "post", "put", "patch", "delete")
NO_LIMITS = {f"rate_{name}": "100000/minute" for name in
             ("messages", "messages_ip", "writes", "writes_ip", "exports")}  # fmt: skip
# Answered without a sign-in, each for its reason.
PUBLIC = {
    ("POST", "/api/v1/auth/signup"): "how an account is made",
    ("POST", "/api/v1/auth/login"): "how one signs in",
    ("GET", "/api/v1/shared/{token}"): "a share link is for anyone who holds it",
    ("GET", "/healthz"): "reveals nothing, for orchestrators",
    ("GET", "/readyz"): "reveals nothing, for orchestrators",
}
# Not checked for their origin: they neither change nor stream, and reveal nothing.
ANY_ORIGIN = {("GET", "/healthz"), ("GET", "/readyz")}
SIBLING = "http://127.0.0.1:9"  # another port of this host: same-site, never same-origin
CRAFTED = ["x" * 40, f"{MISSING}:tokens", "...", "*", "a b", "\u00b2", "%00", "{x}", "'\"<>"]


def operations(server: LiveServer) -> list[tuple[str, str, dict[str, Any]]]:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    found = [(m.upper(), path, op) for path, item in spec["paths"].items()
             for m, op in item.items() if m in METHODS]  # fmt: skip
    assert ("GET", "/api/v1/events") in {(m, p) for m, p, _op in found}
    return found


def request_for(path: str, op: dict[str, Any], ident: str = MISSING) -> tuple[str, dict[str, str]]:
    """The path with ``ident`` for each of its ids, and its required query parameters."""
    url = re.sub(r"\{[^}]+\}", ident, path)
    params = {
        p["name"]: {"user_id": "ada", "message": "hi", "q": "hi"}.get(p["name"], MISSING)
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    return url, params


@pytest.fixture
def ada(make_server: ServerFactory) -> Iterator[tuple[LiveServer, httpx.Client]]:
    server = make_server(**PASSWORD_MODE, **NO_LIMITS)
    client = signed_up(server.url, "ada")
    yield server, client
    client.close()


def test_finding_12_every_route_needs_a_sign_in_with_accounts(
    ada: tuple[LiveServer, httpx.Client],
) -> None:
    server, _ada = ada
    answered = []
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for method, path, op in operations(server):
            if (method, path) in PUBLIC:
                continue
            url, params = request_for(path, op)
            response = anonymous.request(method, url, params=params, json={})
            if response.status_code != 401:
                answered.append(f"{method} {path} -> {response.status_code}")
        # The page and the shared page are served to anyone; what they show is read
        # through the API above.
        assert anonymous.get("/").status_code == 200
        assert anonymous.get(f"/s/{'A' * 32}").status_code == 404
    assert answered == []


def test_finding_08_every_route_that_changes_or_streams_checks_the_origin(
    ada: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = ada
    let_through = []
    for method, path, op in operations(server):
        if (method, path) in ANY_ORIGIN:
            continue
        url, params = request_for(path, op)
        for headers in ({"Origin": SIBLING}, {"Sec-Fetch-Site": "same-site"},
                        {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
            response = client.request(method, url, params=params, json={}, headers=headers)
            code = response.json()["error"]["code"] if response.status_code == 403 else None
            if code != "cross_origin":
                let_through.append(f"{method} {path} {headers} -> {response.status_code}")
    assert let_through == []
    # The same requests from the page's own origin are not refused for it.
    own = client.get("/api/v1/sessions", headers={"Origin": server.url})
    assert own.status_code == 200


def test_finding_13_crafted_ids_on_every_route_are_4xx_with_the_headers(
    ada: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = ada
    broken = []
    for method, path, op in operations(server):
        if "{" not in path:
            continue
        for crafted in CRAFTED:
            url, params = request_for(path, op, crafted)
            response = client.request(method, url, params=params, json={})
            policy = response.headers.get("content-security-policy", "")
            if not 400 <= response.status_code < 500 or "script-src 'self';" not in policy:
                broken.append(f"{method} {url} -> {response.status_code}")
    for crafted in CRAFTED:
        page = client.get(f"/s/{crafted}")
        if page.status_code != 404 or "content-security-policy" not in page.headers:
            broken.append(f"GET /s/{crafted} -> {page.status_code}")
    assert broken == []
