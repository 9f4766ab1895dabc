"""The Transfer-log index in PostgreSQL: several API replicas share one index.

Same logical model and semantics as SQLite's (:mod:`.model`): ``addresses``, ``holding``,
``journal``, ``blocks``, ``cursor`` and ``meta`` tables, the ``holdings`` and ``changes``
views, the floor ``retention`` blocks below the head, one transaction per
``apply``/``rollback_to`` that moves holdings, journal, blocks and cursor together. The
schema per network, the writer lock and the transactions: :mod:`.postgres_session`.

Writes are batched: a whole ``apply`` is a handful of statements whose rows travel as arrays
(``unnest``), whatever the number of blocks and logs. Bulk mode drops the two query indexes
and builds them back, as in SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import batch, checks, sql
from .model import (
    AccountToken,
    BlockLogs,
    Change,
    Cursor,
    Holder,
    IndexDump,
    Snapshot,
    TokenHolding,
    WriterBusy,
)
from .postgres_session import Connection, PostgresSession, columns, redact_dsn, schema_name

__all__ = ["PostgresStore", "WriterBusy", "redact_dsn", "schema_name"]

_UNNEST_HOLDING = (
    "INSERT INTO {s}.holding(contract, account, first_block, last_block) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[]) "
    "ON CONFLICT(contract, account) DO UPDATE SET last_block = excluded.last_block"
)
_UNNEST_JOURNAL = (
    "INSERT INTO {s}.journal(block_number, contract, account, prev_block) "
    "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])"
)
_UNNEST_BLOCKS = (
    "INSERT INTO {s}.blocks(number, hash, parent_hash, transfers) "
    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[])"
)
_STORED_PAIRS = (
    "SELECT h.contract, h.account, h.last_block FROM {s}.holding h "
    "JOIN unnest($1::bigint[], $2::bigint[]) AS s(contract, account) "
    "ON h.contract = s.contract AND h.account = s.account"
)
_DELETE_PAIRS = (
    "DELETE FROM {s}.holding h USING unnest($1::bigint[], $2::bigint[]) AS s(contract, account) "
    "WHERE h.contract = s.contract AND h.account = s.account"
)
_RESTORE_PAIRS = (
    "UPDATE {s}.holding h SET last_block = s.prev "
    "FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS s(contract, account, prev) "
    "WHERE h.contract = s.contract AND h.account = s.account"
)


class PostgresStore(PostgresSession):
    """:class:`~rosetta_node.index.model.IndexStore` over PostgreSQL (asyncpg).

    Connects on first use (or :meth:`connect`): one writer connection (the advisory lock,
    writes and progress reads) and a pool of ``readers`` connections for the API's reads.
    """

    # -- small reads -------------------------------------------------------------------------

    async def _block_hash(self, con: Connection, number: int) -> str | None:
        value = await con.fetchval(self._sql(sql.BLOCK_HASH), number)
        return None if value is None else str(value)

    async def cursor(self) -> Cursor | None:
        return await self._progress(self._cursor)

    async def floor(self) -> int | None:
        return await self._progress(self._floor)

    async def bulk(self) -> bool:
        return await self._progress(lambda con: self._meta(con, "bulk")) is not None

    async def get_meta(self, key: str) -> str | None:
        return await self._progress(lambda con: self._meta(con, key))

    async def set_meta(self, key: str, value: str) -> None:
        await self._write(lambda con: self._set_meta(con, key, value))

    async def block_hash(self, number: int) -> str | None:
        return await self._progress(lambda con: self._block_hash(con, number))

    async def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        """Stored blocks, highest first, with numbers below ``below`` (all when None)."""

        async def read(con: Connection) -> list[Cursor]:
            rows = await con.fetch(self._sql(sql.RECENT_BLOCKS), sql.upto(below), limit)
            return sql.cursors(rows)

        return await self._progress(read)

    async def set_bulk(self, on: bool) -> None:
        """Bulk load: drop the query indexes, or build them back (see SqliteIndex.set_bulk)."""

        async def write(con: Connection) -> None:
            if on:
                for name in sql.INDEXES:
                    await con.execute(self._sql(sql.DROP_INDEX, name=name))
                await self._set_meta(con, "bulk", "1")
            else:
                for statement in sql.INDEXES.values():
                    await con.execute(self._sql(statement))
                await con.execute(self._sql(sql.END_BULK))

        await self._write(write)

    # -- queries -----------------------------------------------------------------------------

    async def _account_tokens(self, con: Connection, account: str, upto: int) -> list[AccountToken]:
        rows = await con.fetch(self._sql(sql.ACCOUNT_TOKENS), account.lower(), upto)
        return sql.account_tokens(rows)

    async def tokens_of(self, account: str) -> list[TokenHolding]:
        """Tokens ``account`` ever sent or received, by contract address."""
        rows = await self._read(lambda con: self._account_tokens(con, account, sql.upto(None)))
        return [TokenHolding(t.contract, t.last_block, t.last_hash) for t in rows]

    async def _holders(
        self, con: Connection, contract: str, after: str | None, limit: int, upto: int
    ) -> list[Holder]:
        contract_id = await self._address_id(con, contract)
        after_id = -1 if after is None else await self._address_id(con, after)
        if contract_id is None or after_id is None:
            return []
        rows = await con.fetch(self._sql(sql.HOLDERS), contract_id, after_id, upto, max(0, limit))
        return sql.holders(rows)

    async def holders(
        self, contract: str, after: str | None = None, limit: int = 100
    ) -> list[Holder]:
        """Accounts that ever sent or received ``contract``, in first-seen order; the next
        page starts after the last row's account, given as ``after``."""
        return await self._read(
            lambda con: self._holders(con, contract, after, limit, sql.upto(None))
        )

    async def _changed_since(
        self,
        con: Connection,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None,
        limit: int,
    ) -> list[Change]:
        contract_id = await self._address_id(con, contract)
        if contract_id is None:
            return []
        page_block, page_account = after_block + 1, -1
        if page_after is not None:
            found = await self._address_id(con, page_after[1])
            if found is None:
                return []
            page_block, page_account = page_after[0], found
        rows = await con.fetch(
            self._sql(sql.CHANGED_SINCE),
            contract_id,
            after_block,
            page_block,
            page_account,
            max(0, limit),
        )
        return sql.changes(rows)

    async def changed_since(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> list[Change]:
        """Accounts whose last change of ``contract`` is above ``after_block``, by block then
        first-seen order; the next page starts after ``page_after`` = (block, account)."""
        return await self._read(
            lambda con: self._changed_since(con, contract, after_block, page_after, limit)
        )

    # -- consistent reads for the API ----------------------------------------------------------

    async def account_tokens(
        self, account: str, at_block: int | None = None
    ) -> Snapshot[list[AccountToken]]:
        """Tokens ``account`` sent or received (by ``at_block`` when given), by contract."""
        return await self._snapshot(
            lambda con: self._account_tokens(con, account, sql.upto(at_block))
        )

    async def contract_holders(
        self, contract: str, after: str | None = None, limit: int = 100, at_block: int | None = None
    ) -> Snapshot[list[Holder]]:
        """Like :meth:`holders`, limited to accounts first seen by ``at_block`` when given."""
        return await self._snapshot(
            lambda con: self._holders(con, contract, after, limit, sql.upto(at_block))
        )

    async def holder_count(self, contract: str, at_block: int | None = None) -> Snapshot[int]:
        """How many accounts ever sent or received ``contract`` (by ``at_block``)."""

        async def read(con: Connection) -> int:
            contract_id = await self._address_id(con, contract)
            if contract_id is None:
                return 0
            return int(
                await con.fetchval(self._sql(sql.HOLDER_COUNT), contract_id, sql.upto(at_block))
            )

        return await self._snapshot(read)

    async def balance_changes(
        self,
        contract: str,
        after_block: int,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Snapshot[list[Change]]:
        """:meth:`changed_since` with the cursor it is consistent with."""
        return await self._snapshot(
            lambda con: self._changed_since(con, contract, after_block, page_after, limit)
        )

    async def dump(self) -> IndexDump:
        """The whole index (tests and tools), read in one snapshot; compare with SQLite's."""

        async def read(con: Connection) -> IndexDump:
            holdings = await con.fetch(self._sql(sql.DUMP_HOLDINGS))
            changes = await con.fetch(self._sql(sql.DUMP_CHANGES))
            blocks = await con.fetch(self._sql(sql.DUMP_BLOCKS))
            cursor = await self._cursor(con)
            floor = await self._floor(con)
            return IndexDump.from_rows(cursor, floor, holdings, changes, blocks)

        return await self._read(read)

    # -- writes ------------------------------------------------------------------------------

    async def apply(
        self, blocks: Sequence[BlockLogs], cursor: Cursor, *, head: int | None = None
    ) -> None:
        """Index ``blocks`` (ascending, extending the cursor) and move the cursor, atomically;
        the same contract as :meth:`SqliteIndex.apply`."""
        checks.check_batch(blocks, cursor)
        await self._write(lambda con: self._apply(con, blocks, cursor, head))

    async def _apply(
        self, con: Connection, blocks: Sequence[BlockLogs], cursor: Cursor, head: int | None
    ) -> None:
        current = await self._cursor(con)
        stored_floor = await self._floor(con)
        floor = checks.apply_floor(current, stored_floor, blocks, cursor, head, self.retention)

        first, last = batch.fold_transfers(blocks)
        ids = await self._resolve(con, batch.pair_addresses(last.keys()))
        touched = sorted(batch.holding_rows(first, last, ids))
        journal = (
            await self._journal_rows(con, blocks, floor, ids) if blocks[-1].number > floor else []
        )
        if touched:
            await con.execute(self._sql(_UNNEST_HOLDING), *columns(touched))
        if journal:
            await con.execute(self._sql(_UNNEST_JOURNAL), *columns(journal))
        kept = batch.kept_blocks(blocks, floor, cursor.number)
        await con.execute(
            self._sql(_UNNEST_BLOCKS),
            [b.number for b in kept],
            [b.hash for b in kept],
            [b.parent_hash for b in kept],
            [len(b.transfers) for b in kept],
        )
        await con.execute(self._sql(sql.SET_CURSOR), self.network, cursor.number, cursor.hash)
        if floor != stored_floor:
            await con.execute(self._sql(sql.PRUNE_JOURNAL), floor)
            await con.execute(
                self._sql(sql.PRUNE_BLOCKS), floor, -1 if stored_floor is None else stored_floor
            )
            await self._set_meta(con, "floor", str(floor))

    async def _journal_rows(
        self, con: Connection, blocks: Sequence[BlockLogs], floor: int, ids: dict[str, int]
    ) -> list[batch.JournalRow]:
        """Undo rows for the pairs touched in blocks above ``floor``: their last change before."""
        touched_in, wanted = batch.pairs_by_block(blocks, floor, ids)
        if not wanted:
            return []
        stored = await con.fetch(self._sql(_STORED_PAIRS), *columns(list(wanted)))
        return batch.undo_rows(touched_in, floor, wanted, stored)

    async def rollback_to(self, number: int) -> Cursor:
        """Forget every block above ``number`` (a block we stored) and restore holdings."""
        return await self._write(lambda con: self._rollback_to(con, number))

    async def _rollback_to(self, con: Connection, number: int) -> Cursor:
        current = await self._cursor(con)
        done = checks.rollback_done(current, await self._floor(con), number)
        if done is not None:
            return done
        target = checks.rollback_target(number, await self._block_hash(con, number))
        gone, back = batch.restore_plan(await con.fetch(self._sql(sql.UNDO_JOURNAL), number))
        if gone:
            await con.execute(self._sql(_DELETE_PAIRS), *columns(gone))
        if back:
            await con.execute(self._sql(_RESTORE_PAIRS), *columns(back))
        await con.execute(self._sql(sql.DROP_JOURNAL_ABOVE), number)
        await con.execute(self._sql(sql.DROP_BLOCKS_ABOVE), number)
        await con.execute(self._sql(sql.MOVE_CURSOR), target.number, target.hash, self.network)
        return target
