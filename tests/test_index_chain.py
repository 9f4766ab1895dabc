"""The Transfer-log index on chains that change under it: reorgs (anvil_reorg, and
evm_snapshot/evm_revert with a shorter branch) while following the head or between backfills,
and an index process killed with SIGKILL at random points and restarted."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rosetta_node.devnet import Anvil
from rosetta_node.index import Cursor, Indexer, IndexStore, ReorgTooDeep, SqliteStore
from rosetta_node.index.model import IndexDump
from rosetta_node.index.sqlite import open_dump
from rosetta_node.rpc import RpcClient
from tests.support.chains import (
    DumpStore,
    TokenChain,
    backfill_into,
    expected_holdings,
    fresh_addresses,
    query_indexes,
    run_index_command,
    same_index,
    transfer_logs,
)
from tests.support.node import ROOT, settings_free_env
from tests.support.rpc import JsonRpc

pytestmark = pytest.mark.devnet  # every test here starts a node


# -- (c) reorgs ----------------------------------------------------------------------------------


async def wait_synced(
    chain: TokenChain, store: IndexStore, task: asyncio.Task[None], timeout: float = 20.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        head = await asyncio.to_thread(chain.head)
        cursor = await store.cursor()
        if cursor is not None and cursor.hash == head["hash"]:
            return
        if task.done():
            task.result()
            raise AssertionError("the follower stopped")
        if time.monotonic() > deadline:
            raise AssertionError(f"index at {cursor}, node head {int(head['number'], 16)}")
        await asyncio.sleep(0.02)


async def _tokens(store: IndexStore, accounts: list[str]) -> dict[str, list[str]]:
    return {a: [t.contract for t in await store.tokens_of(a)] for a in accounts}


async def follow_through_reorgs(
    node: Anvil, chain: TokenChain, store: DumpStore, tag: str = ""
) -> tuple[IndexDump, int]:
    """Follow ``chain`` through an anvil_reorg and a shorter evm_revert branch, asserting the
    index at each step; returns the followed index (the store is closed) and the head."""
    rpc = RpcClient(node.url, name="anvil")
    indexer = Indexer(rpc, store, follow_batch=4)
    stop = asyncio.Event()
    task = asyncio.create_task(indexer.follow(poll_interval=0.02, stop=stop))

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    try:
        await wait_synced(chain, store, task)
        t0, t1 = chain.tokens
        # Three blocks whose recipients appear nowhere else, then replace them (and one
        # more) with a branch that pays other new accounts.
        orphans = fresh_addresses(tag + "orphan", 3)
        for account in orphans:
            await run(chain.send, chain.transfer_tx(t0, chain.dev[1], account, 5))
        await wait_synced(chain, store, task)
        assert all((await _tokens(store, orphans)).values())
        replaced = fresh_addresses(tag + "replacement", 2)
        await run(
            node.rpc,
            "anvil_reorg",
            4,
            [
                [chain.transfer_tx(t1, chain.dev[2], replaced[0], 7), 0],
                [chain.transfer_tx(t0, chain.dev[3], replaced[1], 9), 2],
            ],
        )
        await wait_synced(chain, store, task)
        assert await _tokens(store, orphans) == {a: [] for a in orphans}
        assert await _tokens(store, replaced) == {replaced[0]: [t1], replaced[1]: [t0]}
        assert indexer.reorgs == 1

        # A branch that is shorter than the one we indexed: snapshot, three blocks,
        # revert, one different block.
        snapshot = await run(node.rpc, "evm_snapshot")
        orphans2 = fresh_addresses(tag + "orphan2", 3)
        for account in orphans2:
            await run(chain.send, chain.transfer_tx(t1, chain.dev[4], account, 11))
        await wait_synced(chain, store, task)
        tip_before = await store.cursor()
        assert tip_before is not None
        assert await run(node.rpc, "evm_revert", snapshot)
        short = fresh_addresses(tag + "short", 1)
        await run(chain.send, chain.transfer_tx(t1, chain.dev[1], short[0], 13))
        await wait_synced(chain, store, task)
        cursor = await store.cursor()
        assert cursor is not None and cursor.number < tip_before.number
        assert await _tokens(store, orphans2) == {a: [] for a in orphans2}
        assert await _tokens(store, short) == {short[0]: [t1]}
        assert indexer.reorgs == 2

        # And on: new blocks index normally after the reorgs.
        await run(chain.activity, 6)
        await wait_synced(chain, store, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        followed = await store.dump()
        await store.close()
        await rpc.close()
    return followed, int(chain.head()["number"], 16)


def test_follow_through_reorgs_equals_a_fresh_backfill(tmp_path: Path) -> None:
    with Anvil() as node:
        chain = TokenChain(node)
        chain.activity(12, empty_every=5)

        async def scenario() -> None:
            store = SqliteStore(tmp_path / "follow.db", network="t", retention=32)
            followed, to_block = await follow_through_reorgs(node, chain, store)
            fresh, _ = await backfill_into(node.url, tmp_path / "fresh.db", to_block)
            same_index(followed, fresh)
            assert followed.holdings == expected_holdings(transfer_logs(chain.rpc, to_block))

        asyncio.run(scenario())


def test_backfill_resumes_across_reorgs(tmp_path: Path) -> None:
    with Anvil() as node:
        chain = TokenChain(node, seed=2)
        chain.activity(10, empty_every=4)
        t0, t1 = chain.tokens
        db = tmp_path / "index.db"

        async def backfill() -> Cursor | None:
            rpc = RpcClient(node.url, name="anvil")
            store = SqliteStore(db, network="t", retention=32)
            try:
                return await Indexer(rpc, store, initial_range=4).backfill()
            finally:
                await store.close()
                await rpc.close()

        async def check() -> None:
            head = chain.head()
            cursor = await backfill()
            assert cursor == Cursor(int(head["number"], 16), head["hash"])
            fresh_db = tmp_path / f"fresh{len(list(tmp_path.iterdir()))}.db"
            assert not fresh_db.exists()
            fresh, _ = await backfill_into(node.url, fresh_db)
            same_index(open_dump(db, "t"), fresh)

        asyncio.run(check())
        # Same height, other blocks: the next backfill has nothing new but must notice.
        gone = fresh_addresses("gone", 1)
        chain.send(chain.transfer_tx(t0, chain.dev[1], gone[0], 1))
        asyncio.run(check())
        chain.node.rpc("anvil_reorg", 2, [[chain.transfer_tx(t1, chain.dev[2], gone[0], 3), 1]])
        asyncio.run(check())
        # A reorg and new blocks on top of it: found at the start of the next range.
        chain.node.rpc("anvil_reorg", 3, [[chain.transfer_tx(t0, chain.dev[3], gone[0], 4), 0]])
        chain.activity(5)
        asyncio.run(check())
        assert [h[0] for h in open_dump(db, "t").holdings if h[1] == gone[0]] == [t0]


def test_a_reorg_deeper_than_the_retention_is_refused(tmp_path: Path) -> None:
    with Anvil() as node:
        chain = TokenChain(node, tokens=1, seed=4)
        chain.activity(12)

        async def backfill() -> Cursor | None:
            rpc = RpcClient(node.url, name="anvil")
            store = SqliteStore(tmp_path / "shallow.db", network="t", retention=3)
            try:
                return await Indexer(rpc, store).backfill()
            finally:
                await store.close()
                await rpc.close()

        before = asyncio.run(backfill())
        token = chain.tokens[0]
        node.rpc("anvil_reorg", 6, [[chain.transfer_tx(token, chain.dev[1], chain.pool[0], 1), 0]])
        with pytest.raises(ReorgTooDeep):
            asyncio.run(backfill())
        assert open_dump(tmp_path / "shallow.db", "t").cursor == before  # left as it was


# -- (d) kill -9 and restart ---------------------------------------------------------------------


def _cursor_number(db: Path) -> int | None:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            row = con.execute("SELECT number FROM cursor").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def _index_process(url: str, db: Path, to_block: int, size: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rosetta_node.index",
            "--rpc-url",
            url,
            "--db",
            str(db),
            "--to-block",
            str(to_block),
            "--initial-range",
            str(size),
            "--max-range",
            str(size),
            "--concurrency",
            "2",
            "--retention",
            "64",
            "--bulk",  # restarts in the middle of a bulk load, the indexes built at the end
            "--quiet",
        ],
        cwd=ROOT,
        env=settings_free_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_kill_9_at_random_points_loses_and_repeats_nothing(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    with Anvil() as node:
        chain = TokenChain(node, tokens=3, seed=3)
        # ~3,000 blocks: enough work at 1-4 blocks a range for a dozen kills mid-run.
        chain.activity(150, empty_every=10, empty=200)
        to_block = int(chain.head()["number"], 16)
        logs = transfer_logs(chain.rpc, to_block)
        numbers = range(to_block + 1)
        blocks = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        hashes = {n: block["hash"] for n, block in zip(numbers, blocks, strict=True)}
        db = tmp_path / "killed.db"
        network = "Ethereum/devnet"
        kills, rounds, last, bulk_seen, passes = 0, 0, -1, 0, 0
        while kills < 10:
            rounds += 1
            assert rounds < 40, f"only {kills} kills in {rounds} rounds (seed {seed})"
            process = _index_process(node.url, db, to_block, rng.choice([1, 1, 2, 4]))
            try:
                if rounds % 4 == 1:
                    time.sleep(rng.uniform(0.0, 0.8))  # anywhere, also during start-up
                else:
                    # Once it is indexing, after a random few ranges.
                    deadline = time.monotonic() + 20
                    while process.poll() is None and time.monotonic() < deadline:
                        number = _cursor_number(db)
                        if number is not None and number > last:
                            break
                        time.sleep(0.002)
                    time.sleep(rng.uniform(0.0, 0.05))
                if process.poll() is not None:
                    _, err = process.communicate()
                    assert process.returncode == 0, err.decode()
                    # Finished before we got to kill it: the kills so far were checked; go
                    # on with a new file (a fast machine indexes the chain in few ranges).
                    passes += 1
                    db = tmp_path / f"killed-{passes}.db"
                    last = -1
                    continue
                process.kill()
                process.wait()
                kills += 1
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()
                if process.stderr is not None:
                    process.stderr.close()
            if not db.exists():
                continue
            # After every kill: a consistent index of exactly the blocks up to the cursor.
            con = sqlite3.connect(db)
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            con.close()
            if "cursor" not in tables:
                # Killed between creating the file and committing its schema (one transaction):
                # an empty index, as if the file did not exist; the next run creates it.
                assert not tables & {"blocks", "holding", "journal"}, tables
                continue
            dump = open_dump(db, network)
            con = sqlite3.connect(db)
            bulk_seen += con.execute("SELECT COUNT(*) FROM meta WHERE key = 'bulk'").fetchone()[0]
            con.close()
            if dump.cursor is None:
                assert dump.holdings == []
                continue
            assert dump.cursor.hash == hashes[dump.cursor.number]
            assert dump.holdings == expected_holdings(logs, dump.cursor.number), f"seed {seed}"
            last = dump.cursor.number
        assert kills >= 10, f"only {kills} kills (seed {seed}); the chain is indexed too fast"
        process = _index_process(node.url, db, to_block, 64)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        assert f"up to block {to_block}" in out.decode()
        assert bulk_seen, "no kill landed during the bulk load"
        assert query_indexes(db) == {"holding_by_account", "holding_by_change"}
        killed = open_dump(db, network)
        clean, _ = asyncio.run(backfill_into(node.url, tmp_path / "clean.db", to_block))
        same_index(killed, clean)
        assert killed.holdings == expected_holdings(logs)
        assert killed.cursor == Cursor(to_block, hashes[to_block])


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ROSETTA_NODE_"):
            monkeypatch.delenv(key)


def test_rosetta_node_index_command(anvil: Anvil, devnet: Any, tmp_path: Path) -> None:
    """`rosetta-node index` backfills to the head and exits; settings come via the main CLI."""
    db = tmp_path / "cli.sqlite"
    result = run_index_command(anvil.url, 31337, "--db", str(db))
    assert result.returncode == 0, result.stderr
    head = int(JsonRpc(anvil.url)("eth_blockNumber"), 16)
    with sqlite3.connect(db) as conn:
        (number,) = conn.execute("SELECT number FROM cursor").fetchone()
        contracts = {row[0] for row in conn.execute("SELECT DISTINCT contract FROM holdings")}
    assert number >= devnet.workload.last_block and number <= head
    assert {t.address.lower() for t in devnet.workload.tokens} <= contracts
