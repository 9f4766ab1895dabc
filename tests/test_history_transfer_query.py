"""The history's transfer-level query (``/v1/token/transfers``) and its ``chain_only`` search
flag, in SQLite and in PostgreSQL: every answer is exactly what a brute-force pick over the
stored blocks gives (transfers as :func:`transfers_of` reads them), newest first, each row
once over the pages."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rosetta_node.addresses import ZERO_ADDRESS
from rosetta_node.engine.oplist import (
    CALL,
    ERC20_BURN,
    ERC20_MINT,
    ERC20_TRANSFER,
    FEE,
    OperationList,
)
from rosetta_node.index.history_model import HistoryBlock, HistoryQuery, TransferQuery
from rosetta_node.index.history_sqlite import SqliteHistory
from rosetta_node.index.history_transfers import transfers_of
from rosetta_node.index.model import Cursor
from rosetta_node.types import Currency, Transaction, TransactionIdentifier
from tests.support.chains import ACCOUNTS, T1, T2, block_hash
from tests.test_index_postgres import pg_url as pg_url  # a fresh PostgreSQL database
from tests.test_index_postgres import postgres as postgres  # the session's server

ETH = Currency(symbol="ETH", decimals=18)
TOKENS = {c: Currency(symbol=c[-2:], decimals=6, metadata={"contractAddress": c}) for c in (T1, T2)}
UNKNOWN = "0x" + "ee" * 20  # never named by any operation


def _tx(rng: random.Random, tx_hash: str) -> Transaction:
    """Random operations as /block writes them: fees and calls, ERC-20 transfers (to
    oneself too), mints and burns, through the engine's own OperationList."""
    ops = OperationList()
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(["fee", "call", "transfer", "transfer", "mint", "burn"])
        source, target = rng.choice(ACCOUNTS[:4]), rng.choice(ACCOUNTS[:4])
        token, value = TOKENS[rng.choice([T1, T2])], rng.randint(1, 10**20)
        if kind == "fee":
            ops.add(FEE, source, -value, ETH)
        elif kind == "call":
            ops.transfer(CALL, source, target, value, ETH)
        elif kind == "transfer":
            ops.transfer(ERC20_TRANSFER, source, target, value, token, metadata={"log_index": 1})
        elif kind == "mint":
            ops.add(ERC20_MINT, target, value, token)
        else:
            ops.add(ERC20_BURN, source, -value, token)
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=tx_hash), operations=ops.items
    )


def _chain(seed: int, length: int = 25) -> list[HistoryBlock]:
    rng = random.Random(seed)
    blocks, parent = [], "0x" + "00" * 32
    for n in range(length):
        own = block_hash(f"t{seed}", n)
        txs = [_tx(rng, block_hash(f"t{seed}b{n}t", t)) for t in range(rng.randint(0, 3))]
        if rng.random() < 0.3:  # a block-level entry (withdrawals, ...): named by the block
            txs.append(_tx(rng, own))
        blocks.append(HistoryBlock(n, own, parent, txs))
        parent = own
    return blocks


def _range(rng: random.Random, length: int) -> tuple[int | None, int | None]:
    return rng.choice([None, rng.randint(0, length)]), rng.choice([None, rng.randint(0, length)])


def _transfer_queries(seed: int, length: int) -> list[TransferQuery]:
    rng = random.Random(seed)
    found = []
    for _ in range(30):
        floor, top = _range(rng, length)
        found.append(
            TransferQuery(
                max_block=top,
                min_block=floor,
                limit=rng.choice([1, 4, 1000]),
                address=rng.choice([None, *ACCOUNTS[:5], ZERO_ADDRESS, UNKNOWN]),
                contract=rng.choice([None, T1, T2, UNKNOWN]),
            )
        )
    return found


def _in_range(number: int, floor: int | None, top: int | None) -> bool:
    return (floor is None or number >= floor) and (top is None or number <= top)


def _expected_transfers(blocks: list[HistoryBlock], q: TransferQuery) -> list[Any]:
    found = []
    for block in blocks:
        if not _in_range(block.number, q.min_block, q.max_block):
            continue
        for tx in block.transactions or ():
            for t in transfers_of(tx):
                if t.contract == "" or (q.contract is not None and t.contract != q.contract):
                    continue
                if q.address is None or q.address in (t.sender, t.recipient):
                    found.append((tx.transaction_identifier.hash, t.op_index))
    return found[::-1]


def _expected_chain_only(blocks: list[HistoryBlock], q: HistoryQuery) -> list[str]:
    found = []
    for block in blocks:
        if not _in_range(block.number, q.min_block, q.max_block):
            continue
        for tx in block.transactions or ():
            named = {op.account.address for op in tx.operations if op.account is not None}
            if tx.transaction_identifier.hash == block.hash:
                continue
            if q.account is None or q.account in named:
                found.append(tx.transaction_identifier.hash)
    return found[::-1]


def _chain_only_queries(seed: int, length: int) -> list[HistoryQuery]:
    rng = random.Random(seed)
    found = []
    for _ in range(20):
        floor, top = _range(rng, length)
        account = rng.choice([None, *ACCOUNTS[:4]])
        found.append(
            HistoryQuery(
                max_block=top, min_block=floor, limit=rng.choice([1, 5, 1000]), account=account
            )
        )
    return [dataclasses.replace(q, chain_only=True) for q in found]


Ask = Callable[[Any], Any]


def _walk(ask: Ask, query: Any, rows: Callable[[Any], list[Any]]) -> list[Any]:
    got: list[Any] = []
    offset = 0
    while True:  # every page: each row once, in order, the count the same on each
        page = ask(dataclasses.replace(query, offset=offset))
        got.extend(rows(page))
        if page.next_offset is None:
            assert page.total_count == len(got), query
            return got
        assert page.total_count > len(got)
        offset = page.next_offset


def _check(ask_transfers: Ask, ask_search: Ask, blocks: list[HistoryBlock], seed: int) -> None:
    checked = 0
    for tq in _transfer_queries(seed, len(blocks)):
        got = _walk(
            ask_transfers,
            tq,
            lambda p: [(f.transaction.hash, f.op_index) for f in p.transfers],
        )
        assert got == _expected_transfers(blocks, tq), tq
        checked += len(got)
    assert checked > 50
    for hq in _chain_only_queries(seed, len(blocks)):
        got = _walk(ask_search, hq, lambda p: [t.hash for t in p.transactions])
        assert got == _expected_chain_only(blocks, hq), hq


@pytest.mark.parametrize("seed", range(3))
def test_sqlite_transfer_query(tmp_path: Path, seed: int) -> None:
    blocks = _chain(seed)
    history = SqliteHistory(tmp_path / "h.sqlite", network="n")
    try:
        history.apply(blocks, Cursor(blocks[-1].number, blocks[-1].hash))
        _check(history.transfers, history.search, blocks, seed)
    finally:
        history.close()


def test_postgres_transfer_query(pg_url: str) -> None:
    from rosetta_node.index.postgres_history import PostgresHistoryStore

    async def run() -> None:
        for seed in range(2):
            store = PostgresHistoryStore(pg_url, network="n", schema=f"transfers{seed}")
            try:
                blocks = _chain(seed)
                await store.apply(blocks, Cursor(blocks[-1].number, blocks[-1].hash))
                answers: dict[Any, Any] = {}
                for query in _transfer_queries(seed, len(blocks)):
                    await _collect(store.transfers, query, answers)
                for query in _chain_only_queries(seed, len(blocks)):
                    await _collect(store.search, query, answers)
                _check(answers.__getitem__, answers.__getitem__, blocks, seed)
            finally:
                await store.close()

    asyncio.run(run())


async def _collect(ask: Callable[[Any], Any], query: Any, answers: dict[Any, Any]) -> None:
    """Every page of ``query`` into ``answers`` (async store, checked synchronously after)."""
    offset: int | None = 0
    while offset is not None:
        asked = dataclasses.replace(query, offset=offset)
        answers[asked] = await ask(asked)
        offset = answers[asked].next_offset
