"""Any OpenAI-compatible chat-completions API, through the ``openai`` SDK.

One ``AsyncOpenAI`` client lives as long as the app. Failures before the first
token are retried a bounded number of times with exponential backoff,
honouring ``Retry-After``; once text has been streamed nothing is retried (the
user has already seen it). Every failure leaves as a typed
:class:`~parlour.errors.ProviderError` whose message never includes the key,
the base URL or the upstream's own text.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI

from parlour.domain import Finish, ModelInfo, ProviderEvent, TextDelta, Usage
from parlour.errors import (
    ProviderError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from parlour.providers.base import CompletionRequest, estimate_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # total tries before the first token
    backoff: float = 0.5  # seconds, doubled each try, with jitter
    max_delay: float = 20.0  # a longer Retry-After is not waited for


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_token: float = 60.0
    between_tokens: float = 60.0


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def classify(exc: BaseException) -> ProviderError:
    """Map an SDK or transport failure to Parlour's error tree (no upstream text kept)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.RateLimitError):
        return UpstreamRateLimited(retry_after=_retry_after(exc))
    if isinstance(exc, openai.APITimeoutError | TimeoutError | httpx2.TimeoutException):
        return UpstreamTimeout()
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return UpstreamUnavailable(f"The model service failed (HTTP {exc.status_code}).")
        if exc.status_code in (401, 403):
            return UpstreamRejected(
                "The model service refused the credentials. Check OPENAI_API_KEY."
            )
        if exc.status_code == 404:
            return UpstreamRejected("The model service does not know the configured model.")
        return UpstreamRejected(f"The model service refused the request (HTTP {exc.status_code}).")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return UpstreamUnavailable()
    if isinstance(exc, openai.APIError):
        # An error sent inside the stream itself.
        return UpstreamUnavailable("The model service reported an error while answering.")
    return UpstreamUnavailable()


class OpenAICompatProvider:
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str,
        context_window: int,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.model = model
        self.context_window = context_window
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        t = self.timeouts
        self._client = AsyncOpenAI(
            # Servers such as llama.cpp or vLLM need no key, but the SDK wants one.
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,  # retries are ours: they must stop once text was streamed
            timeout=httpx2.Timeout(connect=t.connect, read=t.between_tokens, write=30, pool=30),
        )

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(self.model, self.name, self.context_window, "OpenAI-compatible API")]

    def count_tokens(self, text: str) -> int:
        return estimate_tokens(text)

    async def aclose(self) -> None:
        await self._client.close()

    async def _open(self, request: CompletionRequest) -> Any:
        kwargs: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": t.role, "content": t.content} for t in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            kwargs["stop"] = list(request.stop)
        return await self._client.chat.completions.create(**kwargs)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        attempt = 0
        while True:
            attempt += 1
            stream: Any = None
            sent_text = False
            try:
                async with asyncio.timeout(self.timeouts.first_token):
                    stream = await self._open(request)
                    iterator = stream.__aiter__()
                    first = await iterator.__anext__()
                async for event in self._relay(first, iterator):
                    sent_text = sent_text or isinstance(event, TextDelta)
                    yield event
                return
            except StopAsyncIteration:
                raise UpstreamUnavailable(
                    "The model service closed the reply without text."
                ) from None
            except (openai.OpenAIError, httpx2.HTTPError, TimeoutError, ProviderError) as exc:
                error = classify(exc)
                log.warning(
                    "upstream failure (%s, attempt %d, after text: %s)",
                    error.code,
                    attempt,
                    sent_text,
                )
                if sent_text or not error.retryable or attempt >= self.retry.attempts:
                    raise error from None
                await asyncio.sleep(self._delay(attempt, error))
            finally:
                if stream is not None:
                    await stream.close()

    def _delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            if error.retry_after > self.retry.max_delay:
                raise error
            return error.retry_after
        base = self.retry.backoff * 2 ** (attempt - 1)
        return float(min(self.retry.max_delay, base * (0.5 + random.random())))  # noqa: S311

    async def _relay(self, first: Any, iterator: Any) -> AsyncIterator[ProviderEvent]:
        chunk = first
        finish_reason: str | None = None
        usage = Usage()
        while True:
            if chunk.usage is not None:
                usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
            for choice in chunk.choices:
                if choice.delta is not None and choice.delta.content:
                    yield TextDelta(choice.delta.content)
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
            try:
                async with asyncio.timeout(self.timeouts.between_tokens):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
        if finish_reason is None:
            raise UpstreamUnavailable(
                "The connection to the model broke before the reply finished."
            )
        yield Finish(finish_reason, usage)
