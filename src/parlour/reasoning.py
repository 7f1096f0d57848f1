"""A reasoning model's thinking, told apart from its answer.

Models send their thinking one of three ways:

* in a field of its own (``reasoning_content`` or ``reasoning`` in each delta: DeepSeek,
  vLLM, llama.cpp's server, OpenRouter) - the provider yields it as
  :class:`~parlour.domain.ReasoningDelta` and the content is all answer;
* inside ``<think>…</think>`` at the start of the content (Qwen, R1 distills on a
  server without a reasoning parser);
* with only the closing ``</think>``, because the chat template wrote the opening tag
  into the prompt: everything before it was thinking.

:class:`ThinkSplitter` reads the content as it streams, tags cut across deltas
included. In the third case nobody can know before the closing tag arrives that the
text was thinking, so it is streamed as answer and then *moved*: the splitter says so
(:data:`MOVED`) and the reply tells its readers that the answer so far was reasoning.
Only the start of a reply is looked at for ``<think>``, and a lone ``</think>`` only
until the first thinking has ended: an answer that talks about the tags is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from parlour.domain import EventKind, ReplyEvent

OPEN = "<think>"
CLOSE = "</think>"
_LONGEST = max(len(OPEN), len(CLOSE))

Piece = tuple[Literal["answer", "reasoning", "moved"], str]
ANSWER: Literal["answer"] = "answer"
REASONING: Literal["reasoning"] = "reasoning"
# The answer streamed so far, plus this piece's text, was reasoning (a lone ``</think>``).
MOVED: Literal["moved"] = "moved"


def _held(text: str, tags: Iterable[str]) -> int:
    """How many characters at the end of ``text`` could begin one of ``tags``.

    Each tag has one ``<``, its first character, so only the text from the last
    ``<`` near the end can be a tag's beginning (this runs on every delta)."""
    at = text.rfind("<", max(0, len(text) - _LONGEST + 1))
    if at < 0:
        return 0
    tail = text[at:]
    return len(tail) if any(tag.startswith(tail) and tag != tail for tag in tags) else 0


class ThinkSplitter:
    """Feed the content deltas of one reply; get back answer and reasoning pieces."""

    def __init__(self) -> None:
        # start: nothing but white space yet; unsure: answer that a lone </think> would
        # turn into reasoning; thinking: inside <think>; answer: tags are text from here.
        self.state: Literal["start", "unsure", "thinking", "answer"] = "start"
        self._pending = ""  # held back: white space at the start, or a tag's first part
        self._trim = False  # white space after </think> is dropped

    def explicit(self) -> None:
        """The provider sends reasoning in a field of its own: the content is all answer."""
        if self.state in ("start", "unsure"):
            self.state = "answer"

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        buffer = self._pending + text
        self._pending = ""
        while buffer:
            if self.state == "answer":
                self._answer(out, buffer)
                break
            tags = (OPEN, CLOSE) if self.state == "start" else (CLOSE,)
            found = [(buffer.find(t), t) for t in tags if t in buffer] if "<" in buffer else []
            if found:
                at, tag = min(found)
                before, buffer = buffer[:at], buffer[at + len(tag) :]
                if self.state == "start" and tag == OPEN and not before.strip():
                    self.state = "thinking"
                    self._trim = True
                    continue
                if tag == CLOSE and self.state in ("start", "unsure"):
                    out.append((MOVED, before))
                elif tag == CLOSE:
                    self._reasoning(out, before)
                else:  # <think> after text: not a thinking block
                    self.state = "answer"
                    self._answer(out, before + tag)
                    continue
                self.state = "answer"
                self._trim = True
                continue
            keep = _held(buffer, tags)
            body, self._pending = buffer[: len(buffer) - keep], buffer[len(buffer) - keep :]
            if self.state == "start" and not body.strip():
                self._pending = body + self._pending  # white space: wait for what follows
            elif self.state == "thinking":
                self._reasoning(out, body)
            elif body:
                self.state = "unsure"
                out.append((ANSWER, body))
            break
        return out

    def flush(self) -> list[Piece]:
        """The end of the content: what was held back goes where it was heading."""
        rest, self._pending = self._pending, ""
        out: list[Piece] = []
        if self.state == "thinking":
            self._reasoning(out, rest)
        elif rest:
            self._answer(out, rest)
        return out

    def _answer(self, out: list[Piece], text: str) -> None:
        if self._trim:
            text = text.lstrip()
            if not text:
                return
            self._trim = False
        out.append((ANSWER, text))

    def _reasoning(self, out: list[Piece], text: str) -> None:
        if self._trim:
            text = text.lstrip()
            if not text:
                return
            self._trim = False
        if text:
            out.append((REASONING, text))


def split_events(events: Sequence[ReplyEvent]) -> tuple[str, str]:
    """The answer and the reasoning a reply's events carry (for a reply closed by
    another process than the one that wrote it)."""
    answer: list[str] = []
    reasoning: list[str] = []
    for event in events:
        if event.kind == EventKind.DELTA:
            answer.append(str(event.data["content"]))
        elif event.kind == EventKind.REASONING:
            if event.data.get("replace_answer"):
                answer.clear()
            reasoning.append(str(event.data["content"]))
    return "".join(answer), "".join(reasoning)
