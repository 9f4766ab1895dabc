"""Reorgs while requests run: no answer mixes two branches, no orphaned data is served for the
new chain's numbers, and the index the served node kept ends equal to a fresh backfill.

The truth for every block hash the chain ever had (balances at that hash, its transactions,
its parent) is recorded from anvil while that hash is canonical; every answer is checked
against the truth of the hash it says it was read at.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from rosetta_node.devnet import Anvil
from rosetta_node.index.sqlite import open_dump
from tests.conftest import CHAIN_ID, NETWORK, NodeProcess
from tests.spec_check import validate_response
from tests.test_index import backfill_into, same_index
from tests.test_index_chain import TokenChain, fresh_addresses

pytestmark = pytest.mark.devnet  # every test here starts a node

WINDOW = 12  # recent blocks whose truth is recorded after every chain change
SPAN = 6  # requests ask for blocks this far below the head at most


class Truth:
    """Per block hash: number, parent, transactions, and balances of the watched accounts."""

    def __init__(self, chain: TokenChain, accounts: list[str]) -> None:
        self.chain = chain
        self.accounts = accounts
        self.blocks: dict[str, dict[str, Any]] = {}
        self.head = 0

    def record(self) -> None:
        rpc = self.chain.rpc
        head = int(rpc("eth_blockNumber"), 16)
        numbers = list(range(max(0, head - WINDOW), head + 1))
        blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        token = self.chain.tokens[0]
        for block in blocks:
            if block["hash"] in self.blocks:
                continue
            pin = {"blockHash": block["hash"]}
            calls: list[tuple[str, list[Any]]] = []
            for account in self.accounts:
                data = "0x70a08231" + account[2:].lower().rjust(64, "0")
                calls.append(("eth_getBalance", [account, pin]))
                calls.append(("eth_call", [{"to": token, "data": data}, pin]))
            values = rpc.batch(calls)
            self.blocks[block["hash"]] = {
                "number": int(block["number"], 16),
                "parent": block["parentHash"],
                "txs": sorted(block["transactions"]),
                "balances": {
                    account.lower(): (str(int(values[2 * i], 16)), str(int(values[2 * i + 1], 16)))
                    for i, account in enumerate(self.accounts)
                },
            }
        self.head = head


def _worker(
    url: str, truth: Truth, token: str, stop: threading.Event, seed: int, out: list[Any]
) -> None:
    rng = random.Random(seed)
    session = requests.Session()
    while not stop.is_set():
        index = max(0, truth.head - rng.randint(0, SPAN))
        if rng.random() < 0.6:
            account = rng.choice(truth.accounts)
            body = {
                "network_identifier": NETWORK,
                "account_identifier": {"address": account},
                "block_identifier": {"index": index},
                "currencies": [
                    {"symbol": "ETH", "decimals": 18},
                    {"symbol": "TK0", "decimals": 18, "metadata": {"contractAddress": token}},
                ],
            }
            answer = session.post(url + "/account/balance", json=body, timeout=30)
            out.append(("balance", index, account.lower(), answer.status_code, answer.json()))
        else:
            body = {"network_identifier": NETWORK, "block_identifier": {"index": index}}
            answer = session.post(url + "/block", json=body, timeout=30)
            out.append(("block", index, None, answer.status_code, answer.json()))


def test_answers_during_reorgs_never_mix_branches(tmp_path: Path) -> None:
    with Anvil() as node:
        chain = TokenChain(node, tokens=1, seed=7)
        chain.activity(10)
        token = chain.tokens[0]
        token_list = tmp_path / "tokens.json"
        token_list.write_text(
            json.dumps(
                {
                    "name": "t",
                    "tokens": [
                        {"chainId": CHAIN_ID, "address": token, "symbol": "TK0", "decimals": 18}
                    ],
                }
            )
        )
        watched = chain.dev[1:4] + chain.pool[:3]
        truth = Truth(chain, watched)
        truth.record()
        db = tmp_path / "served.db"
        process = NodeProcess(
            ["--rpc-url", node.url, "--chain-id", str(CHAIN_ID), "--token-list", str(token_list)],
            env={"ROSETTA_NODE_INDEX_DB": str(db), "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.05"},
        )
        answers: list[Any] = []
        stop = threading.Event()
        try:
            process.wait()
            threads = [
                threading.Thread(
                    target=_worker, args=(process.url, truth, token, stop, seed, answers)
                )
                for seed in range(3)
            ]
            for thread in threads:
                thread.start()
            rng = random.Random(11)
            try:
                for round_ in range(8):
                    # New blocks, then replace the last few with a branch paying others.
                    chain.activity(rng.randint(1, 3))
                    truth.record()
                    time.sleep(0.3)
                    depth = rng.randint(1, 4)
                    payee = fresh_addresses(f"branch{round_}", 1)[0]
                    watched_payee = rng.choice(watched)
                    txs = [
                        [chain.transfer_tx(token, chain.dev[1], payee, 3 + round_), 0],
                        [chain.transfer_tx(token, chain.dev[2], watched_payee, 5), depth - 1],
                    ]
                    node.rpc("anvil_reorg", depth, txs)
                    truth.record()
                    time.sleep(0.3)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(30)
            head = truth.chain.head()
            _wait_index(process.url, head["hash"])
            _stale_cursor_is_refused(process.url, chain, token)
            head = truth.chain.head()
            _wait_index(process.url, head["hash"])
        finally:
            process.stop()

        checked = {"balance": 0, "block": 0}
        for kind, index, account, status, body in answers:
            if status != 200:
                assert body["retriable"] is True, (kind, index, body)  # a branch vanished
                continue
            if kind == "balance":
                block_hash = body["block_identifier"]["hash"]
                known = truth.blocks[block_hash]  # KeyError: a hash the chain never had
                assert known["number"] == index == body["block_identifier"]["index"]
                values = tuple(b["value"] for b in body["balances"])
                assert values == known["balances"][account], (index, block_hash, account)
            else:
                block = body["block"]
                known = truth.blocks[block["block_identifier"]["hash"]]
                assert known["number"] == index
                assert block["parent_block_identifier"]["hash"] == known["parent"]
                txs = sorted(t["transaction_identifier"]["hash"] for t in block["transactions"])
                assert txs == known["txs"]
            checked[kind] += 1
        assert checked["balance"] > 50 and checked["block"] > 30, checked
        numbers = sorted({b["number"] for b in truth.blocks.values()})
        canonical = {
            b["hash"]
            for b in chain.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        }
        orphaned = set(truth.blocks) - canonical
        assert len(orphaned) >= 8, "the reorgs did not happen"
        served_orphans = sum(
            1
            for kind, _, _, status, body in answers
            if status == 200
            and (body.get("block_identifier") or body.get("block", {}).get("block_identifier"))[
                "hash"
            ]
            in orphaned
        )
        print(
            f"checked {checked}, {len(orphaned)} orphaned blocks, {served_orphans} answers "
            "read on a branch that was orphaned later"
        )

        served = open_dump(db, "Ethereum/devnet")
        fresh, _ = asyncio.run(backfill_into(node.url, tmp_path / "fresh.db", head_number(head)))
        same_index(served, fresh)


def head_number(head: dict[str, Any]) -> int:
    return int(head["number"], 16)


def _wait_index(url: str, head_hash: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(url + "/readyz", timeout=5).json()
        if body["networks"][0].get("index", {}).get("hash") == head_hash:
            return
        time.sleep(0.05)
    raise AssertionError(f"the served index did not reach {head_hash}: {body}")


def _stale_cursor_is_refused(url: str, chain: TokenChain, token: str) -> None:
    """A GetBalanceUpdates cursor whose block a reorg replaced is InvalidArgument, saying so."""
    route = url + "/rpc/IndexerGateway/GetBalanceUpdates"
    first = requests.post(route, json={"contractAddress": token, "lastBlockNumber": 0}, timeout=30)
    assert first.status_code == 200, first.text
    (wrapper,) = first.json()["balances"]
    number, block_hash = wrapper["blockNumber"], wrapper["blockHash"]
    chain.node.rpc("anvil_mine", "0x1")  # so the replacing transfer lands after `number`
    depth = int(chain.head()["number"], 16) - number + 1
    transfer = chain.transfer_tx(token, chain.dev[3], chain.pool[0], 1)
    chain.node.rpc("anvil_reorg", depth, [[transfer, depth - 1]])
    _wait_index(url, chain.head()["hash"])
    stale = {"contractAddress": token, "lastBlockNumber": number, "lastBlockHash": block_hash}
    answer = requests.post(route, json=stale, timeout=30)
    body = answer.json()
    validate_response(
        "/rpc/IndexerGateway/GetBalanceUpdates", answer.status_code, body, spec="sequence.yaml"
    )
    assert answer.status_code == 400 and body["error"] == "InvalidArgument", body
    assert "lastBlockHash" in body["cause"], body
    canonical = chain.rpc("eth_getBlockByNumber", hex(number), False)["hash"]
    resumed = {**stale, "lastBlockHash": canonical}
    again = requests.post(route, json=resumed, timeout=30)
    assert again.status_code == 200, again.text
    changed = {r["accountAddress"].lower() for r in again.json()["balances"][0]["results"]}
    assert chain.pool[0].lower() in changed  # the replacing branch's transfer is reported
