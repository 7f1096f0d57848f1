"""The app factory: ``create_app(settings)`` is the only way an app is made."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI

from parlour import __version__
from parlour.config import Settings
from parlour.metrics import Metrics
from parlour.web.assets import StaticAssets
from parlour.web.connections import set_header_timeout
from parlour.web.errors import install_error_handlers
from parlour.web.lifespan import lifespan
from parlour.web.limits import BodySizeLimit
from parlour.web.observe import Observe
from parlour.web.routes import (
    auth,
    catalog,
    chat_settings,
    docs,
    health,
    imports,
    live,
    memory,
    organise,
    personas,
    preview,
    replies,
    search,
    sessions,
    shares,
    summaries,
    tutorial,
    usage,
)
from parlour.web.security import (
    HostAllowList,
    SameOriginWrites,
    SecurityHeaders,
    allowed_hosts,
    install_cors,
)

STATIC_DIR = Path(str(files("parlour.web") / "static"))
# What the page asks for as it starts (js/app.js), exactly as it asks.
FIRST_FETCHES = (
    "/api/v1/auth/me",
    "/api/v1/personas",
    "/api/v1/models",
    "/api/v1/sessions?offset=0&limit=50",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="Parlour",
        version=__version__,
        summary="A self-hosted multi-turn AI chat service.",
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py from local files
        redoc_url=None,
    )
    app.state.settings = settings
    set_header_timeout(settings.header_timeout_seconds)
    app.state.metrics = metrics = Metrics()
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        wider={"/api/v1/imports": settings.import_max_upload_bytes},
    )
    install_cors(app, settings.cors_origins)
    app.add_middleware(SameOriginWrites, allowed=[*settings.cors_origins, *settings.public_origins])
    app.add_middleware(HostAllowList, hosts=allowed_hosts(settings))
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Observe, metrics=metrics)
    # Routes are matched in order: the ones every reply goes through come first.
    routers = (
        replies, sessions, auth, catalog, preview, personas, organise, shares, summaries,
        chat_settings, memory, search, live, imports, tutorial, usage, health, docs,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    app.include_router(shares.page_router)
    page_facts = {
        "auth-mode": settings.auth_mode,
        "max-message-chars": str(settings.max_message_chars),
    }
    # Without accounts the page's first questions can leave with the HTML.
    first_fetches = FIRST_FETCHES if settings.auth_mode == "none" else ()
    app.state.assets = assets = StaticAssets(STATIC_DIR, page_facts, first_fetches)
    app.mount("/", assets, name="static")
    return app
