"""Serving the app with uvicorn: one process, ``--workers N`` or ``--reload``.

The CLI builds the :class:`~parlour.config.Settings` once. Every process that
serves the app (the single one, each worker, each reloaded child) gets them
through :class:`AppFactory`, which uvicorn pickles into its child processes:
no worker reads the environment again, and each one sets up logging the same
way (JSON lines, request ids) before it builds the app.

A child of a supervisor ties its life to the supervisor's: if the supervisor
dies, even by SIGKILL, the child gets SIGTERM (Linux ``PR_SET_PDEATHSIG``; a
watchdog thread elsewhere), shuts down gracefully and frees the port, instead
of serving on, unsupervised, for ever.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from parlour.config import Settings

# This module is imported by every worker as it unpickles the factory, before the worker
# answers its supervisor's first health check: the app's own imports wait for __call__.

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class AppFactory:
    """Builds the app in the process that serves it, from the CLI's settings."""

    def __init__(self, settings: Settings, *, supervisor: int | None = None) -> None:
        from pydantic import SecretStr

        # Plain values: a reloaded child validates them with its own (new) Settings class.
        self.values: dict[str, Any] = {
            k: v.get_secret_value() if isinstance(v, SecretStr) else v
            for k, v in settings.model_dump().items()
        }
        self.supervisor = supervisor  # the supervisor's pid, when run as its child

    def __call__(self) -> FastAPI:
        from parlour.config import Settings
        from parlour.logs import setup_logging
        from parlour.web.app import create_app

        settings = Settings.model_validate(self.values)
        if self.supervisor is not None:
            die_with(self.supervisor)
        setup_logging(settings)
        return create_app(settings)


def die_with(parent: int) -> None:
    """Have this process get SIGTERM when ``parent`` (its supervisor) dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the request was made
                os.kill(os.getpid(), signal.SIGTERM)
            return
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the supervisor process is gone; shutting down")
    os.kill(os.getpid(), signal.SIGTERM)


def serve(settings: Settings, *, host: str, port: int, workers: int, reload: bool) -> int:
    """Run the server until it is stopped; the process's exit status."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import ChangeReload, Multiprocess

    from parlour.grace import connections_timeout
    from parlour.web.connections import uvicorn_options

    supervised = reload or workers > 1
    config = uvicorn.Config(
        # uvicorn sets up its reloader only for an import string; the app it loads is
        # then the factory below, which carries the settings into every process.
        "parlour.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=None,
        # Connection limits, the header timeout and the proxies trusted (connections.py).
        **uvicorn_options(settings),
        # A worker answers its supervisor's health check only once its imports are done;
        # on a busy machine that takes more than uvicorn's 5 s, and it was killed in a loop.
        timeout_worker_healthcheck=30,
        # Open reply streams end inside the grace period (the replies are handed over
        # before it runs out: see web/stopping.py); this is the server's last word.
        timeout_graceful_shutdown=connections_timeout(settings.shutdown_grace_seconds),  # type: ignore[arg-type]
    )
    config.app = AppFactory(settings, supervisor=os.getpid() if supervised else None)
    server = uvicorn.Server(config)
    if reload:
        ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
    elif workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        server.run()
        if not server.started:
            return STARTUP_FAILURE
    return 0
