"""Sampling parameters: their ranges, and how the layers that set them combine.

The ranges are defined here once; a conversation's chat settings and a persona's own
parameters take the same fields with the same checks (a value out of range is a 422
naming the field). At send time the layers combine field by field, the later one
winning where it sets a value: the server's defaults, then the persona's parameters,
then the conversation's own. A field set nowhere is not sent at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from parlour.domain import ChatParams

# The ranges, for the request bodies and the server's defaults (config.py) alike.
Temperature = Annotated[float, Field(ge=0, le=2, description="0 to 2.")]
TopP = Annotated[float, Field(ge=0, le=1, description="0 to 1.")]
MaxTokens = Annotated[int, Field(ge=1, le=131_072, description="The longest reply, in tokens.")]
Penalty = Annotated[float, Field(ge=-2, le=2, description="-2 to 2.")]
Seed = Annotated[int, Field(ge=0, le=2**53 - 1, description="For repeatable sampling.")]

_FIELDS = tuple(f.name for f in fields(ChatParams))


class SamplingParams(BaseModel):
    """Sampling parameters (``null``: not set here; the next layer down applies)."""

    # Strict: a number is a JSON number ("100", true and 10.5 are no integers).
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    temperature: Temperature | None = None
    top_p: TopP | None = None
    max_tokens: MaxTokens | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    seed: Seed | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the request gave (``None`` among them: unset that one)."""
        return {name: getattr(self, name) for name in self.model_fields_set}

    @classmethod
    def of(cls, params: ChatParams) -> SamplingParams:
        return cls(**{name: getattr(params, name) for name in SAMPLING})


# Every sampling parameter, by its OpenAI name (the fields above, defined there once).
SAMPLING = tuple(SamplingParams.model_fields)
# Those sent only when set (a request always carries a temperature and a length limit).
OPTIONAL = tuple(name for name in SAMPLING if name not in ("temperature", "max_tokens"))


def optional_values(params: object) -> dict[str, float | int]:
    """The optional sampling parameters ``params`` (a ChatParams, the settings) sets."""
    return {name: v for name in OPTIONAL if (v := getattr(params, name, None)) is not None}


def layered(*layers: ChatParams) -> ChatParams:
    """The layers combined, field by field: a later layer wins where it sets a value."""
    merged: dict[str, Any] = {}
    for layer in layers:  # plain values: read as they are
        merged.update((k, v) for k in _FIELDS if (v := getattr(layer, k)) is not None)
    return ChatParams(**merged)


def params_of(stored: Mapping[str, Any] | None) -> ChatParams:
    """Parameters as stored; fields this version does not know are ignored."""
    if not isinstance(stored, Mapping):
        return ChatParams()
    known = {f.name for f in fields(ChatParams)}
    return ChatParams(**{k: v for k, v in stored.items() if k in known})
