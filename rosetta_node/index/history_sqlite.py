"""The history index in SQLite: in the Transfer index's file, with its own connection.

:class:`SqliteHistory` is the synchronous implementation over one connection (tests, bench);
:class:`SqliteHistoryStore` the async :class:`~.history_model.HistoryStore` for the event loop,
on :class:`~.sqlite.ThreadedSqlite`'s threads like the Transfer store. Opening a history
first opens the file as a Transfer index of the same network (its schema, version and owner
checks, the shared ``addresses`` and ``meta`` tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import checks, history_rows, history_sql, sql
from .batch import AddressIds
from .history_model import (
    HISTORY_SCHEMA_VERSION,
    REMOVED,
    EventPage,
    HistoryBlock,
    HistoryDump,
    HistoryPage,
    HistoryQuery,
    TransferPage,
    TransferQuery,
)
from .model import DEFAULT_ADDRESS_CACHE, Cursor, IndexStoreError
from .sql import for_sqlite as _q
from .sqlite import ThreadedSqlite
from .sqlite_index import STAGING, SqliteIndex, resolve_ids
from .sqlite_reads import connect, read_transaction, write_transaction

_TABLES = """
CREATE TABLE IF NOT EXISTS history_cursor(
    network TEXT PRIMARY KEY, number INTEGER NOT NULL, hash TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_blocks(
    number INTEGER PRIMARY KEY, hash TEXT NOT NULL, parent_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history_txs(
    block_number INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    hash TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY(block_number, tx_index));
CREATE TABLE IF NOT EXISTS history_ops(
    account INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    tx_index INTEGER NOT NULL,
    op_index INTEGER NOT NULL,
    currency INTEGER NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY(block_number, tx_index, op_index)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS history_events(
    sequence INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    number INTEGER NOT NULL,
    hash TEXT NOT NULL);
"""
_SCHEMA = [s for s in _TABLES.split(";") if s.strip()] + [_q(i) for i in history_sql.INDEXES]


class SqliteHistory:
    """The history over one SQLite connection; synchronous and not thread-safe."""

    def __init__(
        self,
        path: str | Path,
        *,
        network: str = "default",
        readonly: bool = False,
        cache_mb: int = 64,
        address_cache: int = DEFAULT_ADDRESS_CACHE,
    ) -> None:
        self.path = str(path)
        self.network = network
        if not readonly:
            SqliteIndex(self.path, network=network).close()  # the shared tables and checks
        self.con = connect(self.path, readonly=readonly, cache_mb=cache_mb)
        self._ids = AddressIds(address_cache)
        if not readonly:
            self._init_schema()

    def close(self) -> None:
        self.con.close()

    def _init_schema(self) -> None:
        con = self.con
        with write_transaction(con):
            for statement in _SCHEMA:
                con.execute(statement)
            version = self.get_meta("history_schema_version")
            if version is None:
                con.execute(_q(sql.SET_META), ("history_schema_version", "1"))
            elif version != str(HISTORY_SCHEMA_VERSION):
                raise IndexStoreError(
                    f"{self.path}: history schema version {version}, this code reads "
                    f"{HISTORY_SCHEMA_VERSION}; re-index into a new file"
                )
            others = con.execute(_q(history_sql.OTHER_NETWORKS), (self.network,)).fetchall()
            if others:
                raise IndexStoreError(
                    f"{self.path}: holds the history of network {others[0][0]!r}, not "
                    f"{self.network!r}; use one file per network"
                )
        for statement in STAGING:
            con.execute(statement)

    # -- small reads and writes --------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.con.execute(_q(sql.META), (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with write_transaction(self.con):
            self.con.execute(_q(sql.SET_META), (key, value))

    def cursor(self) -> Cursor | None:
        row = self.con.execute(_q(history_sql.CURSOR), (self.network,)).fetchone()
        return None if row is None else Cursor(int(row[0]), str(row[1]))

    def floor(self) -> int | None:
        return None  # every block is kept: any reorg can be undone

    def block_hash(self, number: int) -> str | None:
        row = self.con.execute(_q(history_sql.BLOCK_HASH), (number,)).fetchone()
        return None if row is None else str(row[0])

    def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        upto = history_sql.UPTO_ALL if below is None else below
        rows = self.con.execute(_q(history_sql.RECENT_BLOCKS), (upto, limit)).fetchall()
        return [Cursor(int(n), str(h)) for n, h in rows]

    def _next_sequence(self) -> int:
        last = self.con.execute(_q(history_sql.LAST_SEQUENCE)).fetchone()[0]
        return 0 if last is None else int(last) + 1

    # -- apply and rollback ------------------------------------------------------------------

    def apply(self, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None:
        """Store ``blocks`` (contiguous, extending the cursor), their events and the cursor,
        in one transaction."""
        checks.check_batch(blocks, cursor)
        try:
            with write_transaction(self.con):
                self._apply(blocks, cursor)
        except BaseException:
            self._ids.clear()  # it may hold ids of addresses whose insert was rolled back
            raise

    def _apply(self, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None:
        con = self.con
        checks.check_extends(self.cursor(), blocks, contiguous=True)
        ids = resolve_ids(con, self._ids, history_rows.addresses(blocks))
        con.executemany(
            "INSERT INTO history_blocks(number, hash, parent_hash) VALUES (?, ?, ?)",
            history_rows.block_rows(blocks),
        )
        con.executemany(
            "INSERT INTO history_txs(block_number, tx_index, hash, body) VALUES (?, ?, ?, ?)",
            history_rows.tx_rows(blocks),
        )
        con.executemany(
            "INSERT INTO history_ops(account, block_number, tx_index, op_index, currency, "
            "type, status, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            history_rows.op_rows(blocks, ids),
        )
        added = [(b.number, b.hash) for b in blocks if b.transactions is not None]
        con.executemany(
            "INSERT INTO history_events(sequence, kind, number, hash) VALUES (?, ?, ?, ?)",
            history_sql.added_events(self._next_sequence(), added),
        )
        con.execute(_q(history_sql.SET_CURSOR), (self.network, cursor.number, cursor.hash))

    def rollback_to(self, number: int) -> Cursor:
        """Forget every block above ``number`` (a stored block), one event per block."""
        with write_transaction(self.con):
            con = self.con
            done = checks.rollback_done(self.cursor(), None, number)
            if done is not None:
                return done
            target = checks.rollback_target(number, self.block_hash(number))
            removed = con.execute(_q(history_sql.BLOCKS_ABOVE), (number,)).fetchall()
            first = self._next_sequence()
            con.executemany(
                "INSERT INTO history_events(sequence, kind, number, hash) VALUES (?, ?, ?, ?)",
                [(first + i, REMOVED, n, h) for i, (n, h) in enumerate(removed)],
            )
            for statement in history_sql.DROP_ABOVE:
                con.execute(_q(statement), (number,))
            con.execute(_q(history_sql.SET_CURSOR), (self.network, target.number, target.hash))
            return target

    # -- queries (each in one read transaction with the cursor) ------------------------------

    def _address_id(self, address: str) -> int | None:
        row = self.con.execute(_q(history_sql.ADDRESS_ID), (address,)).fetchone()
        return None if row is None else int(row[0])

    def _run(self, query: HistoryQuery | TransferQuery) -> tuple[Cursor | None, int, list[Any]]:
        """The query's count and page rows, in one read transaction with the cursor."""
        with read_transaction(self.con):
            cursor = self.cursor()
            if cursor is None:
                return None, 0, []
            upto = cursor.number if query.max_block is None else min(query.max_block, cursor.number)
            if isinstance(query, HistoryQuery):
                found: history_sql.Search | history_sql.TransferSearch = history_sql.Search(
                    query, upto, self._address_id
                )
            else:
                found = history_sql.TransferSearch(query, upto, self._address_id)
            total = int(self.con.execute(_q(found.count), found.count_params).fetchone()[0])
            return cursor, total, self.con.execute(_q(found.page), found.params).fetchall()

    def search(self, query: HistoryQuery) -> HistoryPage:
        cursor, total, rows = self._run(query)
        page = history_sql.found_transactions(rows)
        return HistoryPage(
            cursor, total, history_sql.next_offset(query.offset, len(page), total), page
        )

    def transfers(self, query: TransferQuery) -> TransferPage:
        cursor, total, rows = self._run(query)
        page = history_sql.found_transfers(rows)
        return TransferPage(
            cursor, total, history_sql.next_offset(query.offset, len(page), total), page
        )

    def events(self, offset: int | None, limit: int) -> EventPage:
        with read_transaction(self.con):
            cursor = self.cursor()
            last = self._next_sequence() - 1
            if offset is None:  # the last ``limit`` events
                offset = max(0, last - limit + 1)
            rows = self.con.execute(_q(history_sql.EVENTS), (offset, limit)).fetchall()
        events = [history_sql.event(row) for row in rows]
        return EventPage(cursor, None if last < 0 else last, events)

    def dump(self) -> HistoryDump:
        con = self.con
        with read_transaction(con):
            return HistoryDump(
                self.cursor(),
                [(int(n), str(h), str(p)) for n, h, p in con.execute(_q(history_sql.DUMP_BLOCKS))],
                [
                    (int(n), int(i), str(h), bytes(b))
                    for n, i, h, b in con.execute(_q(history_sql.DUMP_TXS))
                ],
                [
                    (str(a), int(n), int(i), int(o), str(c), str(t), str(s), str(v))
                    for a, n, i, o, c, t, s, v in con.execute(_q(history_sql.DUMP_OPS))
                ],
            )


class SqliteHistoryStore(ThreadedSqlite[SqliteHistory]):
    """:class:`~.history_model.HistoryStore` over SQLite, off the event loop."""

    def __init__(self, path: str | Path, *, network: str = "default", readers: int = 2) -> None:
        self.path = str(path)
        self.network = network
        super().__init__(
            SqliteHistory(self.path, network=network),
            lambda: SqliteHistory(self.path, network=network, readonly=True),
            readers,
            "history",
        )

    # The follower's reads go through the writer: they see its last commit in order.
    async def cursor(self) -> Cursor | None:
        return await self._write(SqliteHistory.cursor)

    async def floor(self) -> int | None:
        return None

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        return await self._write(lambda h: h.recent_blocks(below, limit))

    async def get_meta(self, key: str) -> str | None:
        return await self._write(lambda h: h.get_meta(key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda h: h.set_meta(key, value))

    async def apply(self, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None:
        await self._write(lambda h: h.apply(blocks, cursor))

    async def rollback_to(self, number: int) -> Cursor:
        return await self._write(lambda h: h.rollback_to(number))

    async def search(self, query: HistoryQuery) -> HistoryPage:
        return await self._read(lambda h: h.search(query))

    async def transfers(self, query: TransferQuery) -> TransferPage:
        return await self._read(lambda h: h.transfers(query))

    async def events(self, offset: int | None, limit: int) -> EventPage:
        return await self._read(lambda h: h.events(offset, limit))

    async def dump(self) -> HistoryDump:
        return await self._write(SqliteHistory.dump)


def open_history_dump(path: str | Path, network: str = "default") -> HistoryDump:
    """Read a whole history (tests and tools); read-only."""
    history = SqliteHistory(path, network=network, readonly=True)
    try:
        return history.dump()
    finally:
        history.close()
