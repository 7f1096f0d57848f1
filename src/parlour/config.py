"""Settings: the one place Parlour reads its environment.

A :class:`Settings` object is built once (by the CLI or by whoever calls
:func:`parlour.web.app.create_app`) and passed down; no other module reads the
environment. Variable names follow the original tutorial (``OPENAI_API_KEY``,
``REDIS_HOST``...), so its ``.env`` files keep working.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from parlour.cluster import ClusterAddress, parse_cluster_url
from parlour.providers.definition import ProviderConfig, check_unique, load_providers_file
from parlour.sampling import MaxTokens, Penalty, Seed, Temperature, TopP

LogFormat = Literal["text", "json"]
AuthMode = Literal["none", "password"]
Signup = Literal["open", "invite", "closed"]

# Values that people copy from examples: never accepted as a secret key.
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "your-secret-key", "please-change-me"}


def _default_data_dir() -> Path:
    return Path(user_data_dir("parlour", appauthor=False))


class Settings(BaseSettings):
    """Every setting Parlour has, with the defaults a new user gets."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- server -----------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=_default_data_dir)
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    # --- accounts -------------------------------------------------------------
    # none: one local user, no sign-in; password: accounts, cookies, API tokens.
    auth_mode: AuthMode = "none"
    secret_key: SecretStr | None = None
    signup: Signup = "open"
    login_days: float = Field(14, gt=0)
    # Single-user mode has no sign-in: it listens only on loopback unless this says otherwise.
    allow_remote: bool = False
    # Origins allowed to call the API from a browser (CORS); empty: none.
    cors_origins: list[str] = Field(default_factory=list)
    # Host names (the Host header, without the port) this server answers to, besides the
    # loopback names, the bind address and the hosts of PUBLIC_ORIGINS; "*": any.
    allowed_hosts: list[str] = Field(default_factory=list)
    # The origins people open Parlour at (e.g. https://chat.example.com), when a proxy in
    # front rewrites Host: a change sent from one of these is same-origin.
    public_origins: list[str] = Field(default_factory=list)
    # Proxies trusted for X-Forwarded-For / -Proto (comma-separated addresses or networks).
    forwarded_allow_ips: str = "127.0.0.1"
    # /metrics: with a token, only "Authorization: Bearer <token>" reads it; without one it
    # is open in single-user mode and closed with accounts.
    metrics_token: SecretStr | None = None

    # --- connections (uvicorn) --------------------------------------------------
    # A client must send a request's headers within this; idle keep-alive connections close.
    header_timeout_seconds: float = Field(10.0, gt=0)
    keepalive_timeout_seconds: int = Field(5, ge=1)
    # Connections served at once per process (past it: 503); streams count.
    max_connections: int = Field(2000, ge=10)
    # Reply streams one user may hold open at once, per process (past it: 429); their live
    # channels (GET /api/v1/events, one per open page) are capped at the same number apart.
    max_followers_per_user: int = Field(20, ge=1)

    # --- Redis --------------------------------------------------------------
    # REDIS_URL wins; else REDIS_HOST (+ port/db/password) builds one; else the
    # embedded redis-server is started in DATA_DIR.
    redis_url: str | None = None
    redis_host: str | None = None
    redis_port: int = Field(6379, ge=1, le=65535)
    redis_db: int = Field(0, ge=0)
    redis_password: SecretStr | None = None
    redis_key_prefix: str = "parlour"
    redis_connect_timeout: float = Field(3.0, gt=0)
    redis_socket_timeout: float = Field(5.0, gt=0)
    # Connections per process; a request that finds them all busy waits for one
    # (up to REDIS_SOCKET_TIMEOUT) instead of failing.
    redis_max_connections: int = Field(200, ge=4)
    # Sentinel: comma-separated host:port list, and the monitored master's name.
    redis_sentinels: str | None = None
    redis_sentinel_master: str = "mymaster"
    # Redis Cluster: REDIS_URL (or REDIS_HOST/PORT) names one or more of its nodes,
    # redis://[user:password@]host:port[,host:port...]; the client finds the rest.
    redis_cluster: bool = False

    # --- history ------------------------------------------------------------
    history_max_messages: int = Field(10_000, ge=2)
    # 0 keeps conversations until they are deleted.
    history_ttl_days: float = Field(0, ge=0)
    # How long a deleted conversation (or a cleared history) can be restored; the trash
    # empties itself after this. 0: deleting and clearing are final at once.
    trash_seconds: int = Field(7 * 86_400, ge=0)
    max_message_chars: int = Field(32_000, ge=1)
    max_body_bytes: int = Field(256 * 1024, ge=1024)

    # --- imports (ChatGPT data exports, Parlour's own JSON export) --------------
    # The file as uploaded; a larger one gets 413 before it is stored.
    import_max_upload_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    # A ZIP: the bytes its members unpack to, in total, and the most one member may
    # unpack to per compressed byte (a zip bomb is refused before it is unpacked).
    import_max_unpacked_bytes: int = Field(1024 * 1024 * 1024, ge=1024)
    import_max_ratio: int = Field(100, ge=2)
    # The JSON: nesting depth, the longest text, the most entries of one object or list.
    import_max_depth: int = Field(64, ge=8, le=1000)
    import_max_string_chars: int = Field(1_000_000, ge=1000)
    import_max_items: int = Field(100_000, ge=100)
    # Conversations in one file, messages in one conversation (at most
    # HISTORY_MAX_MESSAGES), messages in one file.
    import_max_conversations: int = Field(20_000, ge=1)
    import_max_messages: int = Field(10_000, ge=2)
    import_max_total_messages: int = Field(1_000_000, ge=2)
    # How long an import's progress and report stay readable.
    import_report_ttl_seconds: int = Field(86_400, ge=60)

    # --- the model ------------------------------------------------------------
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_context_window: int = Field(128_000, ge=256)
    # Read the OPENAI_* provider's GET /models too (its models beside OPENAI_MODEL).
    openai_discover: bool = True
    # More OpenAI-compatible providers: a TOML file of [[provider]] tables, and/or
    # PROVIDERS, a JSON list of the same tables (see deploy/providers.example.toml).
    providers_file: Path | None = None
    providers: list[ProviderConfig] = Field(default_factory=list)
    # The model new conversations use ("": the first provider's first model).
    default_model: str = ""
    # Discovery: how often each provider's model list is read again (0: only at start
    # and when an admin asks), and how long one provider may take to answer.
    models_refresh_seconds: float = Field(300.0, ge=0)
    models_discovery_timeout: float = Field(3.0, gt=0, le=60)
    # The window assumed for a model whose window neither the configuration nor the
    # server gives (conservative: trimming to it is safe for nearly every model).
    default_context_window: int = Field(8192, ge=256)
    # Defaults for the sampling parameters a persona or a conversation may set for itself,
    # with the same ranges (parlour.sampling); unset ones are not sent (the provider's own
    # default applies).
    temperature: Temperature = 0.7
    max_tokens: MaxTokens = 1024
    top_p: TopP | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    seed: Seed | None = None
    stop: list[str] = Field(default_factory=list)
    # Tokens kept free for the reply when the context is trimmed.
    reply_reserve_tokens: int = Field(1024, ge=1)
    # The most stored messages read to build a turn's context (then trimmed to the window):
    # the work per turn is bounded by this, however long the conversation grows.
    context_messages: int = Field(400, ge=2, le=10_000)
    # Older turns that no longer fit are folded into a running summary of the branch
    # (after a reply, in the background); each conversation can turn this off.
    summaries: bool = True
    summary_model: str = ""  # the model that writes summaries ("": the conversation's own)
    summary_max_tokens: int = Field(400, ge=32, le=4_000)
    # A conversation is titled by a model after its first exchange (in the background;
    # a rename by its owner wins). Off: it keeps the first words of its first message.
    titles: bool = True
    title_model: str = ""  # the model that writes titles ("": the conversation's own)
    # Facts about the user kept across conversations (the Memory page).
    memory_max_facts: int = Field(30, ge=1, le=200)
    memory_max_chars: int = Field(2_000, ge=100, le=20_000)

    local_model_path: Path | None = None
    local_context_window: int = Field(8192, ge=256)
    local_threads: int = Field(0, ge=0)  # 0: the number of cores
    local_enabled: bool = True
    # Every .gguf file here is offered as a local model beside the bundled one (default:
    # DATA_DIR/models); `parlour models pull` downloads into it.
    models_dir: Path | None = None
    # The local models loaded at once take at most this much memory, each counted by its
    # file's size; the least recently used is unloaded to make room. 0: no limit.
    local_models_memory_mb: int = Field(4096, ge=0)
    # Where `parlour models pull` downloads from: the Hugging Face Hub or a mirror in its
    # layout; a token for gated or private repositories.
    hf_endpoint: str = "https://huggingface.co"
    hf_token: SecretStr | None = None

    default_persona: str = "assistant"

    # --- abuse limits (per user and per IP; "N/second|minute|hour|day") ----------
    rate_messages: str = "20/minute"
    rate_messages_ip: str = "60/minute"
    rate_writes: str = "60/minute"
    rate_writes_ip: str = "120/minute"
    rate_login_ip: str = "20/minute"
    # Failed sign-ins for one username from one address before that pair is locked.
    rate_login_failures: str = "5/15minutes"
    # Failed sign-ins for one username from all addresses; past it only an address with
    # no failed sign-in for that username may try (one attempt at a time).
    rate_login_account_failures: str = "50/hour"
    rate_exports: str = "10/minute"
    max_concurrent_replies: int = Field(3, ge=1)
    daily_token_quota: int = Field(0, ge=0)  # tokens the model may write for a user a day; 0: none
    export_max_messages: int = Field(10_000, ge=1)

    # --- replies --------------------------------------------------------------
    heartbeat_seconds: float = Field(15.0, gt=0)
    reply_stream_ttl_seconds: int = Field(600, ge=1)
    # On SIGTERM the process is gone within this, in total (see grace.py for how it is spent).
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    # A reply whose process stops renewing its lock for this long is marked interrupted.
    reply_lock_ttl_seconds: int = Field(30, ge=2)

    # --- the upstream API: retries before the first token, and timeouts -------
    upstream_attempts: int = Field(3, ge=1, le=10)
    # Per try: the connection, then the response headers (a silent server is tried again).
    upstream_connect_timeout: float = Field(10.0, gt=0)
    upstream_first_byte_timeout: float = Field(20.0, gt=0)
    # In total, every try and backoff included: the longest wait for the first text.
    upstream_first_token_timeout: float = Field(60.0, gt=0)
    # After the first text: the longest silence (comment lines count as silence).
    upstream_idle_timeout: float = Field(60.0, gt=0)
    # The longest line of the upstream's event stream; a longer one ends the reply.
    upstream_max_line_bytes: int = Field(1 << 20, ge=4096)

    @field_validator("redis_url", "redis_host", "openai_base_url", "redis_sentinels", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("hf_endpoint", mode="before")
    @classmethod
    def _default_endpoint(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip().rstrip("/") or "https://huggingface.co"
        return value

    @field_validator("openai_api_key", "redis_password", "metrics_token", "hf_token",
                     mode="before")  # fmt: skip
    @classmethod
    def _blank_secret_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @model_validator(mode="after")
    def _secret_for_accounts(self) -> Settings:
        if self.auth_mode == "password":
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if secret.strip().lower() in _WEAK_SECRETS or len(secret) < 32:
                raise ValueError(
                    "AUTH_MODE=password needs SECRET_KEY: a random value of at least 32 "
                    "characters (for example: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
        return self

    @model_validator(mode="after")
    def _cluster_has_seeds(self) -> Settings:
        if not self.redis_cluster:
            return self
        if self.redis_sentinels:
            raise ValueError("REDIS_CLUSTER and REDIS_SENTINELS cannot be used together")
        url = self.redis_connection_url()
        if url is None:
            raise ValueError(
                "REDIS_CLUSTER=true needs REDIS_URL naming the cluster's nodes, for example "
                "redis://10.0.0.1:7000,10.0.0.2:7000 (the embedded Redis is a single server)"
            )
        parse_cluster_url(url)  # a ValueError saying what is wrong
        return self

    @model_validator(mode="after")
    def _read_providers_file(self) -> Settings:
        # The one place the environment is read: for the keys a file names by variable.
        configs = [c.with_key_from(os.environ) for c in self.providers]
        if self.providers_file is not None:
            configs += load_providers_file(self.providers_file, os.environ)
        if self.openai_configured and any(c.name == "openai" for c in configs):
            raise ValueError(
                "a provider is named 'openai' while OPENAI_API_KEY / OPENAI_BASE_URL set "
                "one of that name: rename it, or move the OPENAI_* settings into it"
            )
        check_unique(configs)
        self.providers = configs
        return self

    @model_validator(mode="after")
    def _reserve_fits(self) -> Settings:
        windows = (self.openai_context_window, self.local_context_window,
                   self.default_context_window)  # fmt: skip
        if self.reply_reserve_tokens >= min(windows):
            raise ValueError("REPLY_RESERVE_TOKENS must be smaller than the context window")
        return self

    @property
    def openai_configured(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def models_path(self) -> Path:
        """The local models' directory."""
        return self.models_dir or self.data_dir / "models"

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None and self.redis_host is None and not self.redis_sentinels

    def cluster_address(self) -> ClusterAddress:
        """The cluster's seed nodes (only with REDIS_CLUSTER=true)."""
        url = self.redis_connection_url()
        assert url is not None  # checked by the validator
        return parse_cluster_url(url)

    def sentinel_addresses(self) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for item in (self.redis_sentinels or "").split(","):
            host, _, port = item.strip().rpartition(":")
            if host:
                out.append((host, int(port)))
        return out

    def redis_connection_url(self) -> str | None:
        """The URL to connect to, or ``None`` when the embedded server is to be used."""
        if self.redis_url is not None:
            return self.redis_url
        if self.redis_host is None:
            return None  # the embedded server (or Sentinel, see sentinel_addresses)
        auth = ""
        if self.redis_password is not None:
            auth = ":" + quote(self.redis_password.get_secret_value(), safe="") + "@"
        return f"redis://{auth}{self.redis_host}:{self.redis_port}/{self.redis_db}"
