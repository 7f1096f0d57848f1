"""The command line: ``parlour serve`` (also ``python -m parlour``), ``parlour models ...``."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence

from pydantic import ValidationError
from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from parlour import __version__
from parlour.cluster import open_cluster_sync
from parlour.config import Settings
from parlour.embedded import EmbeddedRedis, EmbeddedRedisError
from parlour.logs import setup_logging
from parlour.models_cli import add_parser as add_models_parser
from parlour.models_cli import run as run_models
from parlour.store.keys import FORMAT_VERSION, Keys
from parlour.store.migrate import newer_format_message


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parlour", description="A self-hosted AI chat service.")
    parser.add_argument("--version", action="version", version=f"parlour {__version__}")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="start the server (the default command)")
    serve.add_argument("--host", help="address to listen on (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT or 8000)")
    serve.add_argument("--reload", action="store_true", help="restart when the code changes")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing one Redis (default 1)"
    )
    add_models_parser(sub)
    return parser


_CHECKS = 3  # tries before giving up on an unreachable Redis


def _check_redis(settings: Settings, url: str | None) -> str | None:
    """A clear message if the Redis at ``url`` cannot be reached or holds data of a newer
    storage format than this release knows, else None."""
    if url is None:
        return None
    timeout = settings.redis_connect_timeout
    options = {"socket_connect_timeout": timeout, "decode_responses": True}
    for attempt in range(_CHECKS):
        try:
            client: Redis | RedisCluster
            if settings.redis_cluster:
                client = open_cluster_sync(settings.cluster_address(), **options)
            else:
                client = Redis.from_url(url, **options)
            with client:
                client.ping()  # on a cluster: every primary
                stored = client.get(Keys(settings.redis_key_prefix).format())
            break
        except (RedisError, RedisClusterException, OSError) as exc:
            # A Redis starting beside us (or a busy one) gets a few more seconds.
            if attempt + 1 < _CHECKS:
                time.sleep(1.0)
                continue
            return (
                f"parlour: cannot reach Redis at {_redact(url)} ({type(exc).__name__}).\n"
                "Start it, fix REDIS_URL / REDIS_HOST, or unset them to use the embedded Redis."
            )
    if stored is not None and str(stored).isdigit() and int(stored) > FORMAT_VERSION:
        return f"parlour: {newer_format_message(int(stored))}"
    return None


def _redact(url: str) -> str:
    from parlour.web.lifespan import redact

    return redact(url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _exit_on_signal(_signum: int, _frame: object) -> None:
    # A stop asked for and carried out is a normal end.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # Only where and what: the input values may hold secrets (OPENAI_API_KEY...).
        lines = [
            f"  {'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        ]
        print("parlour: invalid settings:\n" + "\n".join(lines), file=sys.stderr)
        return 2
    if args.command == "models":
        return run_models(settings, args)
    host = args.host if getattr(args, "host", None) else settings.host
    port = args.port if getattr(args, "port", None) is not None else settings.port
    if settings.auth_mode == "none" and not _is_loopback(host) and not settings.allow_remote:
        print(
            f"parlour: refusing to listen on {host}: this mode has no sign-in, so anyone who "
            "can reach the port could read every conversation.\nListen on 127.0.0.1, or set "
            "ALLOW_REMOTE=true if something in front of Parlour controls who reaches it.",
            file=sys.stderr,
        )
        return 2
    setup_logging(settings)
    problem = _check_redis(settings, settings.redis_connection_url())
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    workers = max(1, int(getattr(args, "workers", 1)))
    # The Host allow-list of every worker includes the bind address.
    settings = settings.model_copy(update={"host": host})
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: let that unwind
    # this function (stopping the embedded Redis) instead of killing the process.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with contextlib.ExitStack() as stack:
        if settings.embedded_redis:
            # This process owns the embedded Redis, so every worker (and a reloaded
            # app) shares it and it outlives a code reload.
            embedded = EmbeddedRedis(settings.data_dir, die_with_parent=True)
            try:
                url = embedded.start()
            except EmbeddedRedisError as exc:
                print(f"parlour: {exc}", file=sys.stderr)
                return 1
            stack.callback(embedded.stop)
            problem = _check_redis(settings, url)
            if problem is not None:
                print(problem, file=sys.stderr)
                return 1
            settings = settings.model_copy(update={"redis_url": url})  # for every worker
        if workers > 1:
            # prometheus-client adds up the workers' metrics from files kept here.
            metrics_dir = settings.data_dir / "metrics"
            shutil.rmtree(metrics_dir, ignore_errors=True)
            metrics_dir.mkdir(parents=True)
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        from parlour.web.serving import serve  # the web stack: not for `parlour models`

        return serve(
            settings,
            host=host,
            port=port,
            workers=workers,
            reload=bool(getattr(args, "reload", False)),
        )
