"""Every Redis key Parlour uses, built in one place (storage format 2).

``P`` is the configured key prefix. Keys that one script or transaction touches
together share a hash tag (the part in braces), so each such write lands in one
slot of a Redis Cluster::

    P:format                          str    the storage format of this database ("2")
    P:migrating                       str    held by the process upgrading an older format

    one conversation, tag {SID}:
    P:c:{SID}                         hash   id owner title persona model created_at
                                             updated_at message_count active, and when
                                             set: pinned archived deleted (times), folder
                                             (a folder id), cleared (JSON, for undo)
    P:c:{SID}:msgs                    hash   message id -> JSON message (with its parent)
    P:c:{SID}:tree                    hash   "u:<id>" -> parent id ("" for a first message),
                                             "k:<id>" / "k:" -> JSON list of child ids, oldest first
    P:c:{SID}:path                    list   ids of the active branch, first message -> leaf
    P:c:{SID}:reply                   str    id of the reply running in it (the 409 lock)
    P:c:{SID}:reply:RID               hash   a reply's facts (session owner status parent ...)
    P:c:{SID}:reply:RID:events        stream the reply's events, each entry a JSON batch
    P:c:{SID}:reply:RID:reaper        str    claims the clean-up of a reply whose process died
    P:c:{SID}:summaries               hash   id of the last message a summary covers -> JSON summary
    P:c:{SID}:summary                 hash   off ("1": summaries turned off), failed, failed_at
    P:c:{SID}:cleared:msgs|tree|path  (as above) the messages a clear took away, kept for
                                             undo until the trash's TTL ends

    one owner, tag {OWNER}:
    P:u:{OWNER}:convs                 zset   conversation ids scored by last activity
    P:u:{OWNER}:replies               set    the owner's running replies (concurrency limit)
    P:u:{OWNER}:usage:DAY             str    tokens used that day (quota)
    P:u:{OWNER}:usage:DAY:models      hash   that day's totals per model: "prompt:<model>",
                                             "completion:<model>", "replies:<model>",
                                             "ms:<model>" (replies' duration) -> integers
    P:u:{OWNER}:personas              hash   persona id -> JSON persona the owner made
    P:u:{OWNER}:imported              hash   source id of an imported conversation
                                             ("chatgpt:ID", "parlour:ID") -> its session id
    P:u:{OWNER}:import:lock           str    the owner's running import's id (TTL, renewed)
    P:u:{OWNER}:import:JOB            hash   an import's progress and outcome (TTL)
    P:u:{OWNER}:import:JOB:report     list   JSON: one entry per conversation of the file
    P:u:{OWNER}:memory                hash   fact id -> JSON fact the owner keeps (Memory page)
    P:u:{OWNER}:memory:on             str    "1": the owner's memory goes into their conversations
    P:u:{OWNER}:pinned                zset   pinned conversation ids (score: when pinned)
    P:u:{OWNER}:archived              zset   archived conversation ids (score: when archived)
    P:u:{OWNER}:trash                 zset   deleted conversation ids (score: when deleted),
                                             restorable until their keys' TTL ends
    P:u:{OWNER}:folders               hash   folder id -> JSON folder (id name created_at)
    P:u:{OWNER}:f:FID                 set    the conversation ids in folder FID
    P:u:{OWNER}:shares                hash   share id -> JSON (token session title ...)
    P:u:{OWNER}:s:docs                str    the owner's search index: 32 bytes per indexed
                                             message (conversation id + message id, binary);
                                             a message's doc id is its offset / 32
    P:u:{OWNER}:s:words               zset   every word token indexed (score 0), for prefixes
    P:u:{OWNER}:s:t:TOKEN             str    ascending doc ids (4 bytes, little-endian) of the
                                             messages indexed under TOKEN (see store/tokenize)

    the search backfill, tag {search}:
    P:{search}:since                  str    when indexing began: older messages are backfilled
    P:{search}:fill                   hash   the backfill's progress: cursor rank hcursor done
    P:{search}:fill:owners            list   owners found by the backfill, still to index
    P:{search}:fill:lock              str    held by the process running the backfill (TTL)

    accounts, tag {acct}:
    P:{acct}:account:UID              hash   id username password_hash is_admin disabled created_at
    P:{acct}:account:UID:logins       set    digests of the account's sign-ins
    P:{acct}:account:UID:tokens       hash   token id -> digest
    P:{acct}:names                    hash   lower-cased username -> uid
    P:{acct}:all                      zset   uids by creation time
    P:{acct}:first                    str    set once: the first account (the admin) was claimed
    P:{acct}:login:DIGEST             hash   a signed-in browser: uid csrf created_at (TTL)
    P:{acct}:token:DIGEST             hash   an API token: id uid name created_at
    P:{acct}:invite:DIGEST            str    an unused invitation (TTL)
    P:{acct}:fails:NAME               zset   failed sign-ins for a username (any address)
    P:{acct}:fails:NAME:ADDR          zset   failed sign-ins for a username from one address

    no tag (single-key commands only):
    P:share:TOKEN                     hash   a shared snapshot: id owner title author
                                             created_at parts (N), m:0 .. m:N-1 (the messages
                                             in pieces, each a JSON list); TTL = its expiry.
                                             Made before the pieces: messages (one JSON list)
                                             instead of parts and m:*
    P:replies:running                 zset   "SID:RID" of running replies by last heartbeat
    P:usage:DAY:owners                set    owners with usage recorded that day
    P:personas:published              hash   persona id -> JSON persona shared with everyone
    P:stop                            pub/sub channel carrying reply ids to stop

Ids that reach a key are checked first (:func:`is_id`), so no crafted id names another key.
Search tokens hold only letters, digits, ``_`` and CJK characters (never a brace or a colon).
"""

from __future__ import annotations

import re

FORMAT_VERSION = 2

_ID = re.compile(r"[0-9a-f]{32}")


def is_id(value: str) -> bool:
    """Whether ``value`` has the shape of the ids Parlour makes (128 random bits, hex)."""
    return _ID.fullmatch(value) is not None


class Keys:
    """Builds every Redis key Parlour uses."""

    def __init__(self, prefix: str) -> None:
        self.p = prefix

    # --- the database -----------------------------------------------------------

    def format(self) -> str:
        return f"{self.p}:format"

    def migrating(self) -> str:
        return f"{self.p}:migrating"

    # --- a conversation -----------------------------------------------------------

    def conversation(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}"

    def messages(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:msgs"

    def tree(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:tree"

    def path(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:path"

    def cleared_keys(self, sid: str) -> list[str]:
        """Where a clear keeps msgs, tree and path for undo (same slot as the conversation)."""
        return [f"{self.p}:c:{{{sid}}}:cleared:{part}" for part in ("msgs", "tree", "path")]

    def conversation_keys(self, sid: str) -> list[str]:
        """The keys holding a conversation's content, in the order the scripts take them."""
        return [self.conversation(sid), self.messages(sid), self.tree(sid), self.path(sid)]

    def session_reply(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:reply"

    def reply(self, sid: str, rid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:reply:{rid}"

    def reply_events(self, sid: str, rid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:reply:{rid}:events"

    def reaper(self, sid: str, rid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:reply:{rid}:reaper"

    def summaries(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:summaries"

    def summary_state(self, sid: str) -> str:
        return f"{self.p}:c:{{{sid}}}:summary"

    def summary_keys(self, sid: str) -> list[str]:
        """A conversation's summaries: deleted, trashed and restored with it."""
        return [self.summaries(sid), self.summary_state(sid)]

    # --- an owner -----------------------------------------------------------------

    def user_sessions(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:convs"

    def user_replies(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:replies"

    def user_usage(self, owner: str, day: str) -> str:
        return f"{self.p}:u:{{{owner}}}:usage:{day}"

    def user_usage_models(self, owner: str, day: str) -> str:
        return f"{self.p}:u:{{{owner}}}:usage:{day}:models"

    def usage_owners(self, day: str) -> str:
        return f"{self.p}:usage:{day}:owners"

    def user_personas(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:personas"

    def imported(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:imported"

    def import_lock(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:import:lock"

    def import_job(self, owner: str, job: str) -> str:
        return f"{self.p}:u:{{{owner}}}:import:{job}"

    def import_report(self, owner: str, job: str) -> str:
        return f"{self.p}:u:{{{owner}}}:import:{job}:report"

    def user_memory(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:memory"

    def user_memory_on(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:memory:on"

    def user_default_model(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:default-model"

    def user_pinned(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:pinned"

    def user_archived(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:archived"

    def user_trash(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:trash"

    def user_folders(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:folders"

    def folder_members(self, owner: str, fid: str) -> str:
        return f"{self.p}:u:{{{owner}}}:f:{fid}"

    def user_shares(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:shares"

    def search_docs(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:s:docs"

    def search_words(self, owner: str) -> str:
        return f"{self.p}:u:{{{owner}}}:s:words"

    def search_token(self, owner: str, token: str) -> str:
        return f"{self.p}:u:{{{owner}}}:s:t:{token}"

    def owner_of_sessions_key(self, key: str) -> str | None:
        """The owner named by a :meth:`user_sessions` key (found by the backfill's SCAN)."""
        head, tail = f"{self.p}:u:{{", "}:convs"
        if key.startswith(head) and key.endswith(tail):
            return key[len(head) : -len(tail)]
        return None

    def user_sessions_pattern(self) -> str:
        return f"{self.p}:u:{{*}}:convs"

    # --- the search backfill ----------------------------------------------------------

    def search_since(self) -> str:
        return f"{self.p}:{{search}}:since"

    def search_fill(self) -> str:
        return f"{self.p}:{{search}}:fill"

    def search_fill_owners(self) -> str:
        return f"{self.p}:{{search}}:fill:owners"

    def search_fill_lock(self) -> str:
        return f"{self.p}:{{search}}:fill:lock"

    # --- accounts -------------------------------------------------------------------

    def account(self, uid: str) -> str:
        return f"{self.p}:{{acct}}:account:{uid}"

    def account_logins(self, uid: str) -> str:
        return f"{self.p}:{{acct}}:account:{uid}:logins"

    def account_tokens(self, uid: str) -> str:
        return f"{self.p}:{{acct}}:account:{uid}:tokens"

    def account_names(self) -> str:
        return f"{self.p}:{{acct}}:names"

    def accounts(self) -> str:
        return f"{self.p}:{{acct}}:all"

    def first_account(self) -> str:
        return f"{self.p}:{{acct}}:first"

    def login(self, digest: str) -> str:
        return f"{self.p}:{{acct}}:login:{digest}"

    def token(self, digest: str) -> str:
        return f"{self.p}:{{acct}}:token:{digest}"

    def invite(self, digest: str) -> str:
        return f"{self.p}:{{acct}}:invite:{digest}"

    def signin_failures(self, name: str) -> str:
        return f"{self.p}:{{acct}}:fails:{name}"

    def signin_pair_failures(self, name: str, address: str) -> str:
        return f"{self.p}:{{acct}}:fails:{name}:{address}"

    # --- untagged ------------------------------------------------------------------

    def running_replies(self) -> str:
        return f"{self.p}:replies:running"

    def share(self, token: str) -> str:
        return f"{self.p}:share:{token}"

    def published_personas(self) -> str:
        return f"{self.p}:personas:published"

    def stop_channel(self) -> str:
        return f"{self.p}:stop"

    def changes_channel(self) -> str:
        """Pub/sub: every user's changes, for the pages they have open (live.py)."""
        return f"{self.p}:changes"
