#!/usr/bin/env python
"""Benchmark: the history index: backfill rate and size into SQLite, node time excluded, and
``/search/transactions``' store query for an account with 10,000+ operations.

1. **Fixture.** Starts anvil (``rosetta_node.devnet.Anvil``), runs the devnet workload of the
   tests (``tests/workload.py``: ETH and ERC-20 transfers, internal calls, reverts, CREATE2,
   SELFDESTRUCT) and reads every block the way the follower does (``Chain.block_data`` +
   ``BlockService.transactions``, the code of ``/block``): the **node** phase, timed apart.
2. **Backfill.** ``--copies`` copies of those blocks, renumbered into one linked chain (same
   transactions: the devnet mix at any length), applied with ``SqliteHistoryStore.apply`` (the
   follower's writer path: rows, JSON bodies, events, cursor; one transaction per commit of
   ``--batch`` blocks) into a fresh file beside a Transfer index. Reported: blocks/s and
   operations/s (median of ``--repeat`` runs), and the ratio of the node phase to the store
   phase per block (how much faster the store is than reading the node).
3. **Size.** Bytes on disk per operation (file after a WAL checkpoint, less the empty file),
   and per table/index from ``dbstat`` where SQLite has it.
4. **Search.** In the biggest run, the account with the most operations (10,000+ with the
   default copies): ``HistoryStore.search`` by account (first page of 100, a page 5,000 deep,
   and with a currency) and by transaction hash: p50/p99 over ``--queries`` queries, through
   the store's reader threads, as the API calls it (HTTP excluded).

Usage::

    .venv/bin/python bench/history_backfill.py [--copies 45] [--batch 32] [--json OUT]

Stops what it started (anvil) in ``finally``. Exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rosetta_node.devnet import Anvil  # noqa: E402
from rosetta_node.engine.block import BlockService  # noqa: E402
from rosetta_node.engine.node import NetworkEngine  # noqa: E402
from rosetta_node.index.history_model import HistoryBlock, HistoryQuery  # noqa: E402
from rosetta_node.index.history_sqlite import SqliteHistoryStore  # noqa: E402
from rosetta_node.index.model import Cursor  # noqa: E402
from rosetta_node.settings import NetworkSettings  # noqa: E402
from rosetta_node.types import PartialBlockIdentifier  # noqa: E402
from tests.workload import run_workload, write_token_list  # noqa: E402


async def read_chain(url: str, tokens: Path) -> tuple[list[HistoryBlock], float]:
    """Every block as the follower reads it, and the seconds that took (the node phase)."""
    engine = NetworkEngine(NetworkSettings(rpc_url=url, token_list=str(tokens)))
    try:
        await engine.probe()
        head = (await engine.chain.head()).number
        started = time.perf_counter()
        blocks = []
        for number in range(head + 1):
            data = await engine.chain.block_data(PartialBlockIdentifier(index=number))
            txs = BlockService.transactions(engine, data)
            blocks.append(HistoryBlock(number, data.header.hash, data.header.parent_hash, txs))
        return blocks, time.perf_counter() - started
    finally:
        await engine.close()


def copies(blocks: list[HistoryBlock], count: int) -> list[HistoryBlock]:
    """``count`` copies of ``blocks`` as one linked chain (new numbers and hashes)."""
    chain: list[HistoryBlock] = []
    parent = "0x" + "00" * 32
    for number in range(len(blocks) * count):
        source = blocks[number % len(blocks)]
        block_hash = "0x" + f"{number:064x}"
        chain.append(HistoryBlock(number, block_hash, parent, source.transactions))
        parent = block_hash
    return chain


async def backfill(path: Path, chain: list[HistoryBlock], batch: int) -> float:
    """Seconds to apply ``chain`` in commits of ``batch`` blocks into a fresh file."""
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    store = SqliteHistoryStore(path, network="bench")
    try:
        started = time.perf_counter()
        for i in range(0, len(chain), batch):
            part = chain[i : i + batch]
            await store.apply(part, Cursor(part[-1].number, part[-1].hash))
        return time.perf_counter() - started
    finally:
        await store.close()


def size_of(path: Path) -> tuple[int, dict[str, int]]:
    """(bytes of the file after a checkpoint, bytes per table and index where dbstat exists)."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            rows = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:
            rows = []
    finally:
        con.close()
    return path.stat().st_size, {str(n): int(b) for n, b in rows}


async def search_latency(
    path: Path, queries: list[HistoryQuery], rounds: int
) -> dict[str, dict[str, float]]:
    """p50/p99 milliseconds per query kind, through the store's reader threads."""
    store = SqliteHistoryStore(path, network="bench")
    out: dict[str, dict[str, float]] = {}
    try:
        for name, query in zip(
            ("account", "account-deep", "account-currency", "hash"), queries, strict=True
        ):
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                page = await store.search(query)
                times.append((time.perf_counter() - started) * 1000)
            assert page.transactions or query.offset, name
            times.sort()
            out[name] = {
                "p50_ms": statistics.median(times),
                "p99_ms": times[int(len(times) * 0.99) - 1],
                "total_count": float(page.total_count),
            }
    finally:
        await store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=45, help="copies of the workload chain")
    parser.add_argument("--batch", type=int, default=32, help="blocks per commit")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--queries", type=int, default=200, help="searches per kind")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="history-bench-"))
    try:
        with Anvil() as node:
            result = run_workload(node.url, min_blocks=220)
            tokens = workdir / "tokens.json"
            write_token_list(tokens, result.tokens, 31337)
            blocks, node_s = asyncio.run(read_chain(node.url, tokens))
        ops = sum(len(t.operations) for b in blocks for t in b.transactions or ())
        print(
            f"workload: {len(blocks)} blocks, {ops:,} operations; read from anvil in {node_s:.2f} s"
        )
        chain = copies(blocks, args.copies)
        chain_ops = ops * args.copies
        path = workdir / "history.sqlite"
        runs = [asyncio.run(backfill(path, chain, args.batch)) for _ in range(args.repeat)]
        seconds = statistics.median(runs)
        size, tables = size_of(path)
        empty = workdir / "empty.sqlite"
        asyncio.run(backfill(empty, chain[:1], 1))
        base, _ = size_of(empty)
        per_op = (size - base) / chain_ops
        node_per_block = node_s / len(blocks)
        store_per_block = seconds / len(chain)

        counts: collections.Counter[str] = collections.Counter()
        for b in chain:
            for t in b.transactions or ():
                for op in t.operations:
                    if op.account is not None:
                        counts[op.account.address.lower()] += 1
        account, account_ops = counts.most_common(1)[0]
        busy_tx = next(t for b in blocks for t in b.transactions or () if t.operations)
        queries = [
            HistoryQuery(account=account, limit=100),
            HistoryQuery(account=account, limit=100, offset=5000),
            HistoryQuery(account=account, currency="", limit=100),
            HistoryQuery(tx_hash=busy_tx.transaction_identifier.hash, limit=100),
        ]
        latency = asyncio.run(search_latency(path, queries, args.queries))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    figures: dict[str, Any] = {
        "blocks": len(chain),
        "operations": chain_ops,
        "batch": args.batch,
        "backfill_s": seconds,
        "blocks_per_s": len(chain) / seconds,
        "operations_per_s": chain_ops / seconds,
        "runs_s": runs,
        "node_ms_per_block": node_per_block * 1000,
        "store_ms_per_block": store_per_block * 1000,
        "node_over_store": node_per_block / store_per_block,
        "bytes": size - base,
        "bytes_per_operation": per_op,
        "tables": tables,
        "search_account_operations": account_ops,
        "search": latency,
    }
    print(
        f"backfill into SQLite: {len(chain):,} blocks, {chain_ops:,} operations in {seconds:.2f} s "
        f"(median of {args.repeat}): {figures['blocks_per_s']:,.0f} blocks/s, "
        f"{figures['operations_per_s']:,.0f} operations/s"
    )
    print(
        f"per block: node {node_per_block * 1000:.2f} ms (anvil, /block's reads), store "
        f"{store_per_block * 1000:.3f} ms: the store is {figures['node_over_store']:.0f}x faster"
    )
    print(f"size: {size - base:,} bytes, {per_op:.0f} bytes per operation")
    for name, pages in sorted(tables.items(), key=lambda kv: -kv[1]):
        if name.startswith("history") or name == "addresses":
            print(f"  {name:32s} {pages / chain_ops:7.1f} bytes/op")
    print(f"search, account with {account_ops:,} operations (store, reader threads; no HTTP):")
    for name, row in latency.items():
        print(
            f"  {name:18s} p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
            f"({row['total_count']:,.0f} found)"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
