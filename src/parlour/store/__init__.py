"""Everything Parlour keeps in Redis, by entity: conversations (trees of messages),
the reply ledger, the key layout, and upgrades of older storage formats."""

from parlour.store.conversations import ConversationStore, Fields
from parlour.store.keys import FORMAT_VERSION, Keys, is_id
from parlour.store.ledger import Claim, Claimed, Finished, ReplyLedger

__all__ = [
    "FORMAT_VERSION",
    "Claim",
    "Claimed",
    "ConversationStore",
    "Fields",
    "Finished",
    "Keys",
    "ReplyLedger",
    "is_id",
]
