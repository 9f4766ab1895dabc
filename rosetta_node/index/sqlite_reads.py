"""The reading half of the SQLite index: the connection and every query over it.

:class:`SqliteReads` is the base of :class:`~rosetta_node.index.sqlite.SqliteIndex`, which adds
the schema and the writes. The SQL is :mod:`.sql`'s, as SQLite spells it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from . import sql
from .model import (
    AccountToken,
    Change,
    Cursor,
    Holder,
    IndexDump,
    IndexStoreError,
    Snapshot,
    TokenHolding,
)
from .sql import for_sqlite as _q

T = TypeVar("T")


def connect(path: str, *, readonly: bool = False, cache_mb: int = 64) -> sqlite3.Connection:
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


@contextmanager
def write_transaction(con: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def read_transaction(con: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every query in it sees the same commit (WAL readers see a fixed
    snapshot while the writer goes on)."""
    con.execute("BEGIN")
    try:
        yield
    finally:
        con.execute("COMMIT")


class SqliteReads:
    """Reads of the index over one SQLite connection; synchronous and not thread-safe."""

    def __init__(
        self, path: str | Path, *, network: str, readonly: bool = False, cache_mb: int = 64
    ) -> None:
        self.path = str(path)
        self.network = network
        self.con = connect(self.path, readonly=readonly, cache_mb=cache_mb)
        self._bulk = False

    def close(self) -> None:
        self.con.close()

    # -- small reads -------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self.con.execute(_q(sql.META), (key,)).fetchone()
        return None if row is None else str(row[0])

    def get_meta(self, key: str) -> str | None:
        return self._meta(key)

    def cursor(self) -> Cursor | None:
        row = self.con.execute(_q(sql.CURSOR), (self.network,)).fetchone()
        return sql.cursor(row)

    def floor(self) -> int | None:
        value = self._meta("floor")
        return None if value is None else int(value)

    def bulk(self) -> bool:
        self._bulk = self._meta("bulk") is not None
        return self._bulk

    def block_hash(self, number: int) -> str | None:
        row = self.con.execute(_q(sql.BLOCK_HASH), (number,)).fetchone()
        return None if row is None else str(row[0])

    def recent_blocks(self, below: int | None, limit: int) -> list[Cursor]:
        """Stored blocks, highest first, with numbers below ``below`` (all when None)."""
        rows = self.con.execute(_q(sql.RECENT_BLOCKS), (sql.upto(below), limit)).fetchall()
        return sql.cursors(rows)

    def _address_id(self, address: str) -> int | None:
        row = self.con.execute(_q(sql.ADDRESS_ID), (address.lower(),)).fetchone()
        return None if row is None else int(row[0])

    # -- queries -----------------------------------------------------------------------------

    def tokens_of(self, account: str) -> list[TokenHolding]:
        """Tokens ``account`` ever sent or received, by contract address."""
        return [
            TokenHolding(t.contract, t.last_block, t.last_hash)
            for t in self._account_tokens(account, sql.upto(None))
        ]

    def _account_tokens(self, account: str, upto: int) -> list[AccountToken]:
        rows = self.con.execute(_q(sql.ACCOUNT_TOKENS), (account.lower(), upto)).fetchall()
        return sql.account_tokens(rows)

    def holders(self, contract: str, after: str | None = None, limit: int = 100) -> list[Holder]:
        """Accounts that ever sent or received ``contract``.

        In a stable order (the order the index first saw each address); the next page starts
        after the last row's account, given as ``after``.
        """
        return self._holders(contract, after, limit, sql.upto(None))

    def _holders(self, contract: str, after: str | None, limit: int, upto: int) -> list[Holder]:
        contract_id = self._address_id(contract)
        after_id = -1 if after is None else self._address_id(after)
        if contract_id is None or after_id is None:
            return []
        rows = self.con.execute(
            _q(sql.HOLDERS), (contract_id, after_id, upto, max(0, limit))
        ).fetchall()
        return sql.holders(rows)

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
            _q(sql.CHANGED_SINCE),
            (contract_id, after_block, page_block, page_account, max(0, limit)),
        ).fetchall()
        return sql.changes(rows)

    # -- consistent reads for the API ----------------------------------------------------------

    def _snapshot(self, read: Callable[[], T]) -> Snapshot[T]:
        # One read transaction: the rows and the cursor come from the same commit.
        with read_transaction(self.con):
            return Snapshot(self.cursor(), read())

    def account_tokens(
        self, account: str, at_block: int | None = None
    ) -> Snapshot[list[AccountToken]]:
        """Tokens ``account`` sent or received (by ``at_block`` when given), by contract."""
        return self._snapshot(lambda: self._account_tokens(account, sql.upto(at_block)))

    def contract_holders(
        self, contract: str, after: str | None = None, limit: int = 100, at_block: int | None = None
    ) -> Snapshot[list[Holder]]:
        """Like :meth:`holders`, limited to accounts first seen by ``at_block`` when given."""
        return self._snapshot(lambda: self._holders(contract, after, limit, sql.upto(at_block)))

    def holder_count(self, contract: str, at_block: int | None = None) -> Snapshot[int]:
        """How many accounts ever sent or received ``contract`` (by ``at_block``)."""

        def read() -> int:
            contract_id = self._address_id(contract)
            if contract_id is None:
                return 0
            row = self.con.execute(
                _q(sql.HOLDER_COUNT), (contract_id, sql.upto(at_block))
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
        """The whole index (tests and tools)."""
        con = self.con
        return IndexDump.from_rows(
            self.cursor(),
            self.floor(),
            con.execute(_q(sql.DUMP_HOLDINGS)).fetchall(),
            con.execute(_q(sql.DUMP_CHANGES)).fetchall(),
            con.execute(_q(sql.DUMP_BLOCKS)).fetchall(),
        )
