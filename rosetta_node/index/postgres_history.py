"""The history index in PostgreSQL: in the Transfer index's schema, shared by API replicas.

Same tables and promises as SQLite's (:mod:`.history_model`), same SQL (:mod:`.history_sql`);
connections, transactions and the writer lock are :class:`~.postgres_session.PostgresSession`'s.
The history has its own advisory lock (another key of the same schema): one replica follows
the history, possibly another the Transfer index; both add to the shared ``addresses``.
Rows travel as arrays (``unnest``): an ``apply`` is a handful of statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import checks, history_rows, history_sql
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
from .model import Cursor, IndexStoreError
from .postgres_session import Connection, PostgresSession, columns, lock_key

_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.history_cursor(
    network text PRIMARY KEY, number bigint NOT NULL, hash text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.history_blocks(
    number bigint PRIMARY KEY, hash text NOT NULL, parent_hash text NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.history_txs(
    block_number bigint NOT NULL,
    tx_index integer NOT NULL,
    hash text COLLATE "C" NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY(block_number, tx_index));
CREATE TABLE IF NOT EXISTS {s}.history_ops(
    account bigint NOT NULL,
    block_number bigint NOT NULL,
    tx_index integer NOT NULL,
    op_index integer NOT NULL,
    currency bigint NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    amount text NOT NULL,
    PRIMARY KEY(block_number, tx_index, op_index));
CREATE TABLE IF NOT EXISTS {s}.history_events(
    sequence bigint PRIMARY KEY,
    kind smallint NOT NULL,
    number bigint NOT NULL,
    hash text NOT NULL);
"""
_INSERT_BLOCKS = (
    "INSERT INTO {s}.history_blocks(number, hash, parent_hash) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[])"
)
_INSERT_TXS = (
    "INSERT INTO {s}.history_txs(block_number, tx_index, hash, body) "
    "SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bytea[])"
)
_INSERT_OPS = (
    "INSERT INTO {s}.history_ops(account, block_number, tx_index, op_index, currency, type, "
    "status, amount) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::integer[], "
    "$4::integer[], $5::bigint[], $6::text[], $7::text[], $8::text[])"
)
_INSERT_EVENTS = (
    "INSERT INTO {s}.history_events(sequence, kind, number, hash) "
    "SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::bigint[], $4::text[])"
)


async def _insert(con: Connection, statement: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        await con.execute(statement, *columns(rows))


class PostgresHistoryStore(PostgresSession):
    """:class:`~.history_model.HistoryStore` in PostgreSQL."""

    def __init__(
        self, dsn: str, *, network: str = "default", readers: int = 4, schema: str | None = None
    ) -> None:
        super().__init__(dsn, network=network, readers=readers, schema=schema)
        self.lock_key = lock_key("history writer", self.schema)

    async def _init_schema(self, con: Connection) -> None:
        await super()._init_schema(con)  # the Transfer index's tables, version and owner
        async with con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", self._init_key)
            await con.execute(self._sql(_TABLES))
            for statement in history_sql.INDEXES:
                await con.execute(self._sql(statement))
            version = await self._meta(con, "history_schema_version")
            if version is None:
                await self._set_meta(con, "history_schema_version", str(HISTORY_SCHEMA_VERSION))
            elif version != str(HISTORY_SCHEMA_VERSION):
                raise IndexStoreError(
                    f"{self.label} schema {self.schema}: history schema version {version}, "
                    f"this code reads {HISTORY_SCHEMA_VERSION}; re-index into a new schema"
                )
            others = await con.fetch(self._sql(history_sql.OTHER_NETWORKS), self.network)
            if others:
                raise IndexStoreError(
                    f"{self.label} schema {self.schema}: holds the history of network "
                    f"{others[0]['network']!r}, not {self.network!r}"
                )

    # -- small reads and writes (through the writer connection, in order with writes) -----

    async def _history_cursor(self, con: Connection) -> Cursor | None:
        row = await con.fetchrow(self._sql(history_sql.CURSOR), self.network)
        return None if row is None else Cursor(int(row[0]), str(row[1]))

    async def cursor(self) -> Cursor | None:
        return await self._progress(self._history_cursor)

    async def floor(self) -> int | None:
        return None  # every block is kept: any reorg can be undone

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        upto = history_sql.UPTO_ALL if below is None else below

        async def read(con: Connection) -> list[Cursor]:
            rows = await con.fetch(self._sql(history_sql.RECENT_BLOCKS), upto, limit)
            return [Cursor(int(n), str(h)) for n, h in rows]

        return await self._progress(read)

    async def get_meta(self, key: str) -> str | None:
        return await self._progress(lambda con: self._meta(con, key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda con: self._set_meta(con, key, value))

    async def _next_sequence(self, con: Connection) -> int:
        last = await con.fetchval(self._sql(history_sql.LAST_SEQUENCE))
        return 0 if last is None else int(last) + 1

    # -- apply and rollback ------------------------------------------------------------------

    async def apply(self, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None:
        """Store ``blocks``, their events and the cursor in one transaction (as SQLite)."""
        checks.check_batch(blocks, cursor)
        await self._write(lambda con: self._apply(con, blocks, cursor))

    async def _apply(self, con: Connection, blocks: Sequence[HistoryBlock], cursor: Cursor) -> None:
        checks.check_extends(await self._history_cursor(con), blocks, contiguous=True)
        ids = await self._resolve(con, history_rows.addresses(blocks))
        await _insert(con, self._sql(_INSERT_BLOCKS), history_rows.block_rows(blocks))
        await _insert(con, self._sql(_INSERT_TXS), history_rows.tx_rows(blocks))
        await _insert(con, self._sql(_INSERT_OPS), history_rows.op_rows(blocks, ids))
        added = [(b.number, b.hash) for b in blocks if b.transactions is not None]
        first = await self._next_sequence(con)
        await _insert(con, self._sql(_INSERT_EVENTS), history_sql.added_events(first, added))
        await con.execute(
            self._sql(history_sql.SET_CURSOR), self.network, cursor.number, cursor.hash
        )

    async def rollback_to(self, number: int) -> Cursor:
        return await self._write(lambda con: self._rollback_to(con, number))

    async def _rollback_to(self, con: Connection, number: int) -> Cursor:
        done = checks.rollback_done(await self._history_cursor(con), None, number)
        if done is not None:
            return done
        stored = await con.fetchval(self._sql(history_sql.BLOCK_HASH), number)
        target = checks.rollback_target(number, None if stored is None else str(stored))
        removed = await con.fetch(self._sql(history_sql.BLOCKS_ABOVE), number)
        first = await self._next_sequence(con)
        events = [(first + i, REMOVED, int(n), str(h)) for i, (n, h) in enumerate(removed)]
        await _insert(con, self._sql(_INSERT_EVENTS), events)
        for statement in history_sql.DROP_ABOVE:
            await con.execute(self._sql(statement), number)
        await con.execute(
            self._sql(history_sql.SET_CURSOR), self.network, target.number, target.hash
        )
        return target

    # -- queries (each in one REPEATABLE READ transaction with the cursor) --------------------

    async def _run(
        self, query: HistoryQuery | TransferQuery
    ) -> tuple[Cursor | None, int, list[Any]]:
        """The query's count and page rows, in one read transaction with the cursor."""

        async def read(con: Connection) -> tuple[Cursor | None, int, list[Any]]:
            cursor = await self._history_cursor(con)
            if cursor is None:
                return None, 0, []
            top = cursor.number if query.max_block is None else min(query.max_block, cursor.number)
            ids: dict[str, int | None] = {}
            if isinstance(query, HistoryQuery):
                named = (query.account, query.address, query.currency, *(query.currencies or ()))
            else:
                named = (query.address, query.contract)
            for address in named:
                if address:
                    ids[address] = await self._address_id(con, address)
            found: history_sql.Search | history_sql.TransferSearch
            if isinstance(query, HistoryQuery):
                found = history_sql.Search(query, top, ids.__getitem__)
            else:
                found = history_sql.TransferSearch(query, top, ids.__getitem__)
            total = int(await con.fetchval(self._sql(found.count), *found.count_params))
            return cursor, total, list(await con.fetch(self._sql(found.page), *found.params))

        return await self._read(read)

    async def search(self, query: HistoryQuery) -> HistoryPage:
        cursor, total, rows = await self._run(query)
        page = history_sql.found_transactions(rows)
        return HistoryPage(
            cursor, total, history_sql.next_offset(query.offset, len(page), total), page
        )

    async def transfers(self, query: TransferQuery) -> TransferPage:
        cursor, total, rows = await self._run(query)
        page = history_sql.found_transfers(rows)
        return TransferPage(
            cursor, total, history_sql.next_offset(query.offset, len(page), total), page
        )

    async def events(self, offset: int | None, limit: int) -> EventPage:
        async def read(con: Connection) -> EventPage:
            cursor = await self._history_cursor(con)
            last = await self._next_sequence(con) - 1
            start = max(0, last - limit + 1) if offset is None else offset
            rows = await con.fetch(self._sql(history_sql.EVENTS), start, limit)
            return EventPage(
                cursor, None if last < 0 else last, [history_sql.event(r) for r in rows]
            )

        return await self._read(read)

    async def dump(self) -> HistoryDump:
        async def read(con: Connection) -> HistoryDump:
            blocks = await con.fetch(self._sql(history_sql.DUMP_BLOCKS))
            txs = await con.fetch(self._sql(history_sql.DUMP_TXS))
            ops = await con.fetch(self._sql(history_sql.DUMP_OPS))
            return HistoryDump(
                await self._history_cursor(con),
                [(int(n), str(h), str(p)) for n, h, p in blocks],
                [(int(n), int(i), str(h), bytes(b)) for n, i, h, b in txs],
                [
                    (str(a), int(n), int(i), int(o), str(c), str(t), str(s), str(v))
                    for a, n, i, o, c, t, s, v in ops
                ],
            )

        return await self._read(read)
