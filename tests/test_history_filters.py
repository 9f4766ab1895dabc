"""The history's filters for the translators (a block floor, a set of hashes, a set of
currencies), in SQLite and in PostgreSQL: every search answers exactly the transactions a
brute-force pick over the stored blocks gives, newest first, page after page."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rosetta_node.index.history_model import HistoryBlock, HistoryPage, HistoryQuery
from rosetta_node.index.history_sqlite import SqliteHistory
from rosetta_node.index.model import Cursor
from rosetta_node.types import (
    AccountIdentifier,
    Amount,
    Currency,
    Operation,
    OperationIdentifier,
    Transaction,
    TransactionIdentifier,
)
from tests.support.chains import ACCOUNTS, T1, T2, block_hash
from tests.test_index_postgres import pg_url as pg_url  # a fresh PostgreSQL database
from tests.test_index_postgres import postgres as postgres  # the session's server

CURRENCIES = {
    "": Currency(symbol="ETH", decimals=18),
    T1: Currency(symbol="A", decimals=6, metadata={"contractAddress": T1}),
    T2: Currency(symbol="B", decimals=6, metadata={"contractAddress": T2}),
}
Moves = list[tuple[str, str]]  # (account, currency) per operation


def _chain(seed: int, length: int = 30) -> tuple[list[HistoryBlock], dict[str, Moves]]:
    """Random blocks of random transactions; each transaction's (account, currency) moves."""
    rng = random.Random(seed)
    blocks, moves, parent = [], {}, "0x" + "00" * 32
    for n in range(length):
        txs = []
        for t in range(rng.randint(0, 3)):
            tx_hash = block_hash(f"s{seed}b{n}t", t)
            picked = [(rng.choice(ACCOUNTS), rng.choice(list(CURRENCIES))) for _ in range(3)]
            ops = [
                Operation(
                    operation_identifier=OperationIdentifier(index=i),
                    type="CALL",
                    status="SUCCESS",
                    account=AccountIdentifier(address=account),
                    amount=Amount(value=str(i + 1), currency=CURRENCIES[currency]),
                )
                for i, (account, currency) in enumerate(picked)
            ]
            txs.append(
                Transaction(
                    transaction_identifier=TransactionIdentifier(hash=tx_hash), operations=ops
                )
            )
            moves[tx_hash] = picked
        blocks.append(HistoryBlock(n, block_hash(f"s{seed}", n), parent, txs))
        parent = blocks[-1].hash
    return blocks, moves


def _queries(blocks: list[HistoryBlock], seed: int) -> list[HistoryQuery]:
    rng = random.Random(seed)
    hashes = [tx.transaction_identifier.hash for b in blocks for tx in b.transactions or ()]
    found = []
    for _ in range(40):
        floor = rng.choice([None, rng.randint(0, len(blocks))])
        top = rng.choice([None, rng.randint(0, len(blocks))])
        found.append(
            HistoryQuery(
                max_block=top,
                min_block=floor,
                limit=rng.choice([1, 3, 1000]),
                account=rng.choice([None, *ACCOUNTS]),
                tx_hashes=rng.choice(
                    [
                        None,
                        (),
                        tuple(rng.sample(hashes, min(len(hashes), 5))),
                        (block_hash("x", 1),),
                    ]
                ),
                currencies=rng.choice([None, (), ("",), (T1,), ("", T2), (T1, T2)]),
            )
        )
    return found


def _expected(blocks: list[HistoryBlock], moves: dict[str, Moves], q: HistoryQuery) -> list[str]:
    found = []
    for block in blocks:
        if q.max_block is not None and block.number > q.max_block:
            continue
        if q.min_block is not None and block.number < q.min_block:
            continue
        for tx in block.transactions or ():
            tx_hash = tx.transaction_identifier.hash
            if q.tx_hashes is not None and tx_hash not in q.tx_hashes:
                continue
            hit = any(
                (q.account is None or a == q.account)
                and (q.currencies is None or c in q.currencies)
                for a, c in moves[tx_hash]
            )
            if hit or (q.account is None and q.currencies is None):
                found.append(tx_hash)
    return found[::-1]


def _check(
    search: Callable[[HistoryQuery], HistoryPage],
    blocks: list[HistoryBlock],
    moves: dict[str, Moves],
    seed: int,
) -> None:
    for query in _queries(blocks, seed):
        want, got, offset = _expected(blocks, moves, query), [], 0
        while True:  # every page: each row once, in order
            page = search(dataclasses.replace(query, offset=offset))
            assert page.total_count == len(want), query
            got.extend(t.hash for t in page.transactions)
            if page.next_offset is None:
                break
            offset = page.next_offset
        assert got == want, query


@pytest.mark.parametrize("seed", range(4))
def test_sqlite_filters(tmp_path: Path, seed: int) -> None:
    blocks, moves = _chain(seed)
    history = SqliteHistory(tmp_path / "h.sqlite", network="n")
    try:
        history.apply(blocks, Cursor(blocks[-1].number, blocks[-1].hash))
        _check(history.search, blocks, moves, seed)
    finally:
        history.close()


def test_postgres_filters(pg_url: str) -> None:
    from rosetta_node.index.postgres_history import PostgresHistoryStore

    async def run() -> None:
        for seed in range(2):
            store = PostgresHistoryStore(pg_url, network="n", schema=f"filters{seed}")
            try:
                blocks, moves = _chain(seed)
                await store.apply(blocks, Cursor(blocks[-1].number, blocks[-1].hash))
                pages = {}
                for query in _queries(blocks, seed):
                    for offset in range(0, 200, query.limit):
                        asked = dataclasses.replace(query, offset=offset)
                        pages[asked] = await store.search(asked)
                        if pages[asked].next_offset is None:
                            break
                _check(pages.__getitem__, blocks, moves, seed)
            finally:
                await store.close()

    asyncio.run(run())
