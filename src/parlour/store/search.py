"""SearchIndex: each owner's messages, found by words, prefixes and Chinese substrings.

Plain Redis (no module), one owner's index under the ``{OWNER}`` hash tag (see
:mod:`parlour.store.keys`), so it works across processes and on a cluster:

* every indexed message gets a *doc id*, its place in the owner's ``docs`` string
  (32 bytes each: conversation id and message id, binary), taken by APPEND itself;
* each token (:mod:`parlour.store.tokenize`) has a *postings* string: the doc ids
  holding it, 4 bytes each, ascending (one script appends a message's ids, so no
  other message's ids interleave);
* word tokens are also members of the owner's ``words`` sorted set, so a query word
  is widened to the words it begins with by ZRANGEBYLEX (bounded).

A query reads postings in chunks of at most ``CHUNK`` bytes (never a whole large
value at once): the rarest term drives, walked newest doc id first; other small terms
filter by bisection; a term too common to help is left to the check. Every candidate
is then checked against the stored message itself: it must still exist (a deleted
conversation or branch drops out at once), belong to the owner and really match, so
results are exact. Postings of deleted messages stay (4 bytes each) and are skipped.
"""

from __future__ import annotations

import asyncio
import bisect
import sys
from array import array
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.client import NEVER_DECODE

from parlour.domain import Message
from parlour.store.keys import Keys
from parlour.store.tokenize import (
    MAX_QUERY_TERMS,
    Query,
    index_tokens,
    matches,
    parse_query,
    snippet,
)

DOC = 32  # bytes per doc: conversation id + message id, 16 bytes each
ID = 4  # bytes per doc id in a postings string
CHUNK = 16_384  # bytes read by one GETRANGE
MAX_EXPANSIONS = 64  # words a query prefix may stand for before it counts as too broad
FILTER_MAX = 65_536  # doc ids a non-driving term may have and still be read to filter
CHECK_BATCH = 50
MAX_CHECKED = 3_000  # candidates checked per query at most (then it says "truncated")
_RAW = {NEVER_DECODE: True}
CONV_FIELDS = ["owner", "title", "persona", "model", "deleted", "pinned", "archived"]

MAX_BATCH = 200  # messages indexed by one script call at most
# ... and the postings strings it appends to: each is one call inside the script (a few
# microseconds), so this bounds a call to about a millisecond.
MAX_BATCH_KEYS = 400

_INDEX = """
-- KEYS: docs words word-postings... cjk-postings...
-- ARGV: docs (32 bytes a message) n-messages n-words words... then, for each postings
-- key, the messages holding it as 2-byte indexes into this batch, ascending.
-- Takes the batch's doc ids at once (APPEND) and appends them to every postings string
-- in one call, so no other writer's ids interleave; a word seen for the first time
-- (its postings just began) joins the owner's words. Returns the first doc id.
local n = tonumber(ARGV[2])
local base = redis.call('APPEND', KEYS[1], ARGV[1]) / 32 - n
local nw = tonumber(ARGV[3])
local first = 4 + nw
for i = 3, #KEYS do
  local rel = ARGV[first + i - 3]
  local out = {}
  for j = 1, #rel, 2 do
    out[#out + 1] = struct.pack('<I4', base + struct.unpack('<I2', rel, j))
  end
  local packed = table.concat(out)
  if redis.call('APPEND', KEYS[i], packed) == #packed and i - 2 <= nw then
    redis.call('ZADD', KEYS[2], 0, ARGV[i + 1])
  end
end
return base
"""


def decode_ids(raw: bytes) -> array[int]:
    ids = array("I")
    ids.frombytes(raw[: len(raw) - len(raw) % ID])
    if sys.byteorder != "little":
        ids.byteswap()
    return ids


@dataclass(frozen=True, slots=True)
class Filters:
    persona: str | None = None
    model: str | None = None
    since: float | None = None
    until: float | None = None
    pinned: bool | None = None  # None: either
    archived: bool | None = None

    def keep_conversation(self, pinned: bool, archived: bool) -> bool:
        return (self.pinned is None or self.pinned == pinned) and (
            self.archived is None or self.archived == archived
        )

    def keep(self, message: dict[str, Any]) -> bool:
        ts = float(message.get("timestamp", 0))
        return (
            (self.persona is None or message.get("persona") == self.persona)
            and (self.model is None or message.get("model") == self.model)
            and (self.since is None or ts >= self.since)
            and (self.until is None or ts < self.until)
        )


@dataclass(frozen=True, slots=True)
class _Tokens:
    ref: bytes  # conversation id + message id, binary (DOC bytes)
    words: set[str]
    cjk: set[str]  # CJK tokens (never also words)


def _tokens(sid: str, message: Message) -> _Tokens:
    words, cjk = index_tokens(message.content)
    return _Tokens(bytes.fromhex(sid) + bytes.fromhex(message.id), words, cjk - words)


@dataclass(frozen=True, slots=True)
class Hit:
    session_id: str
    title: str
    message_id: str
    role: str
    timestamp: float
    persona: str
    model: str
    snippet: str
    marks: list[list[int]]
    on_active_branch: bool
    pinned: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit]
    more: bool  # there are more results past this page
    truncated: bool  # the search stopped after MAX_CHECKED candidates


class _Postings:
    """One or more postings strings read backwards, merged: doc ids, newest first."""

    def __init__(self, redis: Redis, lengths: dict[str, int]) -> None:
        self.redis = redis
        self.left = {k: n - n % ID for k, n in lengths.items() if n >= ID}
        self.bufs: dict[str, list[int]] = {k: [] for k in self.left}

    async def _refill(self) -> None:
        wanted = [k for k, buf in self.bufs.items() if not buf and self.left[k] > 0]
        if not wanted:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in wanted:
                end = self.left[k]
                start = max(0, end - CHUNK)
                pipe.execute_command("GETRANGE", k, start, end - 1, **_RAW)
                self.left[k] = start
            chunks = cast(list[bytes], await pipe.execute())
        for k, raw in zip(wanted, chunks, strict=True):
            self.bufs[k] = decode_ids(raw).tolist()  # ascending: pop() takes the newest

    async def batches(self) -> AsyncGenerator[list[int]]:
        while True:
            await self._refill()
            live = [k for k, buf in self.bufs.items() if buf]
            if not live:
                return
            # Ids at or above every unread list's lowest buffered id cannot appear later.
            pending = [self.bufs[k][0] for k in live if self.left[k] > 0]
            floor = max(pending) if pending else -1
            out: set[int] = set()
            for k in live:
                buf = self.bufs[k]
                cut = bisect.bisect_left(buf, floor)
                out.update(buf[cut:])
                del buf[cut:]
            yield sorted(out, reverse=True)


class SearchIndex:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._index = redis.register_script(_INDEX)
        # Searches run two at a time in a process (others wait their turn), so a burst of
        # them leaves the event loop room for replies.
        self._in_flight = asyncio.Semaphore(2)

    # --- writing ------------------------------------------------------------------------

    async def add(self, owner: str, sid: str, message: Message) -> int:
        """Index one stored message; returns its doc id."""
        return await self._add_batch(owner, [_tokens(sid, message)])

    async def add_many(self, owner: str, sid: str, messages: list[Message]) -> None:
        """Index a conversation's messages, in order."""
        await self.add_bulk(owner, [(sid, m) for m in messages])

    async def add_bulk(self, owner: str, items: list[tuple[str, Message]]) -> None:
        """Index one owner's messages (of any of their conversations), in order, up to
        MAX_BATCH of them (and MAX_BATCH_KEYS postings strings) per script call. Each call is
        one command on the owner's slot, never a pipeline of scripts, so it runs the
        same on a cluster."""
        batch: list[_Tokens] = []
        tokens: set[str] = set()
        for sid, message in items:
            doc = _tokens(sid, message)
            grown = len(tokens) + len(doc.words) + len(doc.cjk)
            if batch and (len(batch) >= MAX_BATCH or grown > MAX_BATCH_KEYS):
                grown = len(tokens | doc.words | doc.cjk)  # shared tokens cost nothing more
                if len(batch) >= MAX_BATCH or grown > MAX_BATCH_KEYS:
                    await self._add_batch(owner, batch)
                    batch, tokens = [], set()
            batch.append(doc)
            tokens |= doc.words | doc.cjk
        if batch:
            await self._add_batch(owner, batch)

    async def _add_batch(self, owner: str, batch: list[_Tokens]) -> int:
        keys, args = self._batch_args(owner, batch)
        return int(await self._index(keys=keys, args=args))

    def _batch_args(self, owner: str, batch: list[_Tokens]) -> tuple[list[str], list[Any]]:
        word_docs: dict[str, list[int]] = {}
        cjk_docs: dict[str, list[int]] = {}
        for i, doc in enumerate(batch):
            for w in doc.words:
                word_docs.setdefault(w, []).append(i)
            for c in doc.cjk:
                cjk_docs.setdefault(c, []).append(i)
        words = sorted(word_docs)
        tokens = [*words, *sorted(cjk_docs)]
        keys = [self.keys.search_docs(owner), self.keys.search_words(owner)]
        keys += [self.keys.search_token(owner, t) for t in tokens]
        packed = [_pack16(word_docs.get(t) or cjk_docs[t]) for t in tokens]
        docs = b"".join(doc.ref for doc in batch)
        return keys, [docs, len(batch), len(words), *words, *packed]

    # --- reading ------------------------------------------------------------------------

    async def search(
        self, owner: str, q: str, filters: Filters, *, offset: int = 0, limit: int = 20
    ) -> Found:
        async with self._in_flight:
            return await self._search(owner, q, filters, offset, limit)

    async def _search(self, owner: str, q: str, filters: Filters, offset: int, limit: int) -> Found:
        query = parse_query(q)
        if query.empty:
            return Found([], False, False)
        words = list(query.words)[:MAX_QUERY_TERMS]
        cjk = query.cjk_terms()[:MAX_QUERY_TERMS]
        vocab = self.keys.search_words(owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            for w in words:
                pipe.zrangebylex(vocab, f"[{w}", b"[" + w.encode() + b"\xff", 0,
                                 MAX_EXPANSIONS + 1)  # fmt: skip
            pipe.strlen(self.keys.search_docs(owner))
            expanded = await pipe.execute()
        docs_len = int(expanded.pop())
        terms: list[list[str]] = []  # each term: the postings keys any of which it needs
        for found in cast(list[list[str]], expanded):
            if not found:
                return Found([], False, False)
            if len(found) <= MAX_EXPANSIONS:
                terms.append([self.keys.search_token(owner, t) for t in found])
        terms += [[self.keys.search_token(owner, t)] for t in cjk]
        flat = [k for term in terms for k in term]
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in flat:
                pipe.strlen(k)
            sizes = dict(zip(flat, (int(n) for n in await pipe.execute()), strict=True))
        totals = [sum(sizes[k] for k in term) for term in terms]
        if any(t == 0 for t in totals):
            return Found([], False, False)
        filters_ids: list[array[int]] = []
        if terms:
            order = sorted(range(len(terms)), key=lambda i: totals[i])
            driver = _Postings(self.redis, {k: sizes[k] for k in terms[order[0]]})
            source: AsyncGenerator[list[int]] = driver.batches()
            for i in order[1:]:
                if totals[i] // ID <= FILTER_MAX:
                    filters_ids.append(await self._read_all(terms[i], sizes))
        else:  # every word too broad: walk all the owner's messages
            source = _all_docs(docs_len // DOC)
        return await self._collect(owner, query, filters, source, filters_ids, offset, limit)

    async def _read_all(self, keys: list[str], sizes: dict[str, int]) -> array[int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for k in keys:
                n = sizes[k]
                for start in range(0, n, CHUNK):
                    pipe.execute_command("GETRANGE", k, start, min(n, start + CHUNK) - 1, **_RAW)
            raw = b"".join(cast(list[bytes], await pipe.execute()))
        if len(keys) == 1:
            return decode_ids(raw)
        return array("I", sorted(set(decode_ids(raw))))

    async def _collect(
        self,
        owner: str,
        query: Query,
        filters: Filters,
        source: AsyncGenerator[list[int]],
        filter_ids: list[array[int]],
        offset: int,
        limit: int,
    ) -> Found:
        wanted = offset + limit + 1
        hits: list[Hit] = []
        seen: set[tuple[str, str]] = set()
        checked = 0
        pending: list[int] = []
        try:
            async for batch in source:
                pending += [d for d in batch if all(_contains(ids, d) for ids in filter_ids)]
                while len(pending) >= CHECK_BATCH and len(hits) < wanted and checked < MAX_CHECKED:
                    part, pending = pending[:CHECK_BATCH], pending[CHECK_BATCH:]
                    checked += len(part)
                    await self._check(owner, query, filters, part, hits, seen)
                    # Checking is Python work: let replies' steps run between batches.
                    await asyncio.sleep(0)
                if len(hits) >= wanted or checked >= MAX_CHECKED:
                    break
            else:
                checked += len(pending)
                await self._check(owner, query, filters, pending, hits, seen)
        finally:
            await source.aclose()
        truncated = checked >= MAX_CHECKED and len(hits) < wanted
        page = hits[offset : offset + limit]
        await self._mark_branches(page)
        return Found(page, len(hits) > offset + limit, truncated)

    async def _check(
        self,
        owner: str,
        query: Query,
        filters: Filters,
        docs: list[int],
        hits: list[Hit],
        seen: set[tuple[str, str]],
    ) -> None:
        """Keep the docs whose message still exists, is the owner's and matches."""
        docs_key = self.keys.search_docs(owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            for doc in docs:
                pipe.execute_command("GETRANGE", docs_key, doc * DOC, doc * DOC + DOC - 1, **_RAW)
            refs = cast(list[bytes], await pipe.execute())
        pairs = [(r[:16].hex(), r[16:].hex()) for r in refs if len(r) == DOC]
        sids = list(dict.fromkeys(sid for sid, _mid in pairs))
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hmget(self.keys.conversation(sid), CONV_FIELDS)
            for sid, mid in pairs:
                pipe.hget(self.keys.messages(sid), mid)
            rows = await pipe.execute()
        convs = dict(zip(sids, cast(list[list[str | None]], rows[: len(sids)]), strict=True))
        for (sid, mid), raw in zip(pairs, cast(list[str | None], rows[len(sids) :]), strict=True):
            conv = convs[sid]
            deleted, pinned, archived = (bool(float(v or 0)) for v in conv[4:7])
            if raw is None or conv[0] != owner or deleted or (sid, mid) in seen:
                continue  # gone, someone else's, in the trash, or found already
            if not filters.keep_conversation(pinned, archived):
                continue
            message = orjson.loads(raw)
            if not filters.keep(message):
                continue
            text = str(message.get("content", ""))
            spans = matches(query, text)
            if not spans:
                continue
            seen.add((sid, mid))
            shown, marks = snippet(text, spans)
            hits.append(
                Hit(
                    session_id=sid,
                    title=conv[1] or "",
                    message_id=mid,
                    role=str(message.get("role", "")),
                    timestamp=float(message.get("timestamp", 0)),
                    persona=str(message.get("persona") or conv[2] or ""),
                    model=str(message.get("model") or conv[3] or ""),
                    snippet=shown,
                    marks=marks,
                    on_active_branch=False,
                    pinned=pinned,
                    archived=archived,
                )
            )

    async def _mark_branches(self, page: list[Hit]) -> None:
        if not page:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for hit in page:
                pipe.lpos(self.keys.path(hit.session_id), hit.message_id)
            where = await pipe.execute()
        for i, (hit, pos) in enumerate(zip(page, where, strict=True)):
            if pos is not None:
                page[i] = replace(hit, on_active_branch=True)


def _pack16(ids: list[int]) -> bytes:
    packed = array("H", ids)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def _contains(ids: array[int], doc: int) -> bool:
    i = bisect.bisect_left(ids, doc)
    return i < len(ids) and ids[i] == doc


async def _all_docs(count: int, step: int = 1_000) -> AsyncGenerator[list[int]]:
    for top in range(count - 1, -1, -step):
        yield list(range(top, max(-1, top - step), -1))
