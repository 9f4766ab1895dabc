"""The SQLite index over one connection, synchronously: its schema and its writes.

:class:`SqliteIndex` adds to :class:`~.sqlite_reads.SqliteReads` the tables (created on open,
checked for version and network), bulk mode, ``apply`` and ``rollback_to``, each one SQLite
transaction. Import it from :mod:`.sqlite`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from . import batch, checks, sql
from .model import (
    DEFAULT_ADDRESS_CACHE,
    DEFAULT_RETENTION,
    SCHEMA_VERSION,
    BlockLogs,
    Cursor,
    IndexStoreError,
)
from .sql import for_sqlite as _q
from .sqlite_reads import SqliteReads, write_transaction

_TABLES = """
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
"""
_SCHEMA = [s for s in _TABLES.split(";") if s.strip()] + [
    "CREATE VIEW IF NOT EXISTS " + _q(view) for view in sql.VIEWS
]
_INDEXES = {name: _q(statement) for name, statement in sql.INDEXES.items()}

# Per connection: the addresses and pairs of a batch, joined against the tables.
STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_address(address TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS staged_pair(contract INTEGER, account INTEGER, "
    "PRIMARY KEY(contract, account)) WITHOUT ROWID",
)


def resolve_ids(
    con: sqlite3.Connection, cache: batch.AddressIds, addresses: set[str]
) -> dict[str, int]:
    """address -> id for (at least) ``addresses``, inserting the new ones (in the caller's
    write transaction; the connection has the ``STAGING`` tables)."""
    missing = cache.lookup(addresses)
    ids = cache.young
    if missing:
        con.executemany("INSERT INTO staged_address(address) VALUES (?)", [(a,) for a in missing])
        con.execute("INSERT OR IGNORE INTO addresses(address) SELECT address FROM staged_address")
        ids.update(
            con.execute(
                "SELECT s.address, a.id FROM staged_address s "
                "JOIN addresses a ON a.address = s.address"
            )
        )
        con.execute("DELETE FROM staged_address")
    return ids


class SqliteIndex(SqliteReads):
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
        super().__init__(path, network=network, readonly=readonly, cache_mb=cache_mb)
        self.retention = retention
        self._ids = batch.AddressIds(address_cache)
        if not readonly:
            self._init_schema()
            self.bulk()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with write_transaction(self.con):
            yield

    # -- setup -------------------------------------------------------------------------------

    def _init_schema(self) -> None:
        con = self.con
        with self._transaction():
            for statement in _SCHEMA:
                con.execute(statement)
            if self._meta("bulk") is None:
                for statement in _INDEXES.values():
                    con.execute(statement)
            self._check_owner()
        for statement in STAGING:
            con.execute(statement)

    def _check_owner(self) -> None:
        """Stamp a new file with the schema version; refuse another version or network."""
        version = self._meta("schema_version")
        if version is None:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
        elif version != str(SCHEMA_VERSION):
            raise IndexStoreError(
                f"{self.path}: index schema version {version}, this code reads "
                f"{SCHEMA_VERSION}; re-index into a new file"
            )
        others = self.con.execute(_q(sql.OTHER_NETWORKS), (self.network,)).fetchall()
        if others:
            raise IndexStoreError(
                f"{self.path}: holds the index of network {others[0][0]!r}, not "
                f"{self.network!r}; use one file per network"
            )

    # -- small writes ------------------------------------------------------------------------

    def _set_meta(self, key: str, value: str) -> None:
        self.con.execute(_q(sql.SET_META), (key, value))

    def set_meta(self, key: str, value: str) -> None:
        with self._transaction():
            self._set_meta(key, value)

    def set_bulk(self, on: bool) -> None:
        """Bulk load: drop the query indexes (writes get much cheaper), or build them back.

        For a long backfill, far from the head. Meanwhile ``tokens_of`` and ``changed_since``
        scan instead of seeking (slow on a big index), and the state survives restarts until
        it is turned off, which builds the indexes (a sort of the table, minutes for a
        mainnet-sized one).
        """
        con = self.con
        try:
            with self._transaction():
                if on:
                    for name in _INDEXES:
                        con.execute(_q(sql.DROP_INDEX).format(name=name))
                    self._set_meta("bulk", "1")
                else:
                    for statement in _INDEXES.values():
                        con.execute(statement)
                    con.execute(_q(sql.END_BULK))
        finally:
            self.bulk()

    # -- apply -------------------------------------------------------------------------------

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
        checks.check_batch(blocks, cursor)
        try:
            with self._transaction():
                self._apply(blocks, cursor, head)
        except BaseException:
            self._ids.clear()  # it may hold ids of addresses whose insert was rolled back
            raise

    def _resolve(self, addresses: set[str]) -> dict[str, int]:
        return resolve_ids(self.con, self._ids, addresses)

    def _apply(self, blocks: Sequence[BlockLogs], cursor: Cursor, head: int | None) -> None:
        con = self.con
        current = self.cursor()
        stored_floor = self.floor()
        floor = checks.apply_floor(current, stored_floor, blocks, cursor, head, self.retention)

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
        con.execute(_q(sql.SET_CURSOR), (self.network, cursor.number, cursor.hash))
        if floor != stored_floor:
            con.execute(_q(sql.PRUNE_JOURNAL), (floor,))
            con.execute(_q(sql.PRUNE_BLOCKS), (floor, -1 if stored_floor is None else stored_floor))
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

    # -- rollback ----------------------------------------------------------------------------

    def rollback_to(self, number: int) -> Cursor:
        """Forget every block above ``number`` (a block we stored) and restore holdings."""
        with self._transaction():
            return self._rollback_to(number)

    def _rollback_to(self, number: int) -> Cursor:
        con = self.con
        current = self.cursor()
        done = checks.rollback_done(current, self.floor(), number)
        if done is not None:
            return done
        target = checks.rollback_target(number, self.block_hash(number))
        gone, back = batch.restore_plan(con.execute(_q(sql.UNDO_JOURNAL), (number,)))
        con.executemany("DELETE FROM holding WHERE contract = ? AND account = ?", gone)
        con.executemany(
            "UPDATE holding SET last_block = ?3 WHERE contract = ?1 AND account = ?2", back
        )
        con.execute(_q(sql.DROP_JOURNAL_ABOVE), (number,))
        con.execute(_q(sql.DROP_BLOCKS_ABOVE), (number,))
        con.execute(_q(sql.MOVE_CURSOR), (target.number, target.hash, self.network))
        return target
