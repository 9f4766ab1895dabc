"""Storage of the ERC-20 Transfer-log index: which accounts touched which token, and when last.

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
(:class:`ReorgTooDeep`). Every write is one SQLite transaction that moves holdings, journal,
blocks and cursor together, so a process killed at any moment restarts from a consistent
cursor and neither loses nor repeats a block.

:class:`SqliteIndex` is the synchronous implementation over one connection (benchmarks,
tests, scripts). :class:`SqliteStore` implements the async :class:`IndexStore` protocol for
the event loop: writes run on a single writer thread, reads on a small pool of reader
threads, each with its own connection (WAL lets readers run alongside the writer).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, NamedTuple, Protocol, TypeVar

from . import batch

SCHEMA_VERSION = 1
DEFAULT_RETENTION = 256  # blocks below the head a reorg may reach
DEFAULT_ADDRESS_CACHE = 1_000_000  # address -> id entries the writer keeps in memory

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursor(
    network TEXT PRIMARY KEY, number INTEGER NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blocks(
    number INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    parent_hash TEXT NOT NULL,
    transfers INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS addresses(id INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS holding(
    contract INTEGER NOT NULL,
    account INTEGER NOT NULL,
    first_block INTEGER NOT NULL,
    last_block INTEGER NOT NULL,
    PRIMARY KEY(contract, account)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS journal(
    block_number INTEGER NOT NULL,
    contract INTEGER NOT NULL,
    account INTEGER NOT NULL,
    prev_block INTEGER,
    PRIMARY KEY(block_number, contract, account)) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS holdings(contract, account, first_block, last_block, last_hash) AS
    SELECT c.address, a.address, h.first_block, h.last_block, b.hash
    FROM holding h
    JOIN addresses c ON c.id = h.contract
    JOIN addresses a ON a.id = h.account
    JOIN blocks b ON b.number = h.last_block;
CREATE VIEW IF NOT EXISTS changes(contract, account, block_number, block_hash, prev_block) AS
    SELECT c.address, a.address, j.block_number, b.hash, j.prev_block
    FROM journal j
    JOIN addresses c ON c.id = j.contract
    JOIN addresses a ON a.id = j.account
    JOIN blocks b ON b.number = j.block_number;
"""


# The query indexes: left out during a bulk load (see SqliteIndex.set_bulk), built after.
_INDEXES = {
    "holding_by_account": "CREATE INDEX IF NOT EXISTS holding_by_account ON holding(account)",
    "holding_by_change": (
        "CREATE INDEX IF NOT EXISTS holding_by_change ON holding(contract, last_block)"
    ),
}


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


class IndexStore(Protocol):
    """What the indexer and (later) API services need from index storage."""

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

    async def dump(self) -> IndexDump: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class IndexDump:
    """Everything that defines the index's answers, for comparing two databases."""

    cursor: Cursor | None
    floor: int | None  # the journal reaches down to here
    holdings: list[tuple[str, str, int, int, str]]  # contract, account, first, last, hash
    changes: list[tuple[int, str, str, str, int | None]]  # block, contract, account, hash, prev
    blocks: list[tuple[int, str, str]]


def _connect(path: str, *, readonly: bool = False, cache_mb: int = 64) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    con.execute("PRAGMA busy_timeout = 30000")
    if readonly:
        con.execute("PRAGMA query_only = ON")
    else:
        mode = con.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal" and path != ":memory:":
            raise IndexStoreError(f"{path}: could not switch SQLite to WAL mode ({mode})")
    # NORMAL is durable against a killed process in WAL mode (only power loss can drop the
    # last commits, and never corrupts): the cursor always matches the data.
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(f"PRAGMA cache_size = {-1024 * max(1, cache_mb)}")
    con.execute("PRAGMA temp_store = MEMORY")
    return con


class _AddressIds:
    """address -> id for the writer: two generations of dicts, a cheap approximate LRU.

    ``lookup`` leaves every address of a batch in ``young``, so the caller maps the whole
    batch through that one dict.
    """

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.young: dict[str, int] = {}
        self.old: dict[str, int] = {}

    def lookup(self, addresses: set[str]) -> list[str]:
        """Move the known ones of ``addresses`` into ``young``; returns the unknown ones."""
        if len(self.young) + len(addresses) > self.half:
            self.old, self.young = self.young, {}
        young, old = self.young, self.old
        missing = []
        for address in addresses - young.keys():
            found = old.get(address)
            if found is None:
                missing.append(address)
            else:
                young[address] = found
        return missing

    def clear(self) -> None:
        self.young.clear()
        self.old.clear()


def _upto(at_block: int | None) -> int:
    return 2**63 - 1 if at_block is None else at_block


_HOLDINGS = (
    "SELECT {columns} FROM holding h "
    "JOIN addresses a ON a.id = h.account "
    "JOIN blocks b ON b.number = h.last_block "
)


class SqliteIndex:
    """The index over one SQLite connection; synchronous and not thread-safe."""

    def __init__(
        self,
        path: str | Path,
        *,
        network: str = "default",
        retention: int = DEFAULT_RETENTION,
        readonly: bool = False,
        cache_mb: int = 64,
        address_cache: int = DEFAULT_ADDRESS_CACHE,
    ) -> None:
        if retention < 1:
            raise ValueError("retention must be at least 1 block")
        self.path = str(path)
        self.network = network
        self.retention = retention
        self.con = _connect(self.path, readonly=readonly, cache_mb=cache_mb)
        self._ids = _AddressIds(address_cache)
        self._bulk = False
        if not readonly:
            self._init_schema()
            self.bulk()

    # -- setup -------------------------------------------------------------------------------

    def _init_schema(self) -> None:
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            if self._meta("bulk") is None:
                for statement in _INDEXES.values():
                    con.execute(statement)
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", str(SCHEMA_VERSION))
            elif version != str(SCHEMA_VERSION):
                raise IndexStoreError(
                    f"{self.path}: index schema version {version}, this code reads "
                    f"{SCHEMA_VERSION}; re-index into a new file"
                )
            others = [
                row[0]
                for row in con.execute(
                    "SELECT network FROM cursor WHERE network != ?", (self.network,)
                )
            ]
            if others:
                raise IndexStoreError(
                    f"{self.path}: holds the index of network {others[0]!r}, not "
                    f"{self.network!r}; use one file per network"
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_address(address TEXT PRIMARY KEY) WITHOUT ROWID"
        )
        con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staged_pair(contract INTEGER, account INTEGER, "
            "PRIMARY KEY(contract, account)) WITHOUT ROWID"
        )

    def close(self) -> None:
        self.con.close()

    # -- small reads -------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def get_meta(self, key: str) -> str | None:
        return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        try:
            self._set_meta(key, value)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def cursor(self) -> Cursor | None:
        row = self.con.execute(
            "SELECT number, hash FROM cursor WHERE network = ?", (self.network,)
        ).fetchone()
        return None if row is None else Cursor(int(row[0]), str(row[1]))

    def floor(self) -> int | None:
        value = self._meta("floor")
        return None if value is None else int(value)

    def bulk(self) -> bool:
        self._bulk = self._meta("bulk") is not None
        return self._bulk

    def set_bulk(self, on: bool) -> None:
        """Bulk load: drop the query indexes (writes get much cheaper), or build them back.

        For a long backfill, far from the head. Meanwhile ``tokens_of`` and ``changed_since``
        scan instead of seeking (slow on a big index), and the state survives restarts until
        it is turned off, which builds the indexes (a sort of the table, minutes for a
        mainnet-sized one).
        """
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            if on:
                for name in _INDEXES:
                    con.execute(f"DROP INDEX IF EXISTS {name}")
                self._set_meta("bulk", "1")
            else:
                for statement in _INDEXES.values():
                    con.execute(statement)
                con.execute("DELETE FROM meta WHERE key = 'bulk'")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            self.bulk()

    def block_hash(self, number: int) -> str | None:
        row = self.con.execute("SELECT hash FROM blocks WHERE number = ?", (number,)).fetchone()
        return None if row is None else str(row[0])

    def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        """Stored blocks, highest first, with numbers below ``below`` (all when None)."""
        rows = self.con.execute(
            "SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC LIMIT ?",
            (_upto(None) if below is None else below, limit),
        ).fetchall()
        return [Cursor(int(n), str(h)) for n, h in rows]

    def _address_id(self, address: str) -> int | None:
        row = self.con.execute(
            "SELECT id FROM addresses WHERE address = ?", (address.lower(),)
        ).fetchone()
        return None if row is None else int(row[0])

    # -- queries -----------------------------------------------------------------------------

    def tokens_of(self, account: str) -> list[TokenHolding]:
        """Tokens ``account`` ever sent or received, by contract address."""
        return [
            TokenHolding(t.contract, t.last_block, t.last_hash)
            for t in self._account_tokens(account, _upto(None))
        ]

    def _account_tokens(self, account: str, upto: int) -> list[AccountToken]:
        rows = self.con.execute(
            "SELECT c.address, h.first_block, h.last_block, b.hash FROM addresses a "
            "JOIN holding h ON h.account = a.id "
            "JOIN addresses c ON c.id = h.contract "
            "JOIN blocks b ON b.number = h.last_block "
            "WHERE a.address = ? AND h.first_block <= ? ORDER BY c.address",
            (account.lower(), upto),
        ).fetchall()
        return [AccountToken(c, int(f), int(n), h) for c, f, n, h in rows]

    def holders(self, contract: str, after: str | None = None, limit: int = 100) -> list[Holder]:
        """Accounts that ever sent or received ``contract``.

        In a stable order (the order the index first saw each address); the next page starts
        after the last row's account, given as ``after``.
        """
        return self._holders(contract, after, limit, _upto(None))

    def _holders(self, contract: str, after: str | None, limit: int, upto: int) -> list[Holder]:
        contract_id = self._address_id(contract)
        after_id = -1 if after is None else self._address_id(after)
        if contract_id is None or after_id is None:
            return []
        rows = self.con.execute(
            _HOLDINGS.format(columns="a.address, h.first_block, h.last_block, b.hash")
            + "WHERE h.contract = ? AND h.account > ? AND h.first_block <= ? "
            "ORDER BY h.account LIMIT ?",
            (contract_id, after_id, upto, max(0, limit)),
        ).fetchall()
        return [Holder(a, int(f), int(n), h) for a, f, n, h in rows]

    def changed_since(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[Change]:
        """Accounts whose last change of ``contract`` is above ``after_block``.

        Ordered by block, then a stable account order; the next page starts after the last
        row's ``(block_number, account)``, given as ``page_after``.
        """
        contract_id = self._address_id(contract)
        if contract_id is None:
            return []
        page_block, page_account = after_block + 1, -1
        if page_after is not None:
            found = self._address_id(page_after[1])
            if found is None:
                return []
            page_block, page_account = page_after[0], found
        rows = self.con.execute(
            _HOLDINGS.format(columns="a.address, h.last_block, b.hash")
            + "WHERE h.contract = ? AND h.last_block > ? AND (h.last_block, h.account) > (?, ?) "
            "ORDER BY h.last_block, h.account LIMIT ?",
            (contract_id, after_block, page_block, page_account, max(0, limit)),
        ).fetchall()
        return [Change(a, int(n), h) for a, n, h in rows]

    # -- consistent reads for the API ----------------------------------------------------------

    def _snapshot(self, read: Callable[[], T]) -> Snapshot[T]:
        # One read transaction: the rows and the cursor come from the same commit (WAL
        # readers see a fixed snapshot while the writer goes on).
        self.con.execute("BEGIN")
        try:
            return Snapshot(self.cursor(), read())
        finally:
            self.con.execute("COMMIT")

    def account_tokens(
        self, account: str, at_block: int | None = None
    ) -> Snapshot[list[AccountToken]]:
        """Tokens ``account`` sent or received (by ``at_block`` when given), by contract."""
        return self._snapshot(lambda: self._account_tokens(account, _upto(at_block)))

    def contract_holders(
        self, contract: str, after: str | None = None, limit: int = 100, at_block: int | None = None
    ) -> Snapshot[list[Holder]]:
        """Like :meth:`holders`, limited to accounts first seen by ``at_block`` when given."""
        return self._snapshot(lambda: self._holders(contract, after, limit, _upto(at_block)))

    def holder_count(self, contract: str, at_block: int | None = None) -> Snapshot[int]:
        """How many accounts ever sent or received ``contract`` (by ``at_block``)."""

        def read() -> int:
            contract_id = self._address_id(contract)
            if contract_id is None:
                return 0
            row = self.con.execute(
                "SELECT count(*) FROM holding WHERE contract = ? AND first_block <= ?",
                (contract_id, _upto(at_block)),
            ).fetchone()
            return int(row[0])

        return self._snapshot(read)

    def balance_changes(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Snapshot[list[Change]]:
        """:meth:`changed_since` with the cursor it is consistent with."""
        return self._snapshot(lambda: self.changed_since(contract, after_block, page_after, limit))

    def dump(self) -> IndexDump:
        con = self.con
        return IndexDump(
            cursor=self.cursor(),
            floor=self.floor(),
            holdings=[
                (str(c), str(a), int(f), int(n), str(h))
                for c, a, f, n, h in con.execute(
                    "SELECT contract, account, first_block, last_block, last_hash "
                    "FROM holdings ORDER BY contract, account"
                )
            ],
            changes=[
                (int(n), str(c), str(a), str(h), None if p is None else int(p))
                for n, c, a, h, p in con.execute(
                    "SELECT block_number, contract, account, block_hash, prev_block "
                    "FROM changes ORDER BY block_number, contract, account"
                )
            ],
            blocks=[
                (int(n), str(h), str(p))
                for n, h, p in con.execute(
                    "SELECT number, hash, parent_hash FROM blocks ORDER BY number"
                )
            ],
        )

    # -- writes ------------------------------------------------------------------------------

    def apply(
        self, blocks: Sequence[BlockLogs], cursor: Cursor, *, head: int | None = None
    ) -> None:
        """Index ``blocks`` (ascending, extending the cursor) and move the cursor, atomically.

        ``cursor`` must name the last of ``blocks``. Blocks may be sparse (a backfill range
        holds the blocks with logs and its end block), but consecutive numbers must link by
        parent hash, also to the current cursor. ``head`` (the chain head the caller saw)
        sets how far the reorg journal must reach: blocks more than ``retention`` below it
        are final and are not journaled.
        """
        if not blocks or blocks[-1].number != cursor.number or blocks[-1].hash != cursor.hash:
            raise ValueError("cursor must name the last block of `blocks`")
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            self._apply(blocks, cursor, head)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            self._ids.clear()  # it may hold ids of addresses whose insert was rolled back
            raise

    def _resolve(self, addresses: set[str]) -> dict[str, int]:
        """address -> id for (at least) ``addresses``, inserting the new ones."""
        cache = self._ids
        missing = cache.lookup(addresses)
        ids = cache.young
        if missing:
            con = self.con
            con.executemany(
                "INSERT INTO staged_address(address) VALUES (?)", [(a,) for a in missing]
            )
            con.execute(
                "INSERT OR IGNORE INTO addresses(address) SELECT address FROM staged_address"
            )
            ids.update(
                con.execute(
                    "SELECT s.address, a.id FROM staged_address s "
                    "JOIN addresses a ON a.address = s.address"
                )
            )
            con.execute("DELETE FROM staged_address")
        return ids

    def _apply(self, blocks: Sequence[BlockLogs], cursor: Cursor, head: int | None) -> None:
        con = self.con
        current = self.cursor()
        problem = batch.chain_break(current, blocks)
        if problem is not None:
            raise ChainMismatch(problem)
        stored_floor = self.floor()
        old_floor = None if current is None else stored_floor
        floor = batch.next_floor(old_floor, blocks[0].number, cursor.number, head, self.retention)

        first, last = batch.fold_transfers(blocks)
        ids = self._resolve(batch.pair_addresses(last.keys()))
        touched = batch.holding_rows(first, last, ids)
        if not self._bulk:
            # In key order neighbouring rows share B-tree pages: fewer page visits in the
            # three trees (with only the primary key, in a bulk load, it does not pay).
            touched.sort()

        journal = self._journal_rows(blocks, floor, ids) if blocks[-1].number > floor else []
        if touched:
            con.executemany(
                "INSERT INTO holding(contract, account, first_block, last_block) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(contract, account) DO UPDATE SET "
                "last_block = excluded.last_block",
                touched,
            )
        if journal:
            con.executemany(
                "INSERT INTO journal(block_number, contract, account, prev_block) "
                "VALUES (?, ?, ?, ?)",
                journal,
            )
        con.executemany(
            "INSERT INTO blocks(number, hash, parent_hash, transfers) VALUES (?, ?, ?, ?)",
            [
                (b.number, b.hash, b.parent_hash, len(b.transfers))
                for b in batch.kept_blocks(blocks, floor, cursor.number)
            ],
        )
        con.execute(
            "INSERT INTO cursor(network, number, hash) VALUES (?, ?, ?) "
            "ON CONFLICT(network) DO UPDATE SET number = excluded.number, hash = excluded.hash",
            (self.network, cursor.number, cursor.hash),
        )
        if floor != stored_floor:
            con.execute("DELETE FROM journal WHERE block_number <= ?", (floor,))
            # Blocks without logs below the old floor are gone already: look above it only.
            con.execute(
                "DELETE FROM blocks WHERE number < ? AND number >= ? AND transfers = 0",
                (floor, -1 if stored_floor is None else stored_floor),
            )
            self._set_meta("floor", str(floor))

    def _journal_rows(
        self, blocks: Sequence[BlockLogs], floor: int, ids: dict[str, int]
    ) -> list[batch.JournalRow]:
        """Undo rows for the pairs touched in blocks above ``floor``: their last change before."""
        touched_in, wanted = batch.pairs_by_block(blocks, floor, ids)
        if not wanted:
            return []
        con = self.con
        con.executemany("INSERT INTO staged_pair(contract, account) VALUES (?, ?)", wanted)
        stored = con.execute(
            "SELECT s.contract, s.account, h.last_block FROM staged_pair s "
            "JOIN holding h ON h.contract = s.contract AND h.account = s.account"
        ).fetchall()
        con.execute("DELETE FROM staged_pair")
        return batch.undo_rows(touched_in, floor, wanted, stored)

    def rollback_to(self, number: int) -> Cursor:
        """Forget every block above ``number`` (a block we stored) and restore holdings."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            result = self._rollback_to(number)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return result

    def _rollback_to(self, number: int) -> Cursor:
        con = self.con
        current = self.cursor()
        if current is None:
            raise IndexStoreError("nothing indexed yet")
        if number >= current.number:
            if number == current.number:
                return current
            raise IndexStoreError(f"block {number} is above the cursor {current.number}")
        floor = self.floor()
        if floor is not None and number < floor:
            raise ReorgTooDeep(
                f"rollback to block {number} is below the journal floor {floor}; re-index"
            )
        block_hash = self.block_hash(number)
        if block_hash is None:
            raise IndexStoreError(f"block {number} is not a stored block; cannot roll back to it")
        gone, back = batch.restore_plan(
            con.execute(
                "SELECT contract, account, prev_block FROM journal "
                "WHERE block_number > ? ORDER BY block_number DESC",
                (number,),
            )
        )
        con.executemany("DELETE FROM holding WHERE contract = ? AND account = ?", gone)
        con.executemany(
            "UPDATE holding SET last_block = ?3 WHERE contract = ?1 AND account = ?2", back
        )
        con.execute("DELETE FROM journal WHERE block_number > ?", (number,))
        con.execute("DELETE FROM blocks WHERE number > ?", (number,))
        con.execute(
            "UPDATE cursor SET number = ?, hash = ? WHERE network = ?",
            (number, block_hash, self.network),
        )
        return Cursor(number, block_hash)


class SqliteStore:
    """:class:`IndexStore` over SQLite, off the event loop.

    Writes go through one writer thread (one connection); reads through ``readers`` threads,
    each with its own read-only connection.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        network: str = "default",
        retention: int = DEFAULT_RETENTION,
        readers: int = 4,
        cache_mb: int = 256,
        address_cache: int = DEFAULT_ADDRESS_CACHE,
    ) -> None:
        self.path = str(path)
        self.network = network
        self.retention = retention
        # Created here (schema, checks) so a bad file fails at construction; then handed to
        # the writer thread, the only thread that uses it from now on.
        self._writer_index = SqliteIndex(
            self.path,
            network=network,
            retention=retention,
            cache_mb=cache_mb,
            address_cache=address_cache,
        )
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-writer")
        self._readers = ThreadPoolExecutor(
            max_workers=max(1, readers), thread_name_prefix="index-reader"
        )
        self._local = threading.local()
        self._reader_indexes: list[SqliteIndex] = []
        self._lock = threading.Lock()
        self._closed = False

    def _reader(self) -> SqliteIndex:
        index: SqliteIndex | None = getattr(self._local, "index", None)
        if index is None:
            index = SqliteIndex(
                self.path, network=self.network, retention=self.retention, readonly=True
            )
            self._local.index = index
            with self._lock:
                self._reader_indexes.append(index)
        return index

    async def _write(self, fn: Callable[[SqliteIndex], T]) -> T:
        if self._closed:
            raise IndexStoreError("store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, fn, self._writer_index)

    async def _read(self, fn: Callable[[SqliteIndex], T]) -> T:
        if self._closed:
            raise IndexStoreError("store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))

    # Reads of the index's own progress go through the writer, so they see its last commit
    # in order with the writes queued before them.
    async def cursor(self) -> Cursor | None:
        return await self._write(SqliteIndex.cursor)

    async def floor(self) -> int | None:
        return await self._write(SqliteIndex.floor)

    async def bulk(self) -> bool:
        return await self._write(SqliteIndex.bulk)

    async def set_bulk(self, on: bool) -> None:
        await self._write(lambda i: i.set_bulk(on))

    async def block_hash(self, number: int) -> str | None:
        return await self._write(lambda i: i.block_hash(number))

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        return await self._write(lambda i: i.recent_blocks(below, limit))

    async def get_meta(self, key: str) -> str | None:
        return await self._write(lambda i: i.get_meta(key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda i: i.set_meta(key, value))

    async def apply(
        self, blocks: Sequence[BlockLogs], cursor: Cursor, *, head: int | None = None
    ) -> None:
        await self._write(lambda i: i.apply(blocks, cursor, head=head))

    async def rollback_to(self, number: int) -> Cursor:
        return await self._write(lambda i: i.rollback_to(number))

    async def tokens_of(self, account: str) -> list[TokenHolding]:
        return await self._read(lambda i: i.tokens_of(account))

    async def holders(
        self, contract: str, after: str | None = None, limit: int = 100
    ) -> list[Holder]:
        return await self._read(lambda i: i.holders(contract, after, limit))

    async def changed_since(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[Change]:
        return await self._read(lambda i: i.changed_since(contract, after_block, page_after, limit))

    async def account_tokens(
        self, account: str, at_block: int | None = None
    ) -> Snapshot[list[AccountToken]]:
        return await self._read(lambda i: i.account_tokens(account, at_block))

    async def contract_holders(
        self, contract: str, after: str | None = None, limit: int = 100, at_block: int | None = None
    ) -> Snapshot[list[Holder]]:
        return await self._read(lambda i: i.contract_holders(contract, after, limit, at_block))

    async def holder_count(self, contract: str, at_block: int | None = None) -> Snapshot[int]:
        return await self._read(lambda i: i.holder_count(contract, at_block))

    async def balance_changes(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Snapshot[list[Change]]:
        return await self._read(
            lambda i: i.balance_changes(contract, after_block, page_after, limit)
        )

    async def dump(self) -> IndexDump:
        return await self._write(SqliteIndex.dump)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._writer_index.close)
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            for index in self._reader_indexes:
                index.close()
            self._reader_indexes.clear()


def open_dump(path: str | Path, network: str = "default") -> IndexDump:
    """Read a whole index file (tests and tools); read-only."""
    index = SqliteIndex(path, network=network, readonly=True)
    try:
        return index.dump()
    finally:
        index.close()
