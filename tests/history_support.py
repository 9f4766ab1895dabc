"""What the history tests share: our node with the history on, waiting for it, paging through
``/search/transactions``, and the expectation built from ``/block`` answers alone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosetta_node.addresses import checksum
from rosetta_node.engine.node import NetworkEngine
from rosetta_node.index.history_follower import HistoryFollower
from rosetta_node.index.history_model import HistoryDump, HistoryStore
from rosetta_node.index.history_sqlite import SqliteHistoryStore
from rosetta_node.settings import NetworkSettings
from tests.conftest import CHAIN_ID, NETWORK, RosettaClient
from tests.support.chains import TokenChain
from tests.workload import Token, write_token_list

DEVNET = "Ethereum/devnet"  # our node's name of the anvil chain (chain id 31337)
Op = dict[str, Any]
Tx = dict[str, Any]


def history_env(kind: str, where: str, start_block: int = 0) -> dict[str, str]:
    """Environment for a node serving the index and the history from ``where``: a SQLite
    file (``kind`` "sqlite") or a PostgreSQL URL ("postgres")."""
    return {
        "ROSETTA_NODE_INDEX_DB" if kind == "sqlite" else "ROSETTA_NODE_INDEX_URL": where,
        "ROSETTA_NODE_HISTORY": "true",
        "ROSETTA_NODE_HISTORY_START_BLOCK": str(start_block),
        "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.1",
    }


def history_store(kind: str, where: str | Path, network: str = DEVNET) -> HistoryStore:
    if kind == "sqlite":
        return SqliteHistoryStore(where, network=network)
    from rosetta_node.index.postgres_history import PostgresHistoryStore

    return PostgresHistoryStore(str(where), network=network)


def read_history(kind: str, where: str | Path) -> tuple[HistoryDump, list[tuple[int, str, int]]]:
    """The whole history at ``where`` and its events (sequence, type, block number)."""

    async def read() -> tuple[HistoryDump, list[tuple[int, str, int]]]:
        store = history_store(kind, where)
        try:
            page = await store.events(0, 10**6)
            return await store.dump(), [(e.sequence, e.type, e.number) for e in page.events]
        finally:
            await store.close()

    return asyncio.run(read())


def history_tip(client: RosettaClient, network: dict[str, str] = NETWORK) -> dict[str, Any] | None:
    """The history's newest block (``block_identifier`` of /events/blocks), None before one."""
    answer = client.post("/events/blocks", {"network_identifier": network, "limit": 1})
    if answer.status != 200:
        assert answer.body["retriable"], answer.body
        return None
    tip: dict[str, Any] = answer.body["block_identifier"]
    return tip


def wait_history(
    client: RosettaClient,
    block: int | None = None,
    *,
    block_hash: str | None = None,
    network: dict[str, str] = NETWORK,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Until the history holds ``block`` (or later), or its tip is ``block_hash``."""
    deadline = time.monotonic() + timeout
    while True:
        tip = history_tip(client, network)
        reached = tip is not None and (block is None or tip["index"] >= block)
        if tip is not None and reached and (block_hash is None or tip["hash"] == block_hash):
            return tip
        assert time.monotonic() < deadline, f"history at {tip}, waiting for {block} {block_hash}"
        time.sleep(0.1)


def search_all(
    client: RosettaClient, conditions: dict[str, Any], limit: int = 1000
) -> tuple[list[dict[str, Any]], int]:
    """Every page of a search, walked with ``next_offset`` and ``max_block`` pinned to the
    first answer's block; (the BlockTransactions in order, total_count)."""
    body = {"network_identifier": NETWORK, **conditions, "limit": limit}
    first = client.ok("/search/transactions", body)
    if "max_block" not in body:
        body["max_block"] = first["block_identifier"]["index"]
    found, answer = list(first["transactions"]), first
    while "next_offset" in answer:
        assert answer["total_count"] == first["total_count"]
        answer = client.ok("/search/transactions", {**body, "offset": answer["next_offset"]})
        found.extend(answer["transactions"])
    return found, first["total_count"]


@dataclass(frozen=True)
class ChainTx:
    """A transaction of a /block answer, with the block that holds it."""

    number: int
    block_hash: str
    position: int  # in /block's transactions
    tx: Tx

    def block_transaction(self) -> dict[str, Any]:
        return {
            "block_identifier": {"index": self.number, "hash": self.block_hash},
            "transaction": self.tx,
        }


def block_transactions(client: RosettaClient, first: int, last: int) -> list[ChainTx]:
    """Every transaction of /block for blocks ``first..last``."""
    found = []
    for number in range(first, last + 1):
        block = client.ok(
            "/block", {"network_identifier": NETWORK, "block_identifier": {"index": number}}
        )["block"]
        ident = block["block_identifier"]
        for position, tx in enumerate(block["transactions"]):
            found.append(ChainTx(ident["index"], ident["hash"], position, tx))
    return found


def contract_of(op: Op) -> str:
    """ "" for the native coin, else the operation currency's contract (lower-case)."""
    metadata = op["amount"]["currency"].get("metadata") or {}
    return str(metadata.get("contractAddress", "")).lower()


def expected(
    txs: list[ChainTx],
    op_matches: Callable[[Op], bool] | None,
    tx_matches: Callable[[Tx], bool] | None = None,
    operator: str = "and",
) -> list[dict[str, Any]]:
    """The BlockTransactions a search must answer, newest first, computed from /block: with
    ``and`` one operation meets ``op_matches`` and the transaction ``tx_matches``; with
    ``or`` either does."""

    def hit(t: ChainTx) -> bool:
        ops = op_matches is not None and any(op_matches(op) for op in t.tx["operations"])
        whole = tx_matches is not None and tx_matches(t.tx)
        if operator == "or":
            return ops or whole or (op_matches is None and tx_matches is None)
        return (op_matches is None or ops) and (tx_matches is None or whole)

    ordered = sorted((t for t in txs if hit(t)), key=lambda t: (t.number, t.position), reverse=True)
    return [t.block_transaction() for t in ordered]


def accounts_and_currencies(txs: list[ChainTx]) -> Iterator[tuple[str, str]]:
    """Every (checksummed account, currency contract or "") an operation of ``txs`` names."""
    seen: set[tuple[str, str]] = set()
    for t in txs:
        for op in t.tx["operations"]:
            key = (op["account"]["address"], contract_of(op))
            if key not in seen:
                seen.add(key)
                yield key


async def backfill_history(
    url: str, db: Path, to_block: int | None = None, token_list: Path | None = None
) -> HistoryDump:
    """Backfill the chain at ``url`` into a fresh history at ``db``; its dump."""
    engine = NetworkEngine(NetworkSettings(rpc_url=url, token_list=str(token_list or "") or None))
    await engine.probe()
    store = SqliteHistoryStore(db, network=engine.name)
    try:
        await HistoryFollower(engine, store).backfill(to_block)
        return await store.dump()
    finally:
        await store.close()
        await engine.close()


def token_chain_list(chain: TokenChain, path: Path) -> Path:
    """A token list of ``chain``'s tokens (their operations are in /block and the history)."""
    tokens = [Token(checksum(t), f"Token {i}", f"TK{i}", 18) for i, t in enumerate(chain.tokens)]
    write_token_list(path, tokens, CHAIN_ID)
    return path


def up_to(dump: HistoryDump, number: int) -> HistoryDump:
    """``dump`` cut after block ``number`` (what a history at that cursor holds)."""
    return HistoryDump(
        None,
        [b for b in dump.blocks if b[0] <= number],
        [t for t in dump.transactions if t[0] <= number],
        [o for o in dump.operations if o[1] <= number],
    )


def events(
    client: RosettaClient,
    offset: int = 0,
    limit: int = 100,
    network: dict[str, str] = NETWORK,
) -> list[dict[str, Any]]:
    """Every event from ``offset`` on, paged."""
    found: list[dict[str, Any]] = []
    while True:
        answer = client.ok(
            "/events/blocks", {"network_identifier": network, "offset": offset, "limit": limit}
        )
        found.extend(answer["events"])
        if not answer["events"]:
            return found
        offset = answer["events"][-1]["sequence"] + 1
