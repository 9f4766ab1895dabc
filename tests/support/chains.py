"""Chains for the Transfer-log index tests, and what an index of them must hold.

Synthetic chains (:func:`make_chain`, and random ones drawn with hypothesis:
:func:`transfers_strategy`, :func:`draw_blocks`, :func:`draw_batches`), tokens moving on a real
anvil (:class:`TokenChain`), the expectation computed without the index code from
``eth_getLogs`` (:func:`expected_holdings`), a backfill into SQLite (:func:`backfill_into`),
index comparisons, and the ``rosetta-node index`` command run without settings from the
environment.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from hypothesis import strategies as st

from rosetta_node.devnet import Anvil
from rosetta_node.index import TRANSFER_TOPIC, BlockLogs, Indexer, IndexStore, SqliteStore, Transfer
from rosetta_node.index.model import IndexDump
from rosetta_node.rpc import RpcClient
from tests.support.artifacts import artifact
from tests.support.node import ROOT, settings_free_env
from tests.support.rpc import JsonRpc

Holding = tuple[str, str, int, int, str]  # contract, account, first, last, last hash

ZERO_HASH = "0x" + "00" * 32
T1 = "0x" + "a1" * 20
T2 = "0x" + "a2" * 20
ACCOUNTS = ["0x" + f"{i:02x}" * 20 for i in range(1, 7)]


class DumpStore(IndexStore, Protocol):
    """A store the tests read whole: both backends have ``dump``, the protocol leaves it out."""

    async def dump(self) -> IndexDump: ...


# -- synthetic chains ---------------------------------------------------------------------------


def block_hash(tag: str, number: int) -> str:
    """A made-up block hash, distinct per (tag, number)."""
    return "0x" + f"{tag}{number}".encode().hex().ljust(64, "0")[:64]


def make_chain(
    tag: str, start: int, count: int, parent: str, transfers: dict[int, list[Transfer]]
) -> list[BlockLogs]:
    """Blocks ``start`` .. ``start + count - 1`` linked from ``parent``, with ``transfers``."""
    blocks = []
    for n in range(start, start + count):
        block = BlockLogs(n, block_hash(tag, n), parent, transfers.get(n, []))
        blocks.append(block)
        parent = block.hash
    return blocks


def transfers_strategy() -> st.SearchStrategy[list[Transfer]]:
    """A block's Transfer logs: up to 3, of T1 or T2 between ACCOUNTS."""
    transfer = st.builds(
        Transfer, st.sampled_from([T1, T2]), st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS)
    )
    return st.lists(transfer, max_size=3)


def draw_blocks(
    data: st.DataObject,
    transfers: st.SearchStrategy[list[Transfer]],
    tag: str,
    start: int,
    count: int,
    parent: str,
) -> list[BlockLogs]:
    """``count`` blocks from ``start`` on ``parent``, each with drawn transfers."""
    blocks = []
    for n in range(start, start + count):
        block = BlockLogs(n, block_hash(tag, n), parent, data.draw(transfers))
        blocks.append(block)
        parent = block.hash
    return blocks


def draw_batches(data: st.DataObject, blocks: list[BlockLogs]) -> Iterator[list[BlockLogs]]:
    """``blocks`` in drawn batches, some sparse (blocks without logs left out but the last)."""
    i = 0
    while i < len(blocks):
        size = data.draw(st.integers(1, len(blocks) - i))
        batch = blocks[i : i + size]
        if data.draw(st.booleans()):
            batch = [b for b in batch[:-1] if b.transfers] + [batch[-1]]
        yield batch
        i += size


# -- tokens on a real anvil ---------------------------------------------------------------------


def _calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


def fresh_addresses(tag: str, count: int) -> list[str]:
    return ["0x" + hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()[:40] for i in range(count)]


class TokenChain:
    """TestToken contracts on a private anvil, and transfers between dev and fresh accounts."""

    def __init__(self, node: Anvil, tokens: int = 2, seed: int = 1) -> None:
        self.node = node
        self.rpc = JsonRpc(node.url)
        self.rng = random.Random(seed)
        self.dev: list[str] = self.rpc("eth_accounts")
        self.pool = fresh_addresses(f"pool{seed}", 12) + self.dev[5:]
        token = artifact("TestToken")
        self.tokens = []
        for i in range(tokens):
            args = abi_encode(["string", "string", "uint8"], [f"Token {i}", f"TK{i}", 18])
            tx_hash = self.send({"from": self.dev[0], "data": token["bytecode"] + args.hex()})
            self.tokens.append(self.receipt(tx_hash)["contractAddress"].lower())
        for token in self.tokens:
            for holder in self.dev[1:5]:
                self.send(self.mint_tx(token, holder, 10**24))

    def send(self, tx: dict[str, Any]) -> str:
        """Send and wait for the block (anvil may answer before it has mined it)."""
        tx = {"gas": hex(3_000_000), **tx}
        tx_hash: str = self.rpc("eth_sendTransaction", tx)
        self.receipt(tx_hash)
        return tx_hash

    def receipt(self, tx_hash: str) -> dict[str, Any]:
        for _ in range(500):
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                assert receipt["status"] == "0x1", receipt
                return dict(receipt)
            time.sleep(0.01)
        raise AssertionError(f"no receipt for {tx_hash}")

    def mint_tx(self, token: str, to: str, amount: int) -> dict[str, Any]:
        data = _calldata("mint(address,uint256)", ["address", "uint256"], [to, amount])
        return {"from": self.dev[0], "to": token, "data": data, "gas": hex(200_000)}

    def transfer_tx(self, token: str, sender: str, to: str, amount: int) -> dict[str, Any]:
        data = _calldata("transfer(address,uint256)", ["address", "uint256"], [to, amount])
        return {"from": sender, "to": token, "data": data, "gas": hex(200_000)}

    def activity(self, blocks: int, empty_every: int = 0, empty: int = 2) -> None:
        """``blocks`` blocks with one token transfer each, and ``empty`` empty blocks after
        every ``empty_every`` of them."""
        for i in range(blocks):
            token = self.rng.choice(self.tokens)
            sender = self.rng.choice(self.dev[1:5])
            to = self.rng.choice(self.pool)
            self.send(self.transfer_tx(token, sender, to, self.rng.randint(1, 10**18)))
            if empty_every and i % empty_every == empty_every - 1:
                self.node.rpc("anvil_mine", hex(empty))

    def head(self) -> dict[str, Any]:
        block: dict[str, Any] = self.rpc("eth_getBlockByNumber", "latest", False)
        return block


# -- what an index must hold --------------------------------------------------------------------


def topic_address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


def expected_holdings(logs: Iterable[dict[str, Any]], to_block: int | None = None) -> list[Holding]:
    """What the Transfer logs imply, computed here without the index code."""
    rows: dict[tuple[str, str], list[Any]] = {}
    ordered = sorted(logs, key=lambda x: (int(x["blockNumber"], 16), int(x["logIndex"], 16)))
    for entry in ordered:
        topics = entry["topics"]
        if len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
            continue
        number = int(entry["blockNumber"], 16)
        if to_block is not None and number > to_block:
            continue
        contract = entry["address"].lower()
        for account in (topic_address(topics[1]), topic_address(topics[2])):
            row = rows.setdefault((contract, account), [contract, account, number, number, ""])
            row[3] = number
            row[4] = entry["blockHash"].lower()
    return sorted(tuple(r) for r in rows.values())  # type: ignore[misc]


def transfer_logs(rpc: JsonRpc, to_block: int) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = rpc(
        "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(to_block), "topics": [TRANSFER_TOPIC]}
    )
    return logs


async def backfill_into(
    url: str, db: Path, to_block: int | None = None, bulk: bool | None = None, **options: Any
) -> tuple[IndexDump, Indexer]:
    """Backfill the chain at ``url`` into a SQLite index at ``db`` (network "test")."""
    return await backfill_store(url, SqliteStore(db, network="test"), to_block, bulk, **options)


async def backfill_store(
    url: str,
    store: DumpStore,
    to_block: int | None = None,
    bulk: bool | None = None,
    **options: Any,
) -> tuple[IndexDump, Indexer]:
    """Backfill into ``store`` (closed afterwards); its dump and the indexer."""
    rpc = RpcClient(url, name="test", timeout=10.0)
    try:
        indexer = Indexer(rpc, store, **options)
        await indexer.backfill(to_block, bulk=bulk)
        assert not await store.bulk()
        return await store.dump(), indexer
    finally:
        await store.close()
        await rpc.close()


def same_index(a: IndexDump, b: IndexDump) -> None:
    """Same cursor and holdings, and the same journal where both keep one (above both floors;
    the floor depends on the head seen at each commit and on the retention)."""
    assert a.cursor == b.cursor
    assert a.holdings == b.holdings
    floor = max(-1 if a.floor is None else a.floor, -1 if b.floor is None else b.floor)
    assert [c for c in a.changes if c[0] > floor] == [c for c in b.changes if c[0] > floor]


def query_indexes(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
        return {name for (name,) in rows}
    finally:
        con.close()


def run_index_command(
    rpc_url: str, chain_id: int, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m rosetta_node index --rpc-url U --chain-id N *args --quiet``, with no
    ``ROSETTA_NODE_*`` settings from the environment."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rosetta_node",
            "index",
            "--rpc-url",
            rpc_url,
            "--chain-id",
            str(chain_id),
            "--quiet",
            *args,
        ],
        cwd=ROOT,
        env=settings_free_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
