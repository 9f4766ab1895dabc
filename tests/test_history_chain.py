"""The history on chains that change under it: reorgs under the follower of a serving node
(/events/blocks shows the removals and additions in order; afterwards the history equals a
fresh backfill), ``rosetta-node index --history`` killed with SIGKILL during its backfill, and
paging through /search/transactions and /events/blocks while blocks keep coming."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rosetta_node.devnet import Anvil
from rosetta_node.index.history_model import HistoryDump
from rosetta_node.index.postgres_session import schema_name
from tests.conftest import CHAIN_ID, NETWORK, RosettaClient, serve_args
from tests.history_support import (
    DEVNET,
    backfill_history,
    block_transactions,
    events,
    expected,
    history_env,
    read_history,
    token_chain_list,
    up_to,
    wait_history,
)
from tests.support.chains import TokenChain, fresh_addresses
from tests.support.node import ROOT, NodeProcess, settings_free_env
from tests.test_index_postgres import postgres as postgres  # the session's PostgreSQL server

asyncpg = pytest.importorskip("asyncpg")

pytestmark = pytest.mark.devnet  # every test here starts a node


def _hash_of(chain: TokenChain, number: int) -> str:
    block: dict[str, Any] = chain.rpc("eth_getBlockByNumber", hex(number), False)
    return str(block["hash"])


def _event(kind: str, number: int, block_hash: str) -> tuple[str, int, str]:
    return (kind, number, block_hash)


def _seen(client: RosettaClient, offset: int) -> list[tuple[str, int, str]]:
    return [
        (e["type"], e["block_identifier"]["index"], e["block_identifier"]["hash"])
        for e in events(client, offset)
    ]


def _found(client: RosettaClient, account: str) -> int:
    answer = client.ok(
        "/search/transactions",
        {"network_identifier": NETWORK, "account_identifier": {"address": account}},
    )
    return int(answer["total_count"])


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    """Where the history lives: a SQLite file, then PostgreSQL."""
    if request.param == "postgres":
        request.getfixturevalue("postgres")  # skips, saying why, without a server
    return str(request.param)


def _where(kind: str, request: pytest.FixtureRequest, path: Path) -> str:
    """A new, empty store of ``kind``: a SQLite file at ``path``, or a PostgreSQL database."""
    if kind == "sqlite":
        return str(path)
    return str(request.getfixturevalue("postgres").new_database())


def test_reorgs_under_the_follower_show_in_events_and_equal_a_fresh_backfill(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    with Anvil() as node:
        chain = TokenChain(node, seed=7)
        chain.activity(5)
        tokens = token_chain_list(chain, tmp_path / "tokens.json")
        where = _where(kind, request, tmp_path / "follow.sqlite")
        process = NodeProcess(serve_args(node.url, CHAIN_ID, tokens), env=history_env(kind, where))
        try:
            process.wait()
            client = RosettaClient(process.url)
            head = chain.head()
            wait_history(client, block_hash=head["hash"])
            start = len(events(client))
            base = int(head["number"], 16)
            t0, t1 = chain.tokens

            # Three blocks paying new accounts, then a depth-4 reorg replacing them and their
            # parent with blocks paying other new accounts.
            orphans = fresh_addresses("history-orphan", 3)
            for account in orphans:
                chain.send(chain.transfer_tx(t0, chain.dev[1], account, 5))
            old = {n: _hash_of(chain, n) for n in range(base - 0, base + 4)}
            wait_history(client, block_hash=old[base + 3])
            assert all(_found(client, a) == 1 for a in orphans)
            replaced = fresh_addresses("history-replacement", 2)
            node.rpc(
                "anvil_reorg",
                4,
                [
                    [chain.transfer_tx(t1, chain.dev[2], replaced[0], 7), 0],
                    [chain.transfer_tx(t0, chain.dev[3], replaced[1], 9), 2],
                ],
            )
            new_head = chain.head()
            wait_history(client, block_hash=new_head["hash"])
            tip = int(new_head["number"], 16)
            new = {n: _hash_of(chain, n) for n in range(base, tip + 1)}
            assert tip == base + 3 and all(new[n] != old[n] for n in new)
            want = [_event("block_added", n, old[n]) for n in range(base + 1, base + 4)]
            want += [_event("block_removed", n, old[n]) for n in range(base + 3, base - 1, -1)]
            want += [_event("block_added", n, new[n]) for n in range(base, tip + 1)]
            assert _seen(client, start) == want
            assert [_found(client, a) for a in orphans] == [0, 0, 0]
            assert [_found(client, a) for a in replaced] == [1, 1]

            # A shorter branch: two blocks, then back to before them and one other block.
            mark = len(events(client))
            snapshot = node.rpc("evm_snapshot")
            for account in fresh_addresses("history-short", 2):
                chain.send(chain.transfer_tx(t1, chain.dev[4], account, 11))
            gone = {n: _hash_of(chain, n) for n in (tip + 1, tip + 2)}
            wait_history(client, block_hash=gone[tip + 2])
            assert node.rpc("evm_revert", snapshot)
            chain.send(chain.transfer_tx(t0, chain.dev[1], replaced[0], 13))
            last = chain.head()
            wait_history(client, block_hash=last["hash"])
            assert _seen(client, mark) == [
                _event("block_added", tip + 1, gone[tip + 1]),
                _event("block_added", tip + 2, gone[tip + 2]),
                _event("block_removed", tip + 2, gone[tip + 2]),
                _event("block_removed", tip + 1, gone[tip + 1]),
                _event("block_added", tip + 1, last["hash"]),
            ]
            chain.activity(3)  # and on
            wait_history(client, block_hash=chain.head()["hash"])
            to_block = int(chain.head()["number"], 16)
        finally:
            process.stop()
        followed, _ = read_history(kind, where)
        fresh = asyncio.run(backfill_history(node.url, tmp_path / "fresh.sqlite", to_block, tokens))
        assert followed == fresh
        assert any(o[4] for o in fresh.operations), "token operations are in the history"


# -- kill -9 during a backfill ------------------------------------------------------------------


def _cursor_number(kind: str, where: str) -> int | None:
    """The history's cursor, read as another process would (None: none yet)."""
    try:
        if kind == "sqlite":
            con = sqlite3.connect(f"file:{where}?mode=ro", uri=True, timeout=0.2)
            try:
                row = con.execute("SELECT number FROM history_cursor").fetchone()
            finally:
                con.close()
            return None if row is None else int(row[0])
        return asyncio.run(_pg_cursor(where))
    except (sqlite3.Error, OSError, asyncpg.PostgresError):
        return None


async def _pg_cursor(url: str) -> int | None:
    con = await asyncpg.connect(url)
    try:
        table = f"{schema_name(DEVNET)}.history_cursor"
        if await con.fetchval("SELECT to_regclass($1)", table) is None:
            return None
        number = await con.fetchval(f"SELECT number FROM {table}")
        return None if number is None else int(number)
    finally:
        await con.close()


def _history_process(
    url: str, kind: str, where: str, to_block: int, batch: int, tokens: Path
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rosetta_node.index",
            "--history",
            "--rpc-url",
            url,
            "--db" if kind == "sqlite" else "--url",
            where,
            "--token-list",
            str(tokens),
            "--to-block",
            str(to_block),
            "--history-batch",
            str(batch),
            "--quiet",
        ],
        cwd=ROOT,
        env=settings_free_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _check_killed(kind: str, where: str, clean: HistoryDump) -> int | None:
    """A consistent history of exactly the blocks up to its cursor; the cursor."""
    if kind == "sqlite":
        con = sqlite3.connect(where)
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
    dump, seen = read_history(kind, where)
    if dump.cursor is None:
        assert dump.blocks == [] and seen == []
        return None
    assert dump.cursor.hash == clean.blocks[dump.cursor.number][1]
    assert up_to(dump, dump.cursor.number) == up_to(clean, dump.cursor.number)
    # Gap-free, one block_added per block, in order.
    assert seen == [(n, "block_added", n) for n in range(dump.cursor.number + 1)]
    return dump.cursor.number


def test_kill_9_during_a_backfill_equals_a_clean_backfill(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    with Anvil() as node:
        chain = TokenChain(node, tokens=2, seed=5)
        chain.activity(80, empty_every=4, empty=12)
        tokens = token_chain_list(chain, tmp_path / "tokens.json")
        to_block = int(chain.head()["number"], 16)
        clean = asyncio.run(backfill_history(node.url, tmp_path / "clean.sqlite", to_block, tokens))
        where = _where(kind, request, tmp_path / "killed.sqlite")
        kills, rounds, last, passes = 0, 0, -1, 0
        landed: list[int] = []  # the cursors the kills left
        while kills < 10:
            rounds += 1
            assert rounds < 40, f"only {kills} kills in {rounds} rounds (seed {seed})"
            process = _history_process(
                node.url, kind, where, to_block, rng.choice([1, 2, 4]), tokens
            )
            try:
                if rounds % 4 == 1:
                    time.sleep(rng.uniform(0.0, 1.0))  # anywhere, also during start-up
                else:
                    deadline = time.monotonic() + 20
                    while process.poll() is None and time.monotonic() < deadline:
                        number = _cursor_number(kind, where)
                        if number is not None and number > last:
                            break
                        time.sleep(0.002)
                    time.sleep(rng.uniform(0.0, 0.05))
                if process.poll() is not None:
                    _, err = process.communicate()
                    assert process.returncode == 0, err.decode()
                    passes += 1  # finished before the kill: go on with a new file
                    where = _where(kind, request, tmp_path / f"killed-{passes}.sqlite")
                    last = -1
                    continue
                process.kill()
                process.wait()
                kills += 1
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                for stream in (process.stdout, process.stderr):
                    if stream is not None:
                        stream.close()
            if kind != "sqlite" or Path(where).exists():
                number = _check_killed(kind, where, clean)
                last = -1 if number is None else number
                landed.append(last)
        middle = {n for n in landed if 0 < n < to_block}
        assert len(middle) >= 5, f"kills landed at {landed} of {to_block} (seed {seed})"
        process = _history_process(node.url, kind, where, to_block, 16, tokens)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert f"up to block {to_block}" in out.decode()
        assert read_history(kind, where)[0] == clean
        assert _check_killed(kind, where, clean) == to_block


# -- paging while blocks come ------------------------------------------------------------------


def test_paging_returns_every_row_once_while_blocks_keep_coming(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    with Anvil() as node:
        chain = TokenChain(node, seed=9)
        chain.activity(20)
        tokens = token_chain_list(chain, tmp_path / "tokens.json")
        where = _where(kind, request, tmp_path / "i.sqlite")
        process = NodeProcess(serve_args(node.url, CHAIN_ID, tokens), env=history_env(kind, where))
        stop = threading.Event()

        def mine() -> None:
            while not stop.is_set():
                chain.activity(1)

        miner = threading.Thread(target=mine, daemon=True)
        try:
            process.wait()
            client = RosettaClient(process.url)
            wait_history(client, block_hash=chain.head()["hash"])
            miner.start()
            sender = chain.dev[1]
            body = {"network_identifier": NETWORK, "account_identifier": {"address": sender}}
            first = client.ok("/search/transactions", {**body, "limit": 3})
            pinned = first["block_identifier"]["index"]
            walked, answer = list(first["transactions"]), first
            while "next_offset" in answer:
                time.sleep(0.05)  # blocks come meanwhile
                answer = client.ok(
                    "/search/transactions",
                    {**body, "limit": 3, "max_block": pinned, "offset": answer["next_offset"]},
                )
                assert answer["total_count"] == first["total_count"]
                walked.extend(answer["transactions"])
            seen_events = events(client, 0, limit=5)  # while blocks come, too
            tip = wait_history(client, pinned + 3)  # blocks did come during the walk
        finally:
            stop.set()
            miner.join(30)
            process.stop()
        assert tip["index"] > pinned
        keys = [
            (t["block_identifier"]["index"], t["transaction"]["transaction_identifier"]["hash"])
            for t in walked
        ]
        assert len(keys) == len(set(keys)) == first["total_count"]
        # Against /block of our node (a fresh one: the other has stopped).
        check = NodeProcess(serve_args(node.url, CHAIN_ID, tokens))
        try:
            check.wait()
            txs = block_transactions(RosettaClient(check.url), 0, pinned)
        finally:
            check.stop()
        assert walked == expected(
            txs, lambda op: op["account"]["address"].lower() == sender.lower()
        )
        assert [e["sequence"] for e in seen_events] == list(range(len(seen_events)))
        assert [e["block_identifier"]["index"] for e in seen_events] == list(
            range(len(seen_events))
        )
