"""Security headers for every response, the Host allow-list, the same-origin rule, and CORS."""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlour.config import Settings
from parlour.errors import ParlourError
from parlour.web.errors import error_response

log = logging.getLogger(__name__)

# The page runs only its own scripts; model output can never bring in one.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# FastAPI's interactive API pages start with an inline script.
DOCS_CSP = CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
# Exactly these paths: a prefix match let ``/docs%2f..%2findex.html`` serve the app with it.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def security_headers(path: str = "") -> list[tuple[bytes, bytes]]:
    """The headers every response carries (the API pages' CSP at their paths)."""
    csp = DOCS_CSP if path in DOCS_PATHS else CSP
    return [*_COMMON, (b"content-security-policy", csp.encode())]


class SecurityHeaders:
    """Adds the headers to every response, and answers an unexpected error itself (a 500
    with the headers too, logged once) instead of letting it reach the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = security_headers(scope["path"])
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).extend(added)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
            if started:
                return  # the status line is sent: the connection just ends
            err = ParlourError()
            await error_response(500, err.code, err.message)(scope, receive, send_with_headers)


_PORT = re.compile(r"(?::[0-9]{1,5})?")


def _host_name(host: str) -> str:
    """The Host header without its port, lower-cased (``[::1]:8000`` -> ``::1``); "" when
    what follows the name is not a port (``localhost:80@evil`` names no host)."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        name, rest = (host[1:end], host[end + 1 :]) if end > 0 else ("", "")
    elif host.count(":") == 1:
        name, rest = host.split(":", 1)[0], host[host.find(":") :]
    else:
        name, rest = host, ""
    return name.rstrip(".") if _PORT.fullmatch(rest) else ""


def allowed_hosts(settings: Settings, bind: str | None = None) -> set[str]:
    """Host names this server answers to: loopback names, the bind address, ALLOWED_HOSTS
    and the hosts of PUBLIC_ORIGINS ("*" among them: any)."""
    names = {"localhost", "127.0.0.1", "::1"}
    for host in (bind or settings.host, *settings.allowed_hosts):
        names.add(_host_name(host))
    for origin in settings.public_origins:
        if origin.strip():
            names.add((urlsplit(origin.strip()).hostname or "").lower())
    names.discard("")
    with_any = {"0.0.0.0", "::"}  # noqa: S104 (a wildcard bind names no host)
    return names - with_any if "*" not in names else {"*"}


class HostAllowList:
    """Refuses (421) a request for a host name this server does not serve, before any route
    runs: a page whose DNS name was rebound to 127.0.0.1 cannot talk to Parlour."""

    def __init__(self, app: ASGIApp, hosts: set[str]) -> None:
        self.app = app
        self.hosts = hosts

    def _allowed(self, host: str) -> bool:
        if "*" in self.hosts:
            return True
        name = _host_name(host)
        if name in self.hosts:
            return True
        try:  # any loopback address (127.0.0.2...) is this machine
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Health checks come from orchestrators by address (a pod's IP) and reveal nothing.
        if scope["type"] == "http" and scope["path"] not in ("/healthz", "/readyz"):
            host = dict(scope.get("headers", ())).get(b"host", b"").decode("latin-1")
            if not self._allowed(host):
                response = error_response(
                    421,
                    "host_not_allowed",
                    "This server does not answer to this host name. Its administrator can "
                    "add it to ALLOWED_HOSTS.",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# Reading paths that still act (send a message, hold a stream, export): checked as changes.
_CHECKED_PREFIXES = ("/api/", "/chat/", "/roles", "/metrics")
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION = b"parlour_session="


class SameOriginWrites:
    """Refuses requests sent by another origin's page (cross-site request forgery).

    Checked: every change (POST, PUT, PATCH, DELETE) and every request to the API paths,
    GET included (the tutorial's GET stream sends a message). A browser names the page's
    origin in ``Origin`` and says where the request comes from in ``Sec-Fetch-Site``; a
    page on a sibling port is another origin (and "same-site", so SameSite cookies reach
    it), and is refused like any other. Allowed: this server's own origin (as the browser
    sees it: the Host, allow-listed, or one of PUBLIC_ORIGINS when a proxy rewrites Host)
    and the CORS allow-list. Requests without either header (scripts, curl) are judged by
    their credentials as usual.
    """

    def __init__(self, app: ASGIApp, allowed: list[str]) -> None:
        self.app = app
        self.allowed = {o.strip().rstrip("/") for o in allowed if o.strip() not in ("*", "")}
        # CORS_ORIGINS=["*"]: any page may read, without the sign-in cookie.
        self.wildcard = "*" in allowed

    def _refused(self, scope: Scope) -> bool:
        checked = scope["method"] in _UNSAFE or scope["path"].startswith(_CHECKED_PREFIXES)
        if not checked:
            return False
        headers = dict(scope.get("headers", ()))
        origin = headers.get(b"origin", b"").decode("latin-1").strip().rstrip("/")
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if origin:
            if origin == "null":
                return True
            host = headers.get(b"host", b"").decode("latin-1")
            if origin in self.allowed or origin in (f"http://{host}", f"https://{host}"):
                return False
            cookie = headers.get(b"cookie", b"")
            return not (self.wildcard and scope["method"] == "GET" and SESSION not in cookie)
        return site in ("cross-site", "same-site")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._refused(scope):
            response = error_response(
                403, "cross_origin", "Requests from other websites are refused."
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """CORS is off unless origins are listed; a wildcard never comes with credentials."""
    if not origins:
        return
    wildcard = "*" in origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else origins,
        allow_credentials=not wildcard,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=[
            "Content-Type",
            "Last-Event-ID",
            "X-Request-ID",
            "Authorization",
            "X-CSRF-Token",
        ],
    )
