"""Findings 2 and 16: behind a reverse proxy (a small one on loopback, as nginx is set up in
deploy/): only the proxy is trusted for X-Forwarded-For, and a proxy that rewrites Host
still lets the page make changes."""

from __future__ import annotations

from pathlib import Path

import httpx

from parlour.config import Settings
from tests.accounts import PASSWORD, PASSWORD_MODE, signed_up
from tests.conftest import make_settings
from tests.security.helpers import Served, client_from, proxied
from tests.upstream import ScriptedUpstream

DEPLOY = Path(__file__).parents[2] / "deploy"
PROXY_ADDRESS = "127.0.0.3"


def login(client: httpx.Client, **headers: str) -> int:
    body = {"username": "ada", "password": PASSWORD}
    return client.post("/api/v1/auth/login", json=body, headers=headers).status_code


def test_finding_02_only_the_proxy_chooses_the_client_address(
    tmp_path: Path, redis_url: str, redis: object, upstream: ScriptedUpstream
) -> None:
    settings = make_settings(tmp_path, redis_url=redis_url, openai_base_url=upstream.url,
                             local_enabled=False, rate_login_ip="3/minute",
                             forwarded_allow_ips=PROXY_ADDRESS, **PASSWORD_MODE)  # fmt: skip
    with Served(settings) as app, proxied(app.port, source=PROXY_ADDRESS) as proxy:
        # Straight to the app, a forged header is ignored: one address, one budget.
        with client_from("127.0.0.2", app.url) as direct:
            codes = [login(direct, **{"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(4)]
        assert codes == [401, 401, 401, 429]
        # Through the proxy, the header it sets names the real client, whatever was sent.
        with client_from("127.0.0.4", proxy.url) as spoofer:
            codes = [login(spoofer, **{"X-Forwarded-For": f"10.0.1.{i}"}) for i in range(4)]
        assert codes == [401, 401, 401, 429]
        with client_from("127.0.0.5", proxy.url) as other:  # another client: its own budget
            assert login(other) == 401


def test_finding_02_the_shipped_deployment_trusts_only_its_proxy() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    assert 'FORWARDED_ALLOW_IPS: "*"' not in compose
    assert "FORWARDED_ALLOW_IPS: 172.28.0.10" in compose
    assert "ipv4_address: 172.28.0.10" in compose
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx
    assert "$proxy_add_x_forwarded_for" not in nginx


def test_the_shipped_proxy_bounds_bodies_but_lets_imports_through() -> None:
    nginx = (DEPLOY / "nginx.conf").read_text()
    default = Settings.model_fields["import_max_upload_bytes"].default
    assert "client_max_body_size 256k;" in nginx  # MAX_BODY_BYTES, for every other route
    imports = nginx.split("location = /api/v1/imports {", 1)[1].split("}", 1)[0]
    assert f"client_max_body_size {default // 2**20}m;" in imports
    assert "proxy_request_buffering off;" in imports
    # The headers Parlour relies on are set once, for every location.
    assert nginx.count("proxy_set_header X-Forwarded-For") == 1
    assert "proxy_set_header" not in imports


def test_finding_16_a_proxy_that_rewrites_host_is_served_with_public_origins(
    tmp_path: Path, redis_url: str, redis: object, upstream: ScriptedUpstream
) -> None:
    settings = make_settings(tmp_path, redis_url=redis_url, openai_base_url=upstream.url,
                             local_enabled=False, **PASSWORD_MODE)  # fmt: skip
    with Served(settings) as app:
        public = "http://localhost:1"  # what the browser shows; the proxy sends Host: 127.0.0.1
        settings = settings.model_copy(update={"public_origins": [public]})
        with Served(settings) as configured:
            for target, expected in ((app, 403), (configured, 201)):
                with proxied(target.port, source=PROXY_ADDRESS,
                             host=f"127.0.0.1:{target.port}") as proxy:  # fmt: skip
                    user = signed_up(target.url, f"u{target.port}")
                    with httpx.Client(base_url=proxy.url, cookies=user.cookies,
                                      headers=dict(user.headers)) as page:  # fmt: skip
                        made = page.post("/api/v1/sessions", json={},
                                         headers={"Origin": public})  # fmt: skip
                        assert made.status_code == expected
            with httpx.Client(base_url=configured.url) as elsewhere:
                other = elsewhere.post("/api/v1/sessions", json={},
                                       headers={"Origin": "http://evil.example"})  # fmt: skip
                assert other.status_code in (401, 403)
