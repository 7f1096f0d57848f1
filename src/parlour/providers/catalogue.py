"""What one provider offers: its models as configured, as discovered, and as learned.

Pure state, no I/O: discovery (``discovery.py``) feeds it what a provider's
``GET /models`` listed, or why it could not be read; a refusal of a request as
too long feeds it the window the server stated. Each model's context window comes
from, in order: the configuration, what the server itself reported (llama.cpp's
``/props``, or the window named in a refusal), the model list's own field
(``context_length``, ``max_model_len``...), and last the conservative default.

Ids: a provider with ``prefix_ids`` names its models ``provider/model``, so two
providers serving the same model are never confused; without it (the ``OPENAI_*``
provider, as before) the model's own id is Parlour's.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from parlour.domain import ModelInfo

# Ids in a model list that are not chat models (OpenAI's list holds them all).
_NOT_CHAT = re.compile(
    r"embed|whisper|tts|dall-e|moderation|davinci|babbage|transcribe|image|rerank", re.I
)
# Names that usually mean a reasoning model, when the list does not say.
_REASONING = re.compile(r"reason|think|(^|[-/_])r1([-_.:]|$)|qwq|(^|/)o[134]([-_]|$)", re.I)
# Fields of a model list's entries that give the window, by server.
_WINDOW_FIELDS = ("context_window", "context_length", "max_context_length", "max_model_len")


@dataclass
class Listed:
    """One model as a provider's list gives it."""

    id: str
    context_window: int | None = None
    reasoning: bool = False
    owned_by: str = ""


def parse_listing(payload: Any) -> list[Listed]:
    """The models of an OpenAI-style ``{"data": [...]}`` answer (ill-formed entries left out)."""
    entries = payload.get("data") if isinstance(payload, dict) else payload
    out: list[Listed] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        model_id = entry["id"].strip()
        if not model_id or len(model_id) > 200 or _NOT_CHAT.search(model_id):
            continue
        window = next((entry[k] for k in _WINDOW_FIELDS if _positive(entry.get(k))), None)
        meta = entry.get("meta")
        if window is None and isinstance(meta, dict) and _positive(meta.get("n_ctx")):
            window = meta["n_ctx"]
        params = entry.get("supported_parameters")
        reasoning = isinstance(params, list) and "reasoning" in params  # OpenRouter
        owned = entry.get("owned_by")
        out.append(Listed(model_id, window, reasoning, owned if isinstance(owned, str) else ""))
    return out


def props_window(payload: Any) -> int | None:
    """The running context size in llama.cpp's ``/props``, where it gives one."""
    if not isinstance(payload, dict):
        return None
    settings = payload.get("default_generation_settings")
    for source in (settings, payload):
        if isinstance(source, dict) and _positive(source.get("n_ctx")):
            return int(source["n_ctx"])
    return None


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass
class Catalogue:
    provider: str
    prefix: bool
    configured: list[str]  # the models named in the configuration, in order
    allow_list: bool  # only configured models are shown, even when more are listed
    default_window: int
    windows: dict[str, int] = field(default_factory=dict)  # configured windows
    names: dict[str, str] = field(default_factory=dict)
    reasoning: set[str] = field(default_factory=set)
    discovered: dict[str, Listed] = field(default_factory=dict)
    server_windows: dict[str, int] = field(default_factory=dict)  # /props
    refused_windows: dict[str, int] = field(default_factory=dict)  # named in a refusal
    assumed: dict[str, int] = field(default_factory=dict)  # a setting's default value
    available: bool = True
    reason: str = ""
    description: str = "OpenAI-compatible API"
    checked_at: float | None = None  # the last discovery (None: not yet, or not read)
    listed: bool = False  # the last discovery brought a list

    # --- ids --------------------------------------------------------------------

    def parlour_id(self, upstream: str) -> str:
        return f"{self.provider}/{upstream}" if self.prefix else upstream

    def upstream_id(self, model: str) -> str:
        head = f"{self.provider}/"
        if model.startswith(head) and (self.prefix or model[len(head) :] in self._upstreams()):
            return model[len(head) :]
        return model

    def _upstreams(self) -> list[str]:
        ids = list(self.configured)
        if not self.allow_list:
            ids += [m for m in self.discovered if m not in ids]
        return ids

    # --- what discovery brings ----------------------------------------------------------

    def found(self, listed: list[Listed], props: int | None = None) -> None:
        self.discovered = {m.id: m for m in listed}
        if props is not None:  # llama.cpp serves one model: the window is that one's
            for m in listed:
                self.server_windows[m.id] = props
        self.available, self.reason, self.listed = True, "", True
        self.checked_at = time.time()

    def unlisted(self) -> None:
        """The server answers but keeps no model list (404): the configured ones stand."""
        self.available, self.reason, self.listed = True, "", False
        self.checked_at = time.time()

    def failed(self, reason: str) -> None:
        """The provider did not answer as it should: its models show as unavailable."""
        self.available, self.reason = False, reason
        self.checked_at = time.time()

    def learn_window(self, upstream: str, window: int) -> None:
        self.refused_windows[upstream] = window

    # --- what is shown ----------------------------------------------------------------

    def infos(self) -> list[ModelInfo]:
        return [self.info_of(m) for m in self._upstreams()]

    def info_of(self, upstream: str) -> ModelInfo:
        listed = self.discovered.get(upstream)
        window, window_source = self._window(upstream, listed)
        return ModelInfo(
            self.parlour_id(upstream),
            self.provider,
            window,
            self.description,
            name=self.names.get(upstream, ""),
            reasoning=(
                upstream in self.reasoning
                or bool(listed and listed.reasoning)
                or bool(_REASONING.search(upstream))
            ),
            source="discovery" if listed and upstream not in self.configured else "config",
            available=self.available,
            reason=self.reason,
            window_source=window_source,
        )

    def _window(self, upstream: str, listed: Listed | None) -> tuple[int, str]:
        config, refused = self.windows.get(upstream), self.refused_windows.get(upstream)
        if config is not None:
            # A refusal proves the window is smaller; a smaller one configured is a choice.
            return (refused, "server") if refused and refused < config else (config, "config")
        if refused is not None:
            return refused, "server"
        if upstream in self.server_windows:
            return self.server_windows[upstream], "server"
        if listed is not None and listed.context_window:
            return listed.context_window, "server"
        return self.assumed.get(upstream, self.default_window), "default"

    def find(self, model: str) -> ModelInfo | None:
        upstream = self.upstream_id(model)
        if self.parlour_id(upstream) != model or upstream not in self._upstreams():
            return None
        return self.info_of(upstream)
