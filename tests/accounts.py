"""Helpers for tests with accounts (AUTH_MODE=password)."""

from __future__ import annotations

import httpx

SECRET_KEY = "test-secret-key-with-plenty-of-entropy-0123456789"
PASSWORD = "correct horse battery staple"
PASSWORD_MODE = {"auth_mode": "password", "secret_key": SECRET_KEY}


def signed_up(url: str, username: str, password: str = PASSWORD, **extra: str) -> httpx.Client:
    """A client signed up (and so signed in) as ``username``, sending its CSRF token."""
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post(
        "/api/v1/auth/signup", json={"username": username, "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def signed_in(url: str, username: str, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client
