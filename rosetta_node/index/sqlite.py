"""The index in SQLite: one file per network, one writing process.

Every write is one SQLite transaction that moves holdings, journal, blocks and cursor
together (the model and its promises: :mod:`.model`).

:class:`SqliteIndex` is the synchronous implementation over one connection (benchmarks,
tests, scripts; its reads are in :mod:`.sqlite_reads`, its schema and writes in
:mod:`.sqlite_index`). :class:`SqliteStore` implements the async
:class:`~rosetta_node.index.model.IndexStore` protocol for the event loop: writes run on a
single writer thread, reads on a small pool of reader threads, each with its own connection
(WAL lets readers run alongside the writer).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from .model import (
    DEFAULT_ADDRESS_CACHE,
    DEFAULT_RETENTION,
    AccountToken,
    BlockLogs,
    Change,
    Cursor,
    Holder,
    IndexDump,
    IndexStoreError,
    Snapshot,
    TokenHolding,
)
from .sqlite_index import SqliteIndex

__all__ = ["SqliteIndex", "SqliteStore", "ThreadedSqlite", "damage", "open_dump"]

T = TypeVar("T")


def damage(path: str | Path) -> str | None:
    """What SQLite's quick_check finds wrong with the index file (None: fine, or no file yet).

    Run before the index is opened: bytes overwritten inside the file pass opening it and
    reading the cursor, then fail every query that touches them."""
    if not Path(path).exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            rows = con.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.DatabaseError as exc:
        return f"index file {path} is damaged ({exc}); remove it to rebuild the index"
    found = "; ".join(str(r[0]) for r in rows)
    if found == "ok":
        return None
    return f"index file {path} is damaged ({found[:300]}); remove it to rebuild the index"


class _Closable(Protocol):
    def close(self) -> None: ...


Db = TypeVar("Db", bound=_Closable)


class ThreadedSqlite(Generic[Db]):
    """A synchronous SQLite object of type ``Db`` off the event loop: writes on one writer
    thread (one connection, made by the constructor so a bad file fails there), reads on
    ``readers`` threads, each with its own read-only connection from ``open_reader`` (WAL
    lets them run alongside the writer). Shared by the Transfer and the history stores."""

    def __init__(self, writer: Db, open_reader: Callable[[], Db], readers: int, name: str) -> None:
        self._writer_index = writer
        self._open_reader = open_reader
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-writer")
        self._readers = ThreadPoolExecutor(
            max_workers=max(1, readers), thread_name_prefix=f"{name}-reader"
        )
        self._local = threading.local()
        self._reader_indexes: list[Db] = []
        self._lock = threading.Lock()
        self._closed = False

    def _reader(self) -> Db:
        index: Db | None = getattr(self._local, "index", None)
        if index is None:
            index = self._open_reader()
            self._local.index = index
            with self._lock:
                self._reader_indexes.append(index)
        return index

    async def _write(self, fn: Callable[[Db], T]) -> T:
        if self._closed:
            raise IndexStoreError("store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, fn, self._writer_index)

    async def _read(self, fn: Callable[[Db], T]) -> T:
        if self._closed:
            raise IndexStoreError("store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))

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


class SqliteStore(ThreadedSqlite[SqliteIndex]):
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
        writer = SqliteIndex(
            self.path,
            network=network,
            retention=retention,
            cache_mb=cache_mb,
            address_cache=address_cache,
        )
        super().__init__(
            writer,
            lambda: SqliteIndex(self.path, network=network, retention=retention, readonly=True),
            readers,
            "index",
        )

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


def open_dump(path: str | Path, network: str = "default") -> IndexDump:
    """Read a whole index file (tests and tools); read-only."""
    index = SqliteIndex(path, network=network, readonly=True)
    try:
        return index.dump()
    finally:
        index.close()
