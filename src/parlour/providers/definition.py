"""What configures one OpenAI-compatible provider, and reading them from a TOML file.

A provider comes from ``PROVIDERS_FILE`` (a ``[[provider]]`` table each), from the
``PROVIDERS`` setting (the same fields as a JSON list), or from today's ``OPENAI_*``
settings (one provider named ``openai``). The file is read once, when the settings
are built; a mistake in it stops the start with a message naming the provider and
the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

# A provider's name leads its models' ids ("name/model"), in URLs and in Redis.
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
RESERVED_NAMES = {"local", "none"}


class ProviderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    base_url: str = Field(min_length=1)
    api_key: SecretStr | None = None
    # The name of an environment variable holding the key (the file need not hold it).
    api_key_env: str | None = None
    # With discovery on: the models shown (an allow-list; empty shows every one listed).
    # With discovery off: the models this provider serves.
    models: list[str] = Field(default_factory=list)
    discover: bool = True
    display_names: dict[str, str] = Field(default_factory=dict)
    context_windows: dict[str, int] = Field(default_factory=dict)
    # A window for this provider's models that neither the file nor the server gives.
    context_window: int | None = Field(None, ge=256)
    reasoning: list[str] = Field(default_factory=list)
    # Sent with every request (e.g. OpenRouter's HTTP-Referer); values are kept secret.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    # Models' ids are "name/model"; false keeps the provider's own ids (the OPENAI_*
    # provider does, as before several providers existed).
    prefix_ids: bool = True

    @model_validator(mode="after")
    def _sensible(self) -> ProviderConfig:
        if self.name in RESERVED_NAMES:
            raise ValueError(f"the provider name {self.name!r} is reserved")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if not self.discover and not self.models:
            raise ValueError("with discover = false, list the models it serves in models")
        for model, window in self.context_windows.items():
            if window < 256:
                raise ValueError(f"context_windows[{model!r}] must be at least 256")
        return self

    def with_key_from(self, environ: Mapping[str, str]) -> ProviderConfig:
        """The key named by ``api_key_env`` filled in (a missing variable is an error)."""
        if self.api_key is not None or self.api_key_env is None:
            return self
        value = environ.get(self.api_key_env, "").strip()
        if not value:
            raise ValueError(
                f"provider {self.name!r}: api_key_env names {self.api_key_env}, which is not set"
            )
        return self.model_copy(update={"api_key": SecretStr(value)})


def load_providers_file(path: Path, environ: Mapping[str, str]) -> list[ProviderConfig]:
    """The ``[[provider]]`` tables of a TOML file; ValueError saying what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"PROVIDERS_FILE {path} cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"PROVIDERS_FILE {path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"provider"}
    if unknown:
        raise ValueError(
            f"PROVIDERS_FILE {path}: unknown top-level keys {sorted(unknown)} "
            "(each provider is a [[provider]] table)"
        )
    tables = data.get("provider", [])
    if not isinstance(tables, list):
        raise ValueError(f"PROVIDERS_FILE {path}: use [[provider]] tables, one per provider")
    out: list[ProviderConfig] = []
    for i, table in enumerate(tables):
        label = table.get("name", f"#{i + 1}") if isinstance(table, dict) else f"#{i + 1}"
        try:
            out.append(ProviderConfig.model_validate(table).with_key_from(environ))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "table"
            raise ValueError(
                f"PROVIDERS_FILE {path}: provider {label!r}, {where}: {first['msg']}"
            ) from None
    return out


def check_unique(configs: list[ProviderConfig]) -> None:
    seen: set[str] = set()
    for config in configs:
        if config.name in seen:
            raise ValueError(f"two providers are named {config.name!r}: names must be unique")
        seen.add(config.name)
