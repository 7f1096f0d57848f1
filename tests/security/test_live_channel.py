"""The live channel (``GET /api/v1/events``, added after the first round) against findings
5, 6 and 10: it is a stream like a reply's, so it is capped per user and does not outlive
the account or the credential it was opened with."""

from __future__ import annotations

import httpx

from tests.accounts import PASSWORD, PASSWORD_MODE, signed_up
from tests.conftest import ServerFactory
from tests.security.helpers import Listening
from tests.waiting import wait_until


def as_(user: httpx.Client, **headers: str) -> httpx.Client:
    """Another connection with ``user``'s sign-in (or the given headers instead)."""
    if headers:
        return httpx.Client(base_url=user.base_url, headers=headers)
    return httpx.Client(base_url=user.base_url, cookies=user.cookies)


def test_finding_10_disabling_a_user_closes_their_live_channels_at_once(
    make_server: ServerFactory,
) -> None:
    # Heartbeats far apart: the channels must end because of the disabling itself.
    server = make_server(**PASSWORD_MODE, heartbeat_seconds=60)
    admin, bob = signed_up(server.url, "ada"), signed_up(server.url, "bob")
    bob_id = bob.get("/api/v1/auth/me").json()["id"]
    token = bob.post("/api/v1/auth/tokens", json={"name": "cli"}).json()["token"]
    with (
        Listening(as_(bob)) as page,
        Listening(as_(bob, Authorization=f"Bearer {token}")) as script,
        Listening(as_(admin)) as admins,
    ):
        assert page.status == script.status == admins.status == 200
        assert admin.post(f"/api/v1/admin/users/{bob_id}/disable").status_code == 200
        assert page.ended.wait(10), "the disabled user's page kept its channel"
        assert script.ended.wait(10), "the disabled user's token kept its channel"
        assert not admins.ended.is_set()  # another user's channel stays open
    with as_(bob) as again:
        assert again.get("/api/v1/events").status_code in (401, 403)  # and cannot reopen


def test_finding_05_a_password_change_closes_the_channels_of_what_it_revoked(
    make_server: ServerFactory,
) -> None:
    server = make_server(**PASSWORD_MODE, heartbeat_seconds=1)
    ada = signed_up(server.url, "ada")
    token = ada.post("/api/v1/auth/tokens", json={"name": "leaked"}).json()["token"]
    with Listening(as_(ada, Authorization=f"Bearer {token}")) as leaked, Listening(as_(ada)) as own:
        change = {"current_password": PASSWORD, "new_password": "a brand new one"}
        assert ada.post("/api/v1/auth/password", json=change).status_code == 204
        assert leaked.ended.wait(10), "a revoked token kept hearing the account's changes"
        assert not own.ended.wait(3)  # the sign-in that changed it stays (heartbeats pass)


def test_finding_06_live_channels_per_user_are_capped(make_server: ServerFactory) -> None:
    server = make_server(**PASSWORD_MODE, max_followers_per_user=2)
    ada, bob = signed_up(server.url, "ada"), signed_up(server.url, "bob")
    ada_id = ada.get("/api/v1/auth/me").json()["id"]
    with Listening(as_(ada)) as first, Listening(as_(ada)) as second:
        assert first.status == second.status == 200
        third = ada.get("/api/v1/events")
        assert third.status_code == 429
        assert "live channels" in third.json()["detail"]
        with Listening(as_(bob)) as bobs:  # another user is not affected
            assert bobs.status == 200
    # Closed channels give their places back (once the server sees them closed).
    wait_until(lambda: server.app.state.services.live.limit.open_for(ada_id) == 0)
    with Listening(as_(ada)) as later:
        assert later.status == 200
