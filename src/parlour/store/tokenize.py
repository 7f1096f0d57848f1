"""Search tokens: what a message is indexed under and what a query looks for (pure).

Two kinds of text, handled apart:

* *words* - runs of letters, digits and ``_`` outside the CJK ranges (Latin, Cyrillic,
  code ...). Lower-cased (NFKC first, so full-width ``ＡＢＣ`` is ``abc``). A code
  identifier is indexed whole and by its parts: ``parse_json`` gives ``parse_json``,
  ``parse``, ``json``; ``getUserName`` gives ``getusername``, ``get``, ``user``,
  ``name``. A query word matches any token it is a prefix of.
* *CJK runs* - Chinese, Japanese kana, Korean. No segmentation: a run is indexed by
  its characters and its character bigrams; a query run of two or more characters
  looks for its bigrams, one character for its unigram. Candidates are then checked
  against the text (the query run must be a substring), so results are exact.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TOKEN = 40  # longer words are indexed by their first MAX_TOKEN characters
MAX_TOKENS = 4000  # distinct tokens indexed per message
MAX_QUERY_TERMS = 12
MAX_JOINS = 4  # 'getUserName' is also indexed as 'username' (its last parts joined)

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
_WORD = re.compile(rf"[^\W{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")
_PART = re.compile(r"[A-Z]+(?![^\W\d_A-Z])|[A-Z]?[^\W\d_A-Z]+|[0-9]+")


def normalize(word: str) -> str:
    if word.isascii():  # NFKC leaves ASCII as it is
        return word.lower()
    return unicodedata.normalize("NFKC", word).lower()


def word_parts(word: str) -> list[str]:
    """The parts of a code identifier (snake_case, camelCase, digits), lower-cased, and
    the joins of its last parts (``getUserName``: ``username``); empty for a plain word."""
    return [normalize(word[s:e]) for s, e in _part_spans(word)]


def _part_spans(word: str) -> list[tuple[int, int]]:
    found = [(m.start(), m.end()) for m in _PART.finditer(word)]
    if len(found) < 2:
        return []
    tails = [(found[i][0], len(word)) for i in range(1, min(len(found) - 1, MAX_JOINS + 1))]
    return found + tails


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    token: str  # normalized


def word_spans(text: str) -> list[Span]:
    """Every word of ``text`` and every part of a compound one, with where it is."""
    spans: list[Span] = []
    for m in _WORD.finditer(text):
        spans.append(Span(m.start(), m.end(), normalize(m.group())))
        for s, e in _part_spans(m.group()):
            spans.append(Span(m.start() + s, m.start() + e, normalize(m.group()[s:e])))
    return spans


def cjk_runs(text: str) -> list[str]:
    return _CJK_RUN.findall(text)


def index_tokens(text: str) -> tuple[set[str], set[str]]:
    """What ``text`` is indexed under: (word tokens, CJK tokens), at most MAX_TOKENS."""
    words: set[str] = set()
    # Each distinct word once, in the order of first use (text repeats its words).
    for word in dict.fromkeys(_WORD.findall(text)):
        words.add(normalize(word)[:MAX_TOKEN])
        words.update(p[:MAX_TOKEN] for p in word_parts(word))
        if len(words) >= MAX_TOKENS:
            break
    cjk: set[str] = set()
    for run in cjk_runs(text):
        cjk.update(run)
        cjk.update(run[i : i + 2] for i in range(len(run) - 1))
        if len(words) + len(cjk) >= MAX_TOKENS:
            break
    return words, cjk


@dataclass(frozen=True, slots=True)
class Query:
    words: tuple[str, ...]  # each a prefix some word of the text must start with
    runs: tuple[str, ...]  # each a substring the text must contain

    @property
    def empty(self) -> bool:
        return not self.words and not self.runs

    def cjk_terms(self) -> list[str]:
        """The CJK tokens to look up: bigrams of each run, or its only character."""
        terms: list[str] = []
        for run in self.runs:
            if len(run) == 1:
                terms.append(run)
            else:
                terms.extend(run[i : i + 2] for i in range(len(run) - 1))
        return list(dict.fromkeys(terms))


def parse_query(q: str) -> Query:
    """A query's words (normalized, as prefixes) and CJK runs, duplicates dropped."""
    words = [normalize(w)[:MAX_TOKEN] for w in _WORD.findall(q)]
    runs = cjk_runs(q)
    return Query(tuple(dict.fromkeys(words)), tuple(dict.fromkeys(runs)))


def matches(query: Query, text: str) -> list[tuple[int, int]]:
    """Where ``text`` matches ``query`` (character offsets, sorted), or [] unless every
    word and run of the query is found."""
    found: list[tuple[int, int]] = []
    if query.words:
        spans = word_spans(text)
        for w in query.words:
            hits = [(s.start, s.end) for s in spans if s.token.startswith(w)]
            if not hits:
                return []
            found += hits
    for run in query.runs:
        start = text.find(run)
        if start < 0:
            return []
        while start >= 0:
            found.append((start, start + len(run)))
            start = text.find(run, start + len(run))
    return merge(found)


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans joined, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def snippet(
    text: str, spans: list[tuple[int, int]], width: int = 160
) -> tuple[str, list[list[int]]]:
    """A window of ``text`` around its first match, and the matches in it as [start, end]
    offsets in UTF-16 code units (what a browser's string indexes)."""
    first = spans[0][0] if spans else 0
    start = max(0, first - width // 4)
    if start > 0:  # begin at a word boundary when one is near
        space = text.rfind(" ", max(0, start - 15), first)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + width)
    window = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    shown = prefix + " ".join(window.split("\n")) + suffix

    def units(i: int) -> int:
        return len((prefix + window[: i - start]).encode("utf-16-le")) // 2

    marks = [[units(max(s, start)), units(min(e, end))] for s, e in spans if s < end and e > start]
    return shown, marks
