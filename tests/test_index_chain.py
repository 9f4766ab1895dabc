"""The Transfer-log index on chains that change under it: reorgs (anvil_reorg, and
evm_snapshot/evm_revert with a shorter branch) while following the head or between backfills,
and an index process killed with SIGKILL at random points and restarted."""

from __future__ import annotations

import asyncio
import hashlib
import json
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
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from rosetta_node.devnet import Anvil
from rosetta_node.index import Cursor, Indexer, IndexStore, ReorgTooDeep, SqliteStore
from rosetta_node.index.model import IndexDump
from rosetta_node.index.sqlite import open_dump
from rosetta_node.rpc import RpcClient
from tests.conftest import ROOT, JsonRpc
from tests.test_index import (
    DumpStore,
    backfill_into,
    expected_holdings,
    query_indexes,
    same_index,
    transfer_logs,
)

pytestmark = pytest.mark.devnet  # every test here starts a node

ARTIFACT = ROOT / "tests" / "contracts" / "build" / "TestToken.json"


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
        artifact = json.loads(ARTIFACT.read_text())
        self.tokens = []
        for i in range(tokens):
            args = abi_encode(["string", "string", "uint8"], [f"Token {i}", f"TK{i}", 18])
            tx_hash = self.send({"from": self.dev[0], "data": artifact["bytecode"] + args.hex()})
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
        env={k: v for k, v in os.environ.items() if not k.startswith("ROSETTA_NODE_")},
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
            con.close()
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
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rosetta_node",
            "index",
            "--rpc-url",
            anvil.url,
            "--chain-id",
            "31337",
            "--db",
            str(db),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    head = int(JsonRpc(anvil.url)("eth_blockNumber"), 16)
    with sqlite3.connect(db) as conn:
        (number,) = conn.execute("SELECT number FROM cursor").fetchone()
        contracts = {row[0] for row in conn.execute("SELECT DISTINCT contract FROM holdings")}
    assert number >= devnet.workload.last_block and number <= head
    assert {t.address.lower() for t in devnet.workload.tokens} <= contracts
