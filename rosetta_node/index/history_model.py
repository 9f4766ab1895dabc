"""What the history index stores and promises, whatever the database.

Every operation of every block, exactly as ``/block`` gives it, per network, beside the
Transfer-log index in the same store (the same SQLite file, or the same PostgreSQL schema)::

    history_blocks(number, hash, parent_hash)     every block indexed, and the one before the
                                                  first (the anchor the first block links to)
    history_txs(block_number, tx_index, hash, body)
                                                  every transaction of /block, ``body`` the
                                                  Transaction JSON exactly as /block encoded it
    history_ops(account, block_number, tx_index, op_index, currency, type, status, amount)
                                                  one row per operation: account and currency
                                                  are ids in the shared ``addresses`` table
                                                  (currency 0: the native coin)
    history_events(sequence, kind, number, hash)  block_added (0) / block_removed (1), the
                                                  sequence gap-free from 0
    history_cursor(network, number, hash)         the last block of the history

**Its own cursor.** The history is built from ``/block`` (receipts and call traces of every
transaction), far slower than ``eth_getLogs``, and may start at another block
(``history_start_block``): it lags the Transfer index and must not hold it back, so each
index has its own cursor and each stays kill-safe with its own rows. The same store keeps one
place to run and back up, and shares the address ids.

**Reorgs without a journal.** A block's rows never change once written and are keyed by its
number, so they are their own undo record: ``rollback_to(n)`` deletes every row above ``n`` and
writes one ``block_removed`` event per removed block, newest first, in one transaction with the
cursor; each later ``apply`` writes one ``block_added`` per block with its rows and the cursor.
Every block is kept, so any depth can be undone (the Transfer index's floor does not apply).
The preconditions (blocks must extend the cursor, rollbacks go to a stored block) are
:mod:`.checks`'s, shared with the Transfer index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..engine.oplist import OPERATION_STATUSES
from ..types import Transaction
from .model import Cursor

HISTORY_SCHEMA_VERSION = 1
ADDED, REMOVED = 0, 1  # history_events.kind
EVENT_TYPES = ("block_added", "block_removed")
NATIVE_ID = 0  # history_ops.currency of the native coin
AND, OR = "and", "or"
MAX_LIMIT = 1000  # transactions or events in one answer
DEFAULT_LIMIT = 100


@dataclass(slots=True)
class HistoryBlock:
    """One block for the history: its transactions as /block gives them.

    ``transactions`` None marks the anchor: the block before the first one indexed, stored
    only so that the first block links to it (no rows, no event).
    """

    number: int
    hash: str
    parent_hash: str
    transactions: list[Transaction] | None


@dataclass(frozen=True, slots=True)
class BlockEvent:
    sequence: int
    number: int
    hash: str
    type: str  # "block_added" or "block_removed"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A search over the history; conditions left None do not apply.

    ``and``: one operation meets every operation condition (account, address, currency,
    status, type, success) and the transaction has the hash, when given. ``or``: the
    transaction has the hash or one of its operations meets any one condition. Without
    conditions every transaction matches. Only blocks from ``min_block`` up to ``max_block``
    (None: the cursor).
    """

    operator: str = AND
    max_block: int | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    tx_hash: str | None = None  # lower-case 0x-hex
    account: str | None = None  # lower-case address (account_identifier.address)
    address: str | None = None  # lower-case address (the spec's ``address``)
    currency: str | None = None  # "" for the native coin, else the lower-case contract
    status: str | None = None
    type: str | None = None
    success: bool | None = None
    nothing: bool = False  # the account names a sub-account: no operation can meet it
    # For the translators: a block range's floor, a set of hashes the transaction's is one of
    # (with ``and`` as well as ``tx_hash``), a set of currencies the operation's is one of.
    min_block: int | None = None
    tx_hashes: tuple[str, ...] | None = None  # lower-case 0x-hex
    currencies: tuple[str, ...] | None = None  # as ``currency``
    # Only the chain's transactions: not a block's block-level entry (genesis allocations,
    # rewards, withdrawals), whose hash is the block's own.
    chain_only: bool = False

    def statuses(self) -> list[str]:
        """The statuses ``success`` stands for (/network/options' mapping)."""
        return [s for s, ok in OPERATION_STATUSES if ok == self.success]


@dataclass(frozen=True, slots=True)
class TransferQuery:
    """ERC-20 transfers (one per Transfer log of a tracked token: mints and burns too) from
    or to ``address`` and of ``contract`` when given (lower-case), in blocks ``min_block`` up
    to ``max_block`` (None: the cursor); newest first (block, transaction, log)."""

    max_block: int | None = None
    min_block: int | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    address: str | None = None
    contract: str | None = None


@dataclass(frozen=True, slots=True)
class FoundTransaction:
    block_number: int
    block_hash: str
    tx_index: int  # its position in /block's transactions
    hash: str
    body: bytes  # the Transaction JSON as /block gave it


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of a search, read in one snapshot with the cursor it is consistent with."""

    cursor: Cursor | None
    total_count: int
    next_offset: int | None
    transactions: list[FoundTransaction]


@dataclass(frozen=True, slots=True)
class FoundTransfer:
    """A transfer: its transaction and the index of its first operation there (the debit;
    a mint's credit), as :func:`~.history_transfers.transfers_of` names it."""

    transaction: FoundTransaction
    op_index: int


@dataclass(frozen=True, slots=True)
class TransferPage:
    cursor: Cursor | None
    total_count: int
    next_offset: int | None
    transfers: list[FoundTransfer]


@dataclass(frozen=True, slots=True)
class EventPage:
    cursor: Cursor | None
    max_sequence: int | None  # None: no event yet
    events: list[BlockEvent]


@dataclass(slots=True)
class HistoryDump:
    """Everything that defines the history's answers, for comparing two databases (events
    apart: they record how the history got there)."""

    cursor: Cursor | None
    blocks: list[tuple[int, str, str]]
    transactions: list[tuple[int, int, str, bytes]]
    operations: list[tuple[str, int, int, int, str, str, str, str]]


class HistoryStore(Protocol):
    """What the history follower and the query service need from the store."""

    async def cursor(self) -> Cursor | None: ...

    async def floor(self) -> int | None: ...

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def apply(self, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None: ...

    async def rollback_to(self, number: int) -> Cursor: ...

    async def search(self, query: HistoryQuery) -> HistoryPage: ...

    async def transfers(self, query: TransferQuery) -> TransferPage: ...

    async def events(self, offset: int | None, limit: int) -> EventPage: ...

    async def dump(self) -> HistoryDump: ...

    async def close(self) -> None: ...
