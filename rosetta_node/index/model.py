"""What the ERC-20 Transfer-log index stores and promises, whatever the database.

The logical tables (views; addresses and hashes lower-case 0x-hex)::

    holdings(contract, account, first_block, last_block, last_hash)
        one row per (token, account) that ever sent or received it; last_* is the block of
        the latest Transfer log touching the pair (the block to read balanceOf at).
    changes(contract, account, block_number, block_hash, prev_block)
        the undo journal for blocks above the *floor*: the pairs each block touched, and the
        pair's last change before it (NULL: no row before). ``rollback_to`` restores from it.

are stored compactly, because the index is write-heavy (two rows a log) and big (a row per
token holder): each address once in ``addresses(id, address)``, and ``holding`` and
``journal`` keyed by address ids and block numbers; the hash of a block number comes from
``blocks(number, hash, parent_hash, transfers)``, which keeps every block with Transfer logs
(holdings point at them) and every block above the floor (reorg checks; a backfill stores
the blocks with logs and the end block of each range). ``cursor(network, number, hash)`` is
the last block indexed, ``meta(key, value)`` the rest.

The floor trails the chain head by ``retention`` blocks: a reorg deeper than that is refused
(:class:`ReorgTooDeep`). Every write is one transaction that moves holdings, journal, blocks
and cursor together, so a process killed at any moment restarts from a consistent cursor and
neither loses nor repeats a block.

This module holds the types, the errors and the :class:`IndexStore` protocol. The backends:
:mod:`.sqlite` (one file per network) and :mod:`.postgres` (shared by API replicas); what
both run is in :mod:`.batch`, :mod:`.checks` and :mod:`.sql`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

SCHEMA_VERSION = 1
DEFAULT_RETENTION = 256  # blocks below the head a reorg may reach
DEFAULT_ADDRESS_CACHE = 1_000_000  # address -> id entries the writer keeps in memory

T = TypeVar("T")


class IndexStoreError(Exception):
    """The index refuses an operation that would make it inconsistent."""


class ChainMismatch(IndexStoreError):
    """Blocks handed to ``apply`` do not extend the indexed chain (a reorg or a bug)."""


class WriterBusy(IndexStoreError):
    """Another process holds the index's writer lock: this one may only read (PostgreSQL)."""


class ReorgTooDeep(IndexStoreError):
    """A rollback below the floor: the journal no longer reaches that far; re-index."""


class Transfer(NamedTuple):
    contract: str
    sender: str
    recipient: str


@dataclass(slots=True)
class BlockLogs:
    """One block of the indexed chain and the Transfer logs in it (possibly none)."""

    number: int
    hash: str
    parent_hash: str
    transfers: list[Transfer] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Cursor:
    number: int
    hash: str


@dataclass(frozen=True, slots=True)
class TokenHolding:
    """A token an account sent or received, and the block of its last change."""

    contract: str
    last_block: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Snapshot(Generic[T]):
    """Rows read in one read transaction together with the cursor they are consistent with.

    Answers read balances at ``cursor`` (the last indexed block): the rows then name exactly
    the accounts and tokens that can have a balance there.
    """

    cursor: Cursor | None
    rows: T


@dataclass(frozen=True, slots=True)
class AccountToken:
    """A token an account sent or received, with the blocks of its first and last change."""

    contract: str
    first_block: int
    last_block: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Holder:
    account: str
    first_block: int
    last_block: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class Change:
    """An account whose balance of a token last changed at this block."""

    account: str
    block_number: int
    block_hash: str


@dataclass(slots=True)
class IndexDump:
    """Everything that defines the index's answers, for comparing two databases."""

    cursor: Cursor | None
    floor: int | None  # the journal reaches down to here
    holdings: list[tuple[str, str, int, int, str]]  # contract, account, first, last, hash
    changes: list[tuple[int, str, str, str, int | None]]  # block, contract, account, hash, prev
    blocks: list[tuple[int, str, str]]

    @classmethod
    def from_rows(
        cls,
        cursor: Cursor | None,
        floor: int | None,
        holdings: Iterable[Sequence[Any]],
        changes: Iterable[Sequence[Any]],
        blocks: Iterable[Sequence[Any]],
    ) -> IndexDump:
        """From the rows of :data:`.sql.DUMP_HOLDINGS`, ``DUMP_CHANGES`` and ``DUMP_BLOCKS``."""
        return cls(
            cursor=cursor,
            floor=floor,
            holdings=[(str(c), str(a), int(f), int(n), str(h)) for c, a, f, n, h in holdings],
            changes=[
                (int(n), str(c), str(a), str(h), None if p is None else int(p))
                for n, c, a, h, p in changes
            ],
            blocks=[(int(n), str(h), str(p)) for n, h, p in blocks],
        )


class IndexStore(Protocol):
    """What the indexer and the API services need from index storage."""

    async def cursor(self) -> Cursor | None: ...

    async def floor(self) -> int | None: ...

    async def bulk(self) -> bool: ...

    async def set_bulk(self, on: bool) -> None: ...

    async def apply(
        self, blocks: Sequence[BlockLogs], cursor: Cursor, *, head: int | None = None
    ) -> None: ...

    async def rollback_to(self, number: int) -> Cursor: ...

    async def block_hash(self, number: int) -> str | None: ...

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]: ...

    async def tokens_of(self, account: str) -> list[TokenHolding]: ...

    async def holders(
        self, contract: str, after: str | None = None, limit: int = 100
    ) -> list[Holder]: ...

    async def changed_since(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[Change]: ...

    # Consistent reads for the API (each in one read transaction with the cursor).

    async def account_tokens(
        self, account: str, at_block: int | None = None
    ) -> Snapshot[list[AccountToken]]: ...

    async def contract_holders(
        self, contract: str, after: str | None = None, limit: int = 100, at_block: int | None = None
    ) -> Snapshot[list[Holder]]: ...

    async def holder_count(self, contract: str, at_block: int | None = None) -> Snapshot[int]: ...

    async def balance_changes(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Snapshot[list[Change]]: ...

    async def get_meta(self, key: str) -> str | None: ...

    async def set_meta(self, key: str, value: str) -> None: ...

    async def close(self) -> None: ...
