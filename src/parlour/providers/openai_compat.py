"""Any OpenAI-compatible chat-completions API, through the ``openai`` SDK.

One ``AsyncOpenAI`` client lives as long as the app, on the SDK's aiohttp
transport (``DefaultAioHttpClient``): its C HTTP parser reads a streamed reply
with a fraction of the CPU per chunk of the pure-Python default. Failures before the first
token are retried a bounded number of times with exponential backoff,
honouring ``Retry-After``; once text has been streamed nothing is retried (the
user has already seen it). Every failure leaves as a typed
:class:`~parlour.errors.ProviderError` whose message never includes the key,
the base URL or the upstream's own text.

Time limits (each a setting)::

    connect        per try: the TCP/TLS connection
    first_byte     per try: request sent -> response headers (a silent server is retried)
    first_token    in total, every try and backoff included: request -> first text
    between_tokens after the first text: the longest silence (comments count as silence)

So an upstream that never answers, or sends only comments, ends the reply with
``upstream_timeout`` within ``first_token`` seconds: retries happen only while
that budget lasts. A line of the stream longer than ``max_line`` bytes ends the
reply with ``upstream_unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx2
import openai
import orjson
from openai import AsyncOpenAI, DefaultAioHttpClient

from parlour.domain import Finish, ModelInfo, ProviderEvent, ReasoningDelta, TextDelta, Usage
from parlour.errors import (
    ContextTooLong,
    ProviderError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from parlour.providers.base import CompletionRequest, estimate_tokens
from parlour.providers.catalogue import Catalogue, Listed, parse_listing, props_window
from parlour.providers.refusals import TooLong, too_long

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 3  # total tries before the first token
    backoff: float = 0.5  # seconds, doubled each try, with jitter
    max_delay: float = 20.0  # a longer Retry-After is not waited for


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 10.0
    first_byte: float = 20.0
    first_token: float = 60.0
    between_tokens: float = 60.0


DEFAULT_MAX_LINE = 1 << 20  # bytes in one line of the event stream


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _refused(exc: BaseException) -> bool:
    """A refused or broken connection, which the aiohttp transport reports as a connect
    timeout (the SDK wraps that again): the service is unreachable, not slow."""
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError):
            return not isinstance(cause, TimeoutError)
        cause = cause.__cause__
    return False


def classify(exc: BaseException, key_hint: str = "OPENAI_API_KEY") -> ProviderError:
    """Map an SDK or transport failure to Parlour's error tree (no upstream text kept)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError) and too_long(exc.status_code, exc.body):
        return ContextTooLong()
    if isinstance(exc, openai.RateLimitError):
        return UpstreamRateLimited(retry_after=_retry_after(exc))
    if _refused(exc):
        return UpstreamUnavailable()
    if isinstance(exc, openai.APITimeoutError | TimeoutError | httpx2.TimeoutException):
        return UpstreamTimeout()
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return UpstreamUnavailable(f"The model service failed (HTTP {exc.status_code}).")
        if exc.status_code in (401, 403):
            return UpstreamRejected(f"The model service refused the credentials. Check {key_hint}.")
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
    """One OpenAI-compatible service. Its models (``catalogue``) are those configured,
    plus what :meth:`discover` reads from its ``GET /models``."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        model: str = "",
        context_window: int = 8192,
        name: str = "openai",
        catalogue: Catalogue | None = None,
        headers: dict[str, str] | None = None,
        key_hint: str = "OPENAI_API_KEY",
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_connections: int = 10_000,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        self.name = name
        self.key_hint = key_hint
        self.max_line = max_line
        self.catalogue = catalogue or Catalogue(
            name, prefix=False, configured=[model], allow_list=True,
            default_window=context_window, windows={model: context_window},
        )  # fmt: skip
        # Learned from refusals: how many of the server's tokens one of our estimated is.
        self.token_scale = 1.0
        self.retry = retry or RetryPolicy()
        self.timeouts = timeouts or Timeouts()
        t = self.timeouts
        # The read timeout is the longest silence allowed between two reads of the stream.
        timeout = httpx2.Timeout(connect=t.connect, read=t.between_tokens, write=30, pool=30)
        self._client = AsyncOpenAI(
            # Servers such as llama.cpp or vLLM need no key, but the SDK wants one.
            api_key=api_key or "not-needed",
            base_url=base_url,
            max_retries=0,  # retries are ours: they must stop once text was streamed
            timeout=timeout,
            default_headers=headers,
            http_client=DefaultAioHttpClient(
                timeout=timeout,
                limits=httpx2.Limits(max_connections=max_connections),
            ),
        )

    def models(self) -> list[ModelInfo]:
        return self.catalogue.infos()

    def find(self, model: str) -> ModelInfo | None:
        return self.catalogue.find(model)

    def count_tokens(self, text: str) -> int:
        estimate = estimate_tokens(text)
        return estimate if self.token_scale == 1.0 else math.ceil(estimate * self.token_scale)

    # --- discovery ---------------------------------------------------------------

    async def discover(self, within: float) -> None:
        """Read ``GET /models`` (and llama.cpp's ``/props``) into the catalogue, within
        ``within`` seconds; a failure marks the provider unavailable, saying why."""
        try:
            async with asyncio.timeout(within):
                listed = await self._list_models(within)
                props = await self._props(within) if _llama_cpp(listed) else None
        except _NotListed:
            self.catalogue.unlisted()
            return
        except TimeoutError:
            self.catalogue.failed(f"It did not answer within {within:g} s.")
            return
        except (openai.OpenAIError, httpx2.HTTPError, ProviderError, ValueError) as exc:
            self.catalogue.failed(classify(exc, self.key_hint).message)
            return
        self.catalogue.found(listed, props)

    async def _list_models(self, within: float) -> list[Listed]:
        client = self._client.with_options(timeout=within, max_retries=0)
        try:
            response = await client.get("/models", cast_to=httpx2.Response)
        except openai.NotFoundError:
            raise _NotListed() from None
        payload = orjson.loads(await response.aread())
        return parse_listing(payload)

    async def _props(self, within: float) -> int | None:
        """llama.cpp's server keeps its running context size in ``/props``, at its root."""
        root = str(self._client.base_url).rstrip("/").removesuffix("/v1")
        client = self._client.with_options(timeout=within, max_retries=0)
        try:
            response = await client.get(f"{root}/props", cast_to=httpx2.Response)
            return props_window(orjson.loads(await response.aread()))
        except (openai.OpenAIError, httpx2.HTTPError, ValueError):
            return None

    # --- a refusal as too long -------------------------------------------------------

    def _learn(self, request: CompletionRequest, refusal: TooLong) -> ContextTooLong:
        """Keep what the server said of its window and our count, so the next turn is
        trimmed to fit; the error for the user."""
        upstream = self.catalogue.upstream_id(request.model)
        if refusal.window:
            self.catalogue.learn_window(upstream, refusal.window)
        estimate = sum(estimate_tokens(t.content) + 4 for t in request.messages)
        if refusal.prompt_tokens and estimate:
            # A margin on top: the next count must land under the window, not on it.
            scale = min(8.0, refusal.prompt_tokens / estimate * 1.1)
            self.token_scale = max(self.token_scale, scale)
        info = self.catalogue.find(request.model)
        log.info("%s refused a request as too long (window %s)", self.name, refusal.window)
        return ContextTooLong(
            request.model, refusal.window or (info.context_window if info else None)
        )

    async def _probe(
        self, request: CompletionRequest, broken: httpx2.Response | None
    ) -> ContextTooLong | None:
        """Ask again without streaming, for one token: a server that ends a stream
        without a word on error (llama-cpp-python's) then says why with its status."""
        if broken is not None:
            await broken.aclose()  # its connection is not to be used again
        body = self._body(request, stream=False)
        body["max_tokens"] = 1
        for _ in range(2):  # the server may reset a connection it kept from the stream
            try:
                response = await self._client.post(
                    "/chat/completions", cast_to=httpx2.Response, content=orjson.dumps(body)
                )
                await response.aclose()
                return None  # it answers: the stream failed for another reason
            except openai.APIStatusError as exc:
                refusal = too_long(exc.status_code, exc.body)
                return self._learn(request, refusal) if refusal is not None else None
            except openai.APIConnectionError:
                continue
            except (openai.OpenAIError, httpx2.HTTPError):
                return None
        return None

    async def aclose(self) -> None:
        await self._client.close()

    def _body(self, request: CompletionRequest, *, stream: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.catalogue.upstream_id(request.model),
            "messages": [{"role": t.role, "content": t.content} for t in request.messages],
            "stream": stream,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if request.stop:
            body["stop"] = list(request.stop)
        body.update(request.optional())
        return body

    async def _open(self, request: CompletionRequest) -> httpx2.Response:
        body = self._body(request)
        # The SDK's client sends it (auth, base URL, timeouts, typed HTTP errors), but the
        # body goes already encoded (as `content`, sent as it is) and the stream is
        # parsed here: its per-request type transforms, its JSON encoder and a model
        # object per chunk cost more CPU than everything else in a reply.
        return await self._client.post(
            "/chat/completions",
            cast_to=httpx2.Response,
            content=orjson.dumps(body),
            options={"headers": {_RAW_STREAM_HEADER: "stream"}},
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        loop = asyncio.get_running_loop()
        t = self.timeouts
        deadline = loop.time() + t.first_token  # for the first text, every try included
        attempt = 0
        while True:
            attempt += 1
            response: httpx2.Response | None = None
            sent_text = False
            relay: _Relay | None = None
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + t.first_byte)):
                    response = await self._open(request)
                relay = _Relay(_chunks(response, t.between_tokens, self.max_line))
                # Until the first text: the deadline bounds every read, so comments, an
                # opening chunk without text or a trickle of empty chunks all end in time.
                async with asyncio.timeout_at(deadline):
                    texts = await relay.until_text()
                for text in texts:
                    sent_text = True
                    yield text
                async for event in relay.rest():
                    yield event
                return
            except StopAsyncIteration:
                if relay is not None and relay.chunks_seen == 0:
                    refused = await self._probe(request, response)
                    if refused is not None:
                        raise refused from None
                raise UpstreamUnavailable("The model service closed the reply early.") from None
            except (openai.OpenAIError, httpx2.HTTPError, TimeoutError, ProviderError) as exc:
                refusal = (
                    too_long(exc.status_code, exc.body)
                    if isinstance(exc, openai.APIStatusError)
                    else None
                )
                if refusal is not None:
                    raise self._learn(request, refusal) from None
                error = classify(exc, self.key_hint)
                if isinstance(error, UpstreamUnavailable) and relay is not None \
                        and relay.chunks_seen == 0:  # fmt: skip
                    refused = await self._probe(request, response)  # a stream that broke at once
                    if refused is not None:
                        raise refused from None
                log.warning(
                    "upstream failure (%s, attempt %d, after text: %s)",
                    error.code,
                    attempt,
                    sent_text,
                )
                if sent_text or not error.retryable or attempt >= self.retry.attempts:
                    raise error from None
                delay = self._delay(attempt, error)
                if loop.time() + delay >= deadline:
                    raise error from None  # no time left for another try
                await asyncio.sleep(delay)
            finally:
                if response is not None:
                    await response.aclose()

    def _delay(self, attempt: int, error: ProviderError) -> float:
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            if error.retry_after > self.retry.max_delay:
                raise error
            return error.retry_after
        base = self.retry.backoff * 2 ** (attempt - 1)
        return float(min(self.retry.max_delay, base * (0.5 + random.random())))  # noqa: S311


class _Relay:
    """The chunks of one response turned into text, a finish reason and usage."""

    def __init__(self, chunks: AsyncIterator[dict[str, Any]]) -> None:
        self.chunks = chunks
        self.finish_reason: str | None = None
        self.usage = Usage()
        self.count = 0
        self.chunks_seen = 0

    def feed(self, chunk: dict[str, Any]) -> list[TextDelta | ReasoningDelta]:
        self.chunks_seen += 1
        if chunk.get("usage"):
            u = chunk["usage"]
            self.usage = Usage(u.get("prompt_tokens"), u.get("completion_tokens"))
        texts: list[TextDelta | ReasoningDelta] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            # Thinking in a field of its own: DeepSeek and llama.cpp's server name it
            # reasoning_content, vLLM and OpenRouter reasoning.
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            text = delta.get("content")
            for value in (text, thought):
                if value is not None and not isinstance(value, str):
                    # A number, a list, an object: not the protocol. Ending the reply with
                    # an error keeps the text so far; guessing a rendering shows garbage.
                    raise UpstreamUnavailable("The model service sent a malformed stream.")
            if thought:
                texts.append(ReasoningDelta(thought))
            if text:
                texts.append(TextDelta(text))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return texts

    async def until_text(self) -> list[TextDelta | ReasoningDelta]:
        """Read until a chunk brings text or the end; raises StopAsyncIteration if none."""
        while True:
            texts = self.feed(await anext(self.chunks))
            if texts or self.finish_reason is not None:
                return texts

    async def rest(self) -> AsyncIterator[ProviderEvent]:
        # No timer per chunk: the client's read timeout bounds every silence (and
        # ``_chunks`` one filled with comments only).
        async for chunk in self.chunks:
            for text in self.feed(chunk):
                yield text
            self.count += 1
            if self.count % _YIELD_EVERY == 0:
                # A fast upstream fills the socket buffer, so reading never waits:
                # let other streams run now and then.
                await asyncio.sleep(0)
        if self.finish_reason is None:
            raise UpstreamUnavailable("The connection to the model broke mid-reply.")
        yield Finish(self.finish_reason, self.usage)


class _NotListed(Exception):
    """The server has no model list (404)."""


def _llama_cpp(listed: list[Listed]) -> bool:
    return len(listed) == 1 and listed[0].owned_by == "llamacpp"


# The SDK returns the raw, unread response when a request carries this header
# (what its ``with_streaming_response`` does).
_RAW_STREAM_HEADER = "X-Stainless-Raw-Response"
_YIELD_EVERY = 16


async def _chunks(
    response: httpx2.Response, idle: float, max_line: int = DEFAULT_MAX_LINE
) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects of an OpenAI-style event stream, until ``data: [DONE]``.

    Lines are split from the bytes as they arrive (no text decoding first: the
    JSON parser takes UTF-8). An unfinished line is kept as a list of pieces,
    joined once when its end arrives (linear, however it is cut), and a line
    longer than ``max_line`` bytes is refused. An object carrying ``error`` (an
    error sent inside the stream) is raised. The client's read timeout ends a
    silent stream; a stream that sends only comments for ``idle`` seconds ends here.
    """
    loop = asyncio.get_running_loop()
    last_data = loop.time()
    pieces: list[bytes] = []  # the unfinished line
    size = 0
    async for data in response.aiter_bytes():
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if end < 0:
            size += len(data)
            if size > max_line:
                raise _too_long(max_line)
            pieces.append(data)
            continue
        complete = data[: end + 1]
        if pieces:
            complete = b"".join([*pieces, complete])
            pieces.clear()
        rest = data[end + 1 :]
        size = len(rest)
        if rest:
            pieces.append(rest)
        for line in complete.splitlines():
            if len(line) > max_line:
                raise _too_long(max_line)
            chunk = _parse(line)
            if chunk is _DONE:
                return
            if chunk is not None:
                last_data = loop.time()
                yield chunk
        if loop.time() - last_data > idle:
            raise UpstreamTimeout()
    chunk = _parse(b"".join(pieces))  # a last line without its line break
    if chunk is not None and chunk is not _DONE:
        yield chunk


def _too_long(max_line: int) -> UpstreamUnavailable:
    error = UpstreamUnavailable(
        f"The model service sent a line longer than {max_line} bytes; the reply was stopped."
    )
    error.retryable = False  # the same request would bring the same line
    return error


_DONE: dict[str, Any] = {}


def _parse(line: bytes) -> dict[str, Any] | None:
    """One line's chunk; ``_DONE`` at the end; ``None`` for lines without one."""
    if not line.startswith(b"data:"):
        return None  # blank separators, comments, event names
    payload = line[5:].strip()
    if payload == b"[DONE]":
        return _DONE
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise UpstreamUnavailable("The model service sent a malformed stream.") from None
    if not isinstance(chunk, dict):
        return None
    if chunk.get("error"):
        raise UpstreamUnavailable("The model service reported an error while answering.")
    return chunk
