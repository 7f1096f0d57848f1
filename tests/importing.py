"""Helpers for import tests: upload a file, wait for its job, read a conversation's tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.waiting import wait_until


def upload(
    client: httpx.Client, data: bytes | Path, filename: str = "export.zip"
) -> httpx.Response:
    body = data.read_bytes() if isinstance(data, Path) else data
    return client.post(
        "/api/v1/imports", params={"filename": filename}, content=body,
        headers={"content-type": "application/octet-stream"},
    )  # fmt: skip


def finished(client: httpx.Client, job: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        facts: dict[str, Any] = client.get(f"/api/v1/imports/{job}").json()
        return facts if facts["status"] != "running" else None

    return wait_until(done, timeout=60, what="the import to finish")


def imported(
    client: httpx.Client, data: bytes | Path, filename: str = "export.zip"
) -> dict[str, Any]:
    """Upload and wait: the finished job's facts."""
    started = upload(client, data, filename)
    assert started.status_code == 202, started.text
    return finished(client, started.json()["id"])


def report(client: httpx.Client, job: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/imports/{job}/report", params={"limit": 500})
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def tree(client: httpx.Client, sid: str) -> tuple[Any, list[str]]:
    """A conversation's whole tree as nested (role, content, children) tuples (siblings
    in order), and the active branch's contents: the shape, without ids or times."""
    exported = client.get(f"/api/v1/sessions/{sid}/export").json()
    kids: dict[str | None, list[dict[str, Any]]] = {}
    for m in exported["messages"]:
        kids.setdefault(m["parent_id"], []).append(m)

    def shape(parent: str | None) -> tuple[Any, ...]:
        return tuple((m["role"], m["content"], shape(m["id"])) for m in kids.get(parent, []))

    return shape(None), [m["content"] for m in exported["items"]]


def sessions(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/api/v1/sessions", params={"limit": 500}).json()[
        "items"
    ]
    return items
