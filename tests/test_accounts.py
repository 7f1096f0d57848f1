"""AUTH_MODE=password: accounts, sign-in, CSRF, API tokens and administration."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from parlour.config import Settings
from tests.accounts import PASSWORD, PASSWORD_MODE, signed_in, signed_up
from tests.conftest import ServerFactory
from tests.live import LiveServer


@pytest.fixture
def server(make_server: ServerFactory) -> LiveServer:
    return make_server(**PASSWORD_MODE)


@pytest.mark.parametrize("secret", [None, "", "change-me", "short-secret"])
def test_password_mode_refuses_a_missing_or_weak_secret(secret: str | None) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None, auth_mode="password", secret_key=secret)  # type: ignore[call-arg]


def test_sign_up_sign_in_and_out(server: LiveServer) -> None:
    anonymous = httpx.Client(base_url=server.url)
    assert anonymous.get("/api/v1/sessions").status_code == 401
    assert anonymous.get("/api/v1/auth/me").json()["detail"] == "Please sign in first."

    admin = signed_up(server.url, "ada")
    me = admin.get("/api/v1/auth/me").json()
    assert me["username"] == "ada"
    assert me["is_admin"] is True  # the first account
    cookies = admin.cookies
    assert cookies.get("parlour_session")
    assert cookies.get("parlour_csrf") == admin.headers["X-CSRF-Token"]

    bob = signed_up(server.url, "bob")
    assert bob.get("/api/v1/auth/me").json()["is_admin"] is False
    assert bob.post("/api/v1/auth/logout").status_code == 204
    assert bob.get("/api/v1/auth/me").status_code == 401
    again = signed_in(server.url, "bob")
    assert again.get("/api/v1/auth/me").json()["username"] == "bob"


def test_cookie_flags(server: LiveServer) -> None:
    response = httpx.post(f"{server.url}/api/v1/auth/signup",
                          json={"username": "ada", "password": PASSWORD})  # fmt: skip
    set_cookies = response.headers.get_list("set-cookie")
    session = next(c for c in set_cookies if c.startswith("parlour_session="))
    csrf = next(c for c in set_cookies if c.startswith("parlour_csrf="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert "HttpOnly" not in csrf


def test_wrong_credentials_get_one_message(server: LiveServer) -> None:
    signed_up(server.url, "ada")
    for body in ({"username": "ada", "password": "wrong password"},
                 {"username": "nobody", "password": PASSWORD}):  # fmt: skip
        response = httpx.post(f"{server.url}/api/v1/auth/login", json=body)
        assert response.status_code == 401
        assert response.json()["detail"] == "The username or password is not correct."
        assert response.json()["error"]["code"] == "bad_credentials"


def test_bad_sign_up_input(server: LiveServer) -> None:
    url = f"{server.url}/api/v1/auth/signup"
    short = httpx.post(url, json={"username": "ada", "password": "short"})
    assert short.status_code == 422
    assert "8 to 256 characters" in short.json()["detail"]
    odd = httpx.post(url, json={"username": "a b", "password": PASSWORD})
    assert "username" in odd.json()["detail"]
    signed_up(server.url, "ada")
    taken = httpx.post(url, json={"username": "ADA", "password": PASSWORD})
    assert taken.status_code == 422
    assert taken.json()["error"]["code"] == "username_taken"


def test_csrf_is_required_for_changes_made_with_the_cookie(server: LiveServer) -> None:
    ada = signed_up(server.url, "ada")
    token = ada.headers.pop("X-CSRF-Token")
    refused = ada.post("/api/v1/sessions", json={})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = ada.post("/api/v1/sessions", json={}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert ada.get("/api/v1/sessions").status_code == 200  # reading needs no token
    ok = ada.post("/api/v1/sessions", json={}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


def test_cross_origin_writes_are_refused(server: LiveServer) -> None:
    ada = signed_up(server.url, "ada")
    evil = ada.post("/api/v1/sessions", json={}, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert evil.json()["error"]["code"] == "cross_origin"
    own = ada.post("/api/v1/sessions", json={}, headers={"Origin": server.url})
    assert own.status_code == 201


def test_api_tokens(server: LiveServer) -> None:
    ada = signed_up(server.url, "ada")
    created = ada.post("/api/v1/auth/tokens", json={"name": "script"})
    assert created.status_code == 201
    token = created.json()["token"]
    listed = ada.get("/api/v1/auth/tokens").json()["tokens"]
    assert [t["name"] for t in listed] == ["script"]
    assert "token" not in listed[0]  # shown once only

    script = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    made = script.post("/api/v1/sessions", json={"title": "from a script"})  # no CSRF needed
    assert made.status_code == 201
    assert ada.get("/api/v1/sessions").json()["items"][0]["title"] == "from a script"

    assert ada.delete(f"/api/v1/auth/tokens/{listed[0]['id']}").status_code == 204
    revoked = script.get("/api/v1/sessions")
    assert revoked.status_code == 401
    assert "not valid" in revoked.json()["detail"]


def test_admin_lists_and_disables_users(server: LiveServer) -> None:
    admin = signed_up(server.url, "ada")
    bob = signed_up(server.url, "bob")
    bob_token = bob.post("/api/v1/auth/tokens", json={"name": "t"}).json()["token"]
    assert bob.get("/api/v1/admin/users").status_code == 403

    users = admin.get("/api/v1/admin/users").json()["users"]
    assert [u["username"] for u in users] == ["ada", "bob"]
    bob_id = users[1]["id"]
    disabled = admin.post(f"/api/v1/admin/users/{bob_id}/disable")
    assert disabled.json()["disabled"] is True
    assert bob.get("/api/v1/sessions").status_code == 401  # signed out
    token_use = httpx.get(f"{server.url}/api/v1/sessions",
                          headers={"Authorization": f"Bearer {bob_token}"})  # fmt: skip
    assert token_use.status_code == 403
    login = httpx.post(f"{server.url}/api/v1/auth/login",
                       json={"username": "bob", "password": PASSWORD})  # fmt: skip
    assert login.status_code == 403
    assert "disabled" in login.json()["detail"]

    admin.post(f"/api/v1/admin/users/{bob_id}/enable")
    signed_in(server.url, "bob")


def test_change_password_ends_other_sign_ins(server: LiveServer) -> None:
    here = signed_up(server.url, "ada")
    elsewhere = signed_in(server.url, "ada")
    change = {"current_password": PASSWORD, "new_password": "a brand new one"}
    changed = here.post("/api/v1/auth/password", json=change)
    assert changed.status_code == 204
    assert here.get("/api/v1/auth/me").status_code == 200
    assert elsewhere.get("/api/v1/auth/me").status_code == 401
    signed_in(server.url, "ada", "a brand new one")


def test_sign_up_closed_and_by_invitation(make_server: ServerFactory) -> None:
    closed = make_server(**PASSWORD_MODE, signup="closed")
    signed_up(closed.url, "first")  # the first account can always be made
    refused = httpx.post(f"{closed.url}/api/v1/auth/signup",
                         json={"username": "second", "password": PASSWORD})  # fmt: skip
    assert refused.status_code == 403
    assert "closed" in refused.json()["detail"]
    assert refused.json()["error"]["code"] == "signup_closed"

    invite_only = make_server(**PASSWORD_MODE, signup="invite", redis_key_prefix="other")
    admin = signed_up(invite_only.url, "admin")
    url = f"{invite_only.url}/api/v1/auth/signup"
    assert httpx.post(url, json={"username": "guest", "password": PASSWORD}).status_code == 403
    code = admin.post("/api/v1/admin/invites").json()["code"]
    signed_up(invite_only.url, "guest", invite=code)
    reuse = httpx.post(url, json={"username": "guest2", "password": PASSWORD, "invite": code})
    assert reuse.status_code == 403


def test_tutorial_user_id_must_match_the_signed_in_user(server: LiveServer) -> None:
    ada = signed_up(server.url, "ada")
    mine = ada.post("/chat/start", params={"user_id": "ada"})
    assert mine.status_code == 200
    other = ada.post("/chat/start", params={"user_id": "bob"})
    assert other.status_code == 403
    assert "does not match" in other.json()["detail"]
    assert httpx.post(f"{server.url}/chat/start", params={"user_id": "ada"}).status_code == 401


def test_cookies_are_secure_over_https(server: LiveServer) -> None:
    # A proxy on loopback (trusted by default) says the browser used HTTPS.
    response = httpx.post(f"{server.url}/api/v1/auth/signup",
                          json={"username": "ada", "password": PASSWORD},
                          headers={"X-Forwarded-Proto": "https"})  # fmt: skip
    set_cookies = response.headers.get_list("set-cookie")
    assert all("Secure" in c for c in set_cookies)
    plain = httpx.post(f"{server.url}/api/v1/auth/login",
                       json={"username": "ada", "password": PASSWORD})  # fmt: skip
    assert not any("Secure" in c for c in plain.headers.get_list("set-cookie"))


def test_tutorial_stream_with_the_cookie_needs_the_csrf_token(server: LiveServer) -> None:
    ada = signed_up(server.url, "ada")
    token = ada.headers.pop("X-CSRF-Token")
    sid = ada.post("/chat/start", params={"user_id": "ada"},
                   headers={"X-CSRF-Token": token}).json()["session_id"]  # fmt: skip
    params = {"user_id": "ada", "session_id": sid, "message": "hi"}
    assert ada.get("/chat/stream", params=params).status_code == 403
    ok = ada.get("/chat/stream", params={**params, "csrf_token": token})
    assert ok.status_code == 200


def test_a_mistyped_password_does_not_use_up_an_invitation(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE, signup="invite")
    code = signed_up(server.url, "admin").post("/api/v1/admin/invites").json()["code"]
    bad = httpx.post(f"{server.url}/api/v1/auth/signup",
                     json={"username": "guest", "password": "short", "invite": code})  # fmt: skip
    assert bad.status_code == 422
    signed_up(server.url, "guest", invite=code)  # still valid
