#!/usr/bin/env python
"""Benchmark: ERC-20 Transfer logs per second into the SQLite index, node time excluded.

Generates a mainnet-like stream of Transfer logs in memory, as the raw objects ``eth_getLogs``
returns (see :class:`Generator`: skewed token and account mix, hot routers and exchanges, a
share of never-seen addresses), ``--warmup-blocks`` then ``--blocks`` blocks of about
``--logs-per-block`` logs. Measured, each as the median of ``--repeat`` runs on fresh files:

1. ``parse``: raw log objects -> ``Transfer`` tuples (what the indexer does per log);
2. ``backfill``: ``SqliteStore.apply`` (the writer thread, the path the indexer uses) of the
   measured blocks in commits of ``--batch-blocks`` blocks, far below the head (no reorg
   journal), into an index that already holds the warm-up blocks (untimed): the steady state
   of a long backfill, where most accounts are known;
3. ``cold``: the same into an empty file (every address and pair is new: the first minutes);
4. ``near-head``: a fifth of the measured blocks with every block inside the reorg window, so
   the undo journal is written too, in commits of ``--follow-batch`` blocks (following the
   head; a chain makes a few hundred logs a block, so this is far from the limit).

Reported: logs/s for each, and backfill end to end (parse + apply) against ``--target``
(50,000 logs/s). Usage::

    .venv/bin/python bench/index_backfill.py [--blocks 1000] [--logs-per-block 250] [--json OUT]

``--store postgres --dsn postgresql://user@host:5432/db`` measures the PostgreSQL store
instead (``PostgresStore.apply``: one transaction of array statements per commit), each run in
a fresh schema ``rosetta_index_bench_<run>`` that is dropped afterwards.

Exit status 0; 2 when the target is missed with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rosetta_node.index.model import BlockLogs, Cursor, IndexStore  # noqa: E402
from rosetta_node.index.sqlite import SqliteStore  # noqa: E402
from rosetta_node.index.transfers import TRANSFER_TOPIC, group_transfer_logs  # noqa: E402

# Which store the runs measure (set from the command line): "sqlite", or "postgres" at DSN.
STORE: dict[str, Any] = {"kind": "sqlite", "dsn": None}


async def fresh_store(path: Path, retention: int = 256) -> IndexStore:
    """An empty store named after ``path``: a new SQLite file, or a new PostgreSQL schema."""
    if STORE["kind"] == "postgres":
        from rosetta_node.index.postgres import PostgresStore

        network = "bench-" + path.stem
        await PostgresStore(STORE["dsn"], network=network).drop()
        return PostgresStore(STORE["dsn"], network=network, retention=retention)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return SqliteStore(path, network="bench", retention=retention)


async def postgres_stats(path: Path, drop: bool) -> tuple[int, int, str]:
    """(holding rows, bytes of the schema's tables and indexes, server version) of a run."""
    from rosetta_node.index.postgres import PostgresStore

    store = PostgresStore(STORE["dsn"], network="bench-" + path.stem)
    con = await store._writer_connection()
    try:
        rows = await con.fetchval(f"SELECT count(*) FROM {store._s}.holding")
        size = await con.fetchval(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relkind = 'r'",
            store.schema,
        )
        version = await con.fetchval("SHOW server_version")
    finally:
        if drop:
            await store.drop()
        else:
            await store.close()
    return int(rows), int(size), str(version)


ZERO_TOPIC = "0x" + "0" * 64


def _topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def _address(rng: random.Random) -> str:
    return "0x" + rng.getrandbits(160).to_bytes(20, "big").hex()


class Generator:
    """A mainnet-like Transfer-log stream with a skewed token/account mix.

    Tokens: 5,000 contracts with Zipf-like weights (a few carry most transfers). Parties:
    35% from 2,000 hot addresses (routers, exchanges, pools; Zipf-like), ``fresh_share``
    addresses never seen before, the rest from 100,000 warm addresses; 3% of transfers are
    mints (from 0x0).
    """

    def __init__(self, seed: int, per_block: int, fresh_share: float) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.per_block = per_block
        self.fresh_share = fresh_share
        self.contracts = [_address(rng) for _ in range(5_000)]
        self.contract_cum = list(itertools.accumulate(1 / (i + 1) ** 1.1 for i in range(5_000)))
        self.hot = [_address(rng) for _ in range(2_000)]
        self.hot_cum = list(itertools.accumulate(1 / (i + 1) for i in range(2_000)))
        self.warm = [_address(rng) for _ in range(100_000)]
        self.number = 0
        self.parent = "0x" + "00" * 32

    def blocks(self, count: int) -> list[tuple[int, str, str, list[Any]]]:
        """[(number, hash, parent_hash, raw eth_getLogs objects)] for the next blocks."""
        rng = self.rng
        out = []
        for _ in range(count):
            self.number += 1
            number = self.number
            block_hash = "0x" + rng.getrandbits(256).to_bytes(32, "big").hex()
            n = max(0, int(rng.gauss(self.per_block, self.per_block / 5)))
            chosen = rng.choices(self.contracts, cum_weights=self.contract_cum, k=n)
            hot = rng.choices(self.hot, cum_weights=self.hot_cum, k=2 * n)
            logs = []
            for i, contract in enumerate(chosen):
                parties = []
                for j in range(2):
                    r = rng.random()
                    if r < 0.35:
                        parties.append(hot[2 * i + j])
                    elif r < 0.35 + self.fresh_share:
                        parties.append(_address(rng))
                    else:
                        parties.append(rng.choice(self.warm))
                sender = _topic(parties[0]) if rng.random() > 0.03 else ZERO_TOPIC
                logs.append(
                    {
                        "address": contract,
                        "topics": [TRANSFER_TOPIC, sender, _topic(parties[1])],
                        "data": "0x" + rng.getrandbits(64).to_bytes(32, "big").hex(),
                        "blockNumber": hex(number),
                        "blockHash": block_hash,
                        "transactionHash": "0x" + "11" * 32,
                        "transactionIndex": "0x0",
                        "logIndex": hex(i),
                        "removed": False,
                    }
                )
            out.append((number, block_hash, self.parent, logs))
            self.parent = block_hash
        return out


def parse(raw: list[tuple[int, str, str, list[Any]]], per_range: int = 40) -> list[BlockLogs]:
    """What the indexer does with eth_getLogs answers of ``per_range`` blocks."""
    blocks = []
    for i in range(0, len(raw), per_range):
        chunk = raw[i : i + per_range]
        answer = [log for _, _, _, logs in chunk for log in logs]
        groups, _ = group_transfer_logs(answer, chunk[0][0], chunk[-1][0])
        for number, block_hash, parent, _ in chunk:
            group = groups.get(number)
            blocks.append(BlockLogs(number, block_hash, parent, [] if group is None else group[1]))
    return blocks


async def apply_all(
    store: IndexStore, blocks: list[BlockLogs], batch: int, head: int | None
) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to apply ``blocks``."""
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(blocks), batch):
        part = blocks[i : i + batch]
        await store.apply(part, Cursor(part[-1].number, part[-1].hash), head=head)
    return time.perf_counter() - started, time.process_time() - cpu


async def pipeline(
    store: IndexStore, raw: list[tuple[int, str, str, list[Any]]], batch: int, head: int
) -> float:
    """Wall seconds to parse and apply ``raw`` the way the indexer does: the next batch is
    parsed on the event loop while the writer thread commits the previous one."""
    started = time.perf_counter()
    pending: asyncio.Future[None] | None = None
    for i in range(0, len(raw), batch):
        blocks = parse(raw[i : i + batch])
        if pending is not None:
            await pending
        cursor = Cursor(blocks[-1].number, blocks[-1].hash)
        pending = asyncio.ensure_future(store.apply(blocks, cursor, head=head))
    if pending is not None:
        await pending
    return time.perf_counter() - started


async def run_pipeline(
    path: Path, warmup: list[BlockLogs], raw: list[tuple[int, str, str, list[Any]]], batch: int
) -> Run:
    """Bulk load: warm-up (untimed), the measured blocks from raw logs, the index build."""
    store = await fresh_store(path)
    try:
        await store.set_bulk(True)
        head = raw[-1][0] + 1_000_000
        await apply_all(store, warmup, 100, head)
        cpu = time.process_time()
        wall = await pipeline(store, raw, batch, head)
        result = Run(wall, time.process_time() - cpu)
        started = time.perf_counter()
        await store.set_bulk(False)
        result.index_build = time.perf_counter() - started
        return result
    finally:
        await store.close()


@dataclass
class Run:
    wall: float  # seconds applying the measured blocks
    cpu: float  # CPU seconds of this process meanwhile
    index_build: float = 0.0  # seconds building the query indexes after a bulk load


async def run(
    path: Path,
    warmup: list[BlockLogs],
    measured: list[BlockLogs],
    batch: int,
    *,
    near_head: bool = False,
    bulk: bool = False,
) -> Run:
    """Apply ``warmup`` (untimed) then ``measured`` (timed) into a fresh file."""
    last = measured[-1].number
    store = await fresh_store(path, retention=len(measured) + 1 if near_head else 256)
    try:
        if bulk:
            await store.set_bulk(True)
        if warmup:
            # Far below the head: no journal (a backfill of old blocks).
            await apply_all(store, warmup, 100, last + 1_000_000)
        wall, cpu = await apply_all(store, measured, batch, last if near_head else last + 1_000_000)
        result = Run(wall, cpu)
        if bulk:
            started = time.perf_counter()
            await store.set_bulk(False)
            result.index_build = time.perf_counter() - started
        return result
    finally:
        await store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=1000, help="measured blocks")
    parser.add_argument(
        "--warmup-blocks", type=int, default=1000, help="indexed first, untimed (a DB mid-run)"
    )
    parser.add_argument("--logs-per-block", type=int, default=250)
    parser.add_argument(
        "--batch-blocks",
        type=int,
        default=200,
        help="blocks a backfill commit (the indexer commits up to 50,000 logs at once)",
    )
    parser.add_argument("--follow-batch", type=int, default=4, help="blocks per commit at head")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fresh-share",
        type=float,
        default=0.06,
        help="share of transfer parties never seen before (mainnet history: ~0.06)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median is reported")
    parser.add_argument("--target", type=float, default=50_000.0, help="logs/s end to end")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--strict", action="store_true", help="exit 2 when the target is missed")
    parser.add_argument(
        "--store",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="the store to measure (default sqlite)",
    )
    parser.add_argument(
        "--dsn", help="PostgreSQL URL for --store postgres, postgresql://user@host:port/db"
    )
    args = parser.parse_args()
    if args.store == "postgres" and not args.dsn:
        parser.error("--store postgres needs --dsn")
    STORE.update(kind=args.store, dsn=args.dsn)

    started = time.perf_counter()
    generator = Generator(args.seed, args.logs_per_block, args.fresh_share)
    warmup_raw = generator.blocks(args.warmup_blocks)
    raw = generator.blocks(args.blocks)
    logs = sum(len(x[3]) for x in raw)
    print(
        f"generated {args.warmup_blocks:,} warm-up and {args.blocks:,} measured blocks "
        f"({logs:,} Transfer logs) in {time.perf_counter() - started:.1f} s"
    )

    parse_times = []
    for _ in range(args.repeat):
        t = time.process_time()
        blocks = parse(raw)
        parse_times.append(time.process_time() - t)
    parse_s = statistics.median(parse_times)  # CPU time: parsing is pure Python
    warmup = parse(warmup_raw)
    del warmup_raw
    touches = 2 * logs
    seen = {a for b in warmup for t in b.transfers for a in t[1:]}
    seen_pairs = {(t.contract, a) for b in warmup for t in b.transfers for a in t[1:]}
    first_seen = {a for b in blocks for t in b.transfers for a in t[1:]} - seen
    new_pairs = {(t.contract, a) for b in blocks for t in b.transfers for a in t[1:]} - seen_pairs
    del seen, seen_pairs
    # The data set (millions of objects) exists only in the benchmark; keep the cyclic
    # collector from walking it over and over while we measure.
    gc.collect()
    gc.freeze()

    workdir = Path(args.dir or tempfile.mkdtemp(prefix="index-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    warmup_logs = sum(len(b.transfers) for b in warmup)
    head_blocks = blocks[: max(1, len(blocks) // 5)]
    head_logs = sum(len(b.transfers) for b in head_blocks)
    runs: dict[str, list[Run]] = {
        "pipeline": [],
        "bulk": [],
        "indexed": [],
        "cold": [],
        "near_head": [],
    }
    batch = args.batch_blocks
    for _ in range(args.repeat):
        runs["pipeline"].append(
            asyncio.run(run_pipeline(workdir / "pipeline.db", warmup, raw, batch))
        )
        runs["bulk"].append(asyncio.run(run(workdir / "bulk.db", warmup, blocks, batch, bulk=True)))
        runs["indexed"].append(asyncio.run(run(workdir / "indexed.db", warmup, blocks, batch)))
        runs["cold"].append(asyncio.run(run(workdir / "cold.db", [], blocks, batch, bulk=True)))
        runs["near_head"].append(
            asyncio.run(
                run(
                    workdir / "near-head.db", warmup, head_blocks, args.follow_batch, near_head=True
                )
            )
        )
    load = os.getloadavg()[0]

    def median(name: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in runs[name])

    bulk_s, bulk_cpu = median("bulk", "wall"), median("bulk", "cpu")
    # The index build sorts every row once; charge each log its share of it.
    build_per_log = median("bulk", "index_build") / (warmup_logs + logs)
    bulk_total = parse_s + bulk_s + build_per_log * logs
    pipeline_total = median("pipeline", "wall") + build_per_log * logs
    indexed_total = parse_s + median("indexed", "wall")
    cold_total = parse_s + median("cold", "wall") + median("cold", "index_build")
    server = "sqlite " + sqlite3.sqlite_version
    if args.store == "postgres":
        for name in ("pipeline", "indexed", "cold", "near-head"):
            asyncio.run(postgres_stats(workdir / f"{name}.db", drop=args.dir is None))
        holdings, size, version = asyncio.run(
            postgres_stats(workdir / "bulk.db", drop=args.dir is None)
        )
        server = "postgres " + version
    else:
        con = sqlite3.connect(workdir / "bulk.db")
        holdings = con.execute("SELECT COUNT(*) FROM holding").fetchone()[0]
        con.close()
        size = sum(
            os.path.getsize(workdir / name)
            for name in ("bulk.db", "bulk.db-wal")
            if (workdir / name).exists()
        )
    figures = {
        "warmup_blocks": args.warmup_blocks,
        "blocks": args.blocks,
        "logs": logs,
        "first_seen_share": len(first_seen) / touches,
        "new_pair_share": len(new_pairs) / touches,
        "parse_logs_per_s": logs / parse_s,
        "bulk_apply_logs_per_s": logs / bulk_s,
        "bulk_apply_logs_per_cpu_s": logs / bulk_cpu,
        "bulk_apply_runs_logs_per_s": [round(logs / r.wall) for r in runs["bulk"]],
        "index_build_s": median("bulk", "index_build"),
        "backfill_end_to_end_logs_per_s": logs / pipeline_total,
        "backfill_serial_logs_per_s": logs / bulk_total,
        "backfill_runs_logs_per_s": [
            round(logs / (r.wall + build_per_log * logs)) for r in runs["pipeline"]
        ],
        "indexed_end_to_end_logs_per_s": logs / indexed_total,
        "indexed_apply_logs_per_cpu_s": logs / median("indexed", "cpu"),
        "cold_end_to_end_logs_per_s": logs / cold_total,
        "near_head_apply_logs_per_s": head_logs / median("near_head", "wall"),
        "holdings_rows": holdings,
        "db_bytes": size,
        "batch_blocks": args.batch_blocks,
        "follow_batch": args.follow_batch,
        "repeat": args.repeat,
        "load_average": load,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "store": server,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "target_logs_per_s": args.target,
    }
    print(
        f"measured blocks: {figures['first_seen_share']:.0%} of transfer parties are new "
        f"addresses, {figures['new_pair_share']:.0%} of touches create a (token, account) pair"
    )
    print(
        f"{server}: medians of {args.repeat} runs, {args.batch_blocks} blocks a commit "
        f"(load average {load:.1f} on {os.cpu_count()} CPUs):"
    )
    rows = [
        ("parse (raw log -> Transfer)", figures["parse_logs_per_s"], ""),
        (
            "bulk apply",
            figures["bulk_apply_logs_per_s"],
            f"{figures['bulk_apply_logs_per_cpu_s']:,.0f} per CPU s; runs "
            f"{figures['bulk_apply_runs_logs_per_s']}",
        ),
        (
            "backfill end to end",
            figures["backfill_end_to_end_logs_per_s"],
            f"raw logs in, pipelined like the indexer, + index build share; runs "
            f"{figures['backfill_runs_logs_per_s']}; target {args.target:,.0f}",
        ),
        (
            "  same, one after the other",
            figures["backfill_serial_logs_per_s"],
            f"parse + bulk apply + index build share ({figures['index_build_s']:.1f} s for "
            f"{holdings:,} rows)",
        ),
        (
            "indexed end to end",
            figures["indexed_end_to_end_logs_per_s"],
            f"query indexes kept up ({figures['indexed_apply_logs_per_cpu_s']:,.0f} per CPU s)",
        ),
        ("cold end to end", figures["cold_end_to_end_logs_per_s"], "bulk, empty database"),
        (
            "near-head apply",
            figures["near_head_apply_logs_per_s"],
            f"{args.follow_batch} blocks a commit, with the reorg journal",
        ),
    ]
    for name, value, note in rows:
        print(f"  {name:28} {value:>10,.0f} logs/s  {note}")
    if args.dir is None:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"database {size / 1e6:.1f} MB (removed; keep it with --dir)")
    else:
        print(f"database {size / 1e6:.1f} MB in {workdir}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    met = figures["backfill_end_to_end_logs_per_s"] >= args.target
    print("target met" if met else "TARGET MISSED")
    return 0 if met or not args.strict else 2


if __name__ == "__main__":
    sys.exit(main())
