"""The app's lifespan: opens Redis, the model providers and the reply manager once."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

from fastapi import FastAPI
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisClusterException, RedisError

from parlour.accounts import AccountService
from parlour.chat import ChatService
from parlour.cluster import open_cluster, ping
from parlour.config import Settings
from parlour.embedded import EmbeddedRedis, EmbeddedRedisError
from parlour.errors import ModelUnavailable
from parlour.followers import FollowerLimit
from parlour.importing.jobs import ImportJobs
from parlour.importing.limits import ImportLimits
from parlour.indexer import Indexer
from parlour.live import LiveChannel
from parlour.memory import Memory
from parlour.metrics import Metrics, Timer
from parlour.models_dir import ModelsDir
from parlour.personas import PersonaCatalog, Personas
from parlour.providers.base import ChatProvider
from parlour.providers.catalogue import Catalogue
from parlour.providers.definition import ProviderConfig
from parlour.providers.discovery import MODELS_REFRESHED, Discovery
from parlour.providers.local import LocalProvider, bundled_model_path, runtime_available
from parlour.providers.openai_compat import OpenAICompatProvider, RetryPolicy, Timeouts
from parlour.providers.registry import ModelRegistry
from parlour.ratelimit import Limiter
from parlour.replies import ReplyManager
from parlour.sampling import optional_values, params_of
from parlour.store import ConversationStore, Keys, ReplyLedger
from parlour.store.backfill import Backfill
from parlour.store.importer import ImportWriter
from parlour.store.migrate import FormatError, ensure_format
from parlour.store.organise import Organiser
from parlour.store.personas import PersonaStore
from parlour.store.preferences import Preferences
from parlour.store.search import SearchIndex
from parlour.store.shares import Shares
from parlour.store.summaries import SummaryStore
from parlour.store.usage import UsageStore
from parlour.summaries import Summaries
from parlour.titles import Titles
from parlour.web.deps import Services
from parlour.web.stopping import on_stop_signal

log = logging.getLogger(__name__)

_PASSWORD = re.compile(r"^([a-z+]+://[^:@/]*):[^@/]*@")


class StartupError(RuntimeError):
    """Parlour cannot start; the message says why and what to do."""


def redact(url: str) -> str:
    """The URL without its password, fit for a log line (also with several hosts)."""
    return _PASSWORD.sub(r"\1:***@", url, count=1)


async def open_redis(settings: Settings, stack: AsyncExitStack) -> tuple[Redis, str]:
    """One client (and pool) for the app's lifetime: a URL, Sentinel, a cluster, or the
    embedded server."""
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": settings.redis_connect_timeout,
        "socket_timeout": settings.redis_socket_timeout,
        "health_check_interval": 30,
        "max_connections": settings.redis_max_connections,
    }
    url = settings.redis_connection_url()
    if settings.redis_sentinels:
        password = settings.redis_password.get_secret_value() if settings.redis_password else None
        sentinel = Sentinel(settings.sentinel_addresses(), **options)  # type: ignore[no-untyped-call]
        for client in sentinel.sentinels:  # its own connections to the sentinels
            stack.push_async_callback(client.aclose)
        redis: Redis = sentinel.master_for(
            settings.redis_sentinel_master, db=settings.redis_db, password=password, **options
        )
        url = f"redis+sentinel://{settings.redis_sentinels}/{settings.redis_sentinel_master}"
    elif settings.redis_cluster:
        # The cluster client keeps a pool per node and sends each command (a script, a
        # pipeline's commands) to the node holding its keys' slot. It offers the command
        # API of Redis that Parlour uses, so the rest of the code takes it as one.
        redis = cast(Redis, open_cluster(settings.cluster_address(), **options))
        url = url or ""  # set: checked by Settings
    else:
        if url is None:
            embedded = EmbeddedRedis(settings.data_dir)
            try:
                url = await asyncio.to_thread(embedded.start)
            except EmbeddedRedisError as exc:
                raise StartupError(str(exc)) from None
            stack.callback(embedded.stop)
        # A burst of requests waits for a free connection rather than failing at the limit.
        wait = settings.redis_socket_timeout
        pool = BlockingConnectionPool.from_url(url, timeout=wait, **options)
        redis = Redis.from_pool(pool)
    stack.push_async_callback(redis.aclose)
    try:
        await ping(redis)
    except (RedisError, RedisClusterException, OSError) as exc:
        raise StartupError(
            f"Cannot reach Redis at {redact(url)} ({type(exc).__name__}). Start it, fix "
            "REDIS_URL / REDIS_HOST (with REDIS_CLUSTER=true: every master must answer), or "
            "unset them to use the embedded Redis."
        ) from None
    return redis, url


def _openai_options(settings: Settings) -> dict[str, Any]:
    return {
        "retry": RetryPolicy(attempts=settings.upstream_attempts),
        "timeouts": Timeouts(
            connect=settings.upstream_connect_timeout,
            first_byte=settings.upstream_first_byte_timeout,
            first_token=settings.upstream_first_token_timeout,
            between_tokens=settings.upstream_idle_timeout,
        ),
        "max_line": settings.upstream_max_line_bytes,
    }


def configured_provider(config: ProviderConfig, settings: Settings) -> OpenAICompatProvider:
    """One provider of PROVIDERS_FILE / PROVIDERS."""
    catalogue = Catalogue(
        config.name,
        prefix=config.prefix_ids,
        configured=list(config.models),
        allow_list=bool(config.models) or not config.discover,
        default_window=config.context_window or settings.default_context_window,
        windows=dict(config.context_windows),
        names=dict(config.display_names),
        reasoning=set(config.reasoning),
    )
    return OpenAICompatProvider(
        api_key=config.api_key.get_secret_value() if config.api_key else None,
        base_url=config.base_url,
        name=config.name,
        catalogue=catalogue,
        headers={k: v.get_secret_value() for k, v in config.headers.items()} or None,
        key_hint=f"the api_key of provider {config.name!r}",
        **_openai_options(settings),
    )


async def open_providers(settings: Settings) -> list[ChatProvider]:
    """The configured providers; the first one serves the default model."""
    providers: list[ChatProvider] = []
    if settings.openai_configured:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        model, window = settings.openai_model, settings.openai_context_window
        # OPENAI_CONTEXT_WINDOW set wins over what the server says; its default only
        # stands in where the server says nothing (as before discovery).
        given = "openai_context_window" in settings.model_fields_set
        catalogue = Catalogue(
            "openai", prefix=False, configured=[model], allow_list=not settings.openai_discover,
            default_window=settings.default_context_window,
            windows={model: window} if given else {}, assumed={model: window},
        )  # fmt: skip
        provider = OpenAICompatProvider(
            api_key=key, base_url=settings.openai_base_url, catalogue=catalogue,
            **_openai_options(settings),
        )  # fmt: skip
        providers.append(provider)
    providers += [configured_provider(c, settings) for c in settings.providers]
    if settings.local_enabled:
        local = await open_local(settings)
        if local is not None:
            providers.append(local)
    if not any(p.models() for p in providers):
        log.warning("no model configured: replies will explain how to set one up")
    return providers


async def open_local(settings: Settings) -> LocalProvider | None:
    """The local models: the bundled one (or LOCAL_MODEL_PATH) and MODELS_DIR's files.

    The default local model is loaded now (a broken LOCAL_MODEL_PATH stops the start);
    the others load when a conversation first uses them.
    """
    chosen = settings.local_model_path
    if not runtime_available():
        if chosen is not None:
            raise StartupError(
                "LOCAL_MODEL_PATH is set but the local runtime is not installed: "
                "pip install 'parlour[local]'."
            )
        log.info("no local model runtime installed (pip install 'parlour[local]' adds one)")
        return None
    if chosen is not None and not chosen.is_file():
        raise StartupError(f"LOCAL_MODEL_PATH does not name a file: {chosen.name}")
    local = LocalProvider(
        ModelsDir(settings.models_path, chosen or bundled_model_path()),
        context_window=settings.local_context_window,
        threads=settings.local_threads,
        memory_budget=settings.local_models_memory_mb << 20,
    )
    try:
        await asyncio.to_thread(local.preload)
    except ModelUnavailable as exc:
        if chosen is not None:
            raise StartupError(f"The local model could not be loaded: {exc}") from None
        log.warning("%s", exc)
    return local


async def _watch_redis(redis: Redis, metrics: Metrics, every: float = 5.0) -> None:
    """Record the Redis round trip now and then."""
    while True:
        timer = Timer()
        try:
            await redis.ping()
            metrics.redis_latency.observe(timer.elapsed())
        except RedisError:
            pass
        await asyncio.sleep(every)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        redis, redis_url = await open_redis(settings, stack)
        providers = await open_providers(settings)
        models = ModelRegistry(providers, default=settings.default_model,
                               default_window=settings.default_context_window)  # fmt: skip
        stack.push_async_callback(models.aclose)
        # Off the request path: lists are read in the background, each within the timeout.
        discovery = Discovery(providers, every=settings.models_refresh_seconds,
                              timeout=settings.models_discovery_timeout)  # fmt: skip
        discovery.start()
        stack.push_async_callback(discovery.stop)
        keys = Keys(settings.redis_key_prefix)
        try:
            await ensure_format(redis, keys)
        except FormatError as exc:
            raise StartupError(str(exc)) from None
        store = ConversationStore(
            redis,
            keys,
            max_messages=settings.history_max_messages,
            ttl_seconds=int(settings.history_ttl_days * 86_400),
        )
        search = SearchIndex(redis, keys)
        indexer = Indexer(search, Backfill(redis, keys, search))
        store.listeners.append(indexer.stored)
        await indexer.start()
        stack.push_async_callback(indexer.stop)
        ledger = ReplyLedger(redis, keys, store, stream_ttl=settings.reply_stream_ttl_seconds)
        metrics: Metrics = app.state.metrics
        with_accounts = settings.auth_mode == "password"
        accounts: AccountService | None = None
        limiter: Limiter | None = None
        if with_accounts:
            assert settings.secret_key is not None  # checked by Settings
            accounts = AccountService(
                redis,
                keys,
                settings.secret_key.get_secret_value(),
                login_seconds=int(settings.login_days * 86_400),
            )
            limiter = Limiter(redis, redis_url, settings)
            stack.push_async_callback(limiter.aclose)
        replies = ReplyManager(
            ledger,
            heartbeat=settings.heartbeat_seconds,
            lock_ttl=settings.reply_lock_ttl_seconds,
            metrics=metrics,
            max_per_owner=settings.max_concurrent_replies if with_accounts else 0,
            redis_timeout=settings.redis_socket_timeout,
        )
        personas = Personas(PersonaCatalog(), PersonaStore(redis, keys))
        summaries = Summaries(
            SummaryStore(redis, keys, ttl_seconds=int(settings.history_ttl_days * 86_400)),
            models,
            enabled=settings.summaries,
            model=settings.summary_model,
            max_tokens=settings.summary_max_tokens,
        )
        stack.push_async_callback(summaries.shutdown)
        memory = Memory(redis, keys, max_facts=settings.memory_max_facts,
                        max_chars=settings.memory_max_chars)  # fmt: skip
        titles = Titles(store, redis, keys, models, enabled=settings.titles,
                        model=settings.title_model)  # fmt: skip
        stack.push_async_callback(titles.shutdown)
        chat = ChatService(
            store,
            models,
            personas,
            replies,
            default_persona=settings.default_persona,
            max_message_chars=settings.max_message_chars,
            reply_reserve_tokens=settings.reply_reserve_tokens,
            context_messages=settings.context_messages,
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            stop=settings.stop,
            daily_token_quota=settings.daily_token_quota,
            sampling=params_of(optional_values(settings)),
            summaries=summaries,
            memory=memory,
            titles=titles,
        )
        replies.start_background()
        live = LiveChannel(redis, keys, heartbeat=settings.heartbeat_seconds,
                           most_per_user=settings.max_followers_per_user)  # fmt: skip
        store.watchers.append(live.changed)
        live.on(MODELS_REFRESHED, discovery.refresh_soon)  # an admin's, on another process
        live.start()
        stack.push_async_callback(live.stop)
        probe = asyncio.create_task(_watch_redis(redis, metrics), name="redis-latency")
        stack.callback(probe.cancel)
        stack.push_async_callback(replies.shutdown, settings.shutdown_grace_seconds)

        # The grace period counts from the stop signal, not from this lifespan's end; the
        # pages' live channels end at once (the server waits for open streams to close).
        def begin_stopping() -> None:
            replies.begin_shutdown(settings.shutdown_grace_seconds)
            live.end()

        stack.callback(on_stop_signal(begin_stopping))
        loop = asyncio.get_running_loop()

        # For a server run in a thread, where no signal arrives (tests/live.py).
        def end_live_channels() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(live.end)

        app.state.end_live_channels = end_live_channels
        writer = ImportWriter(
            redis, keys, persona=chat.default_persona, model=models.default_model,
            ttl_seconds=store.ttl_seconds, search=search, changed=store.changed,
        )  # fmt: skip
        imports = ImportJobs(
            redis, keys, writer, ImportLimits.of(settings),
            report_ttl=settings.import_report_ttl_seconds,
        )  # fmt: skip
        stack.push_async_callback(imports.stop)
        app.state.services = Services(
            settings, store, ledger, chat, replies, models, personas, accounts, limiter, search,
            followers=FollowerLimit(settings.max_followers_per_user), live=live,
            imports=imports, usage=UsageStore(redis, keys), summaries=summaries, memory=memory,
            organiser=Organiser(redis, keys, store, trash_seconds=settings.trash_seconds),
            shares=Shares(redis, keys, store), discovery=discovery,
            preferences=Preferences(redis, keys),
        )  # fmt: skip
        log.info(
            "Parlour ready: models %s (default %s)",
            [m.id for m in models.models()] or "none",
            models.default_model,
        )
        # Everything loaded so far (the libraries, the app, the model) lives as long as the
        # process: left in the collector's oldest generation, each full collection walked
        # all of it, pausing every stream for ~100 ms now and then.
        gc.collect()
        gc.freeze()
        yield
