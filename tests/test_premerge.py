"""Every era's balance rules on a real geth: a pre-merge chain made by go-ethereum's own chain
maker (conformance/geth/premerge), from Frontier through the DAO fork, Byzantium,
Constantinople, London, the merge, Shanghai and Cancun, imported into the pinned geth and
served as an archive node. Our node is given only the genesis file, as an operator would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.geth import Geth
from tests.support.premerge import PremergeChain, build_premerge_chain
from tests.support.reconcile import reconcile

ETHER = 10**18


@dataclass
class Premerge:
    chain: PremergeChain
    rpc: JsonRpc
    node: RosettaClient
    network: dict[str, str]


@pytest.fixture(scope="module")
def premerge_geth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PremergeChain, Geth]]:
    chain = build_premerge_chain(tmp_path_factory.mktemp("premerge"))
    with Geth(datadir=chain.datadir, chain_id=chain.chain_id) as geth:
        yield chain, geth


@pytest.fixture(scope="module")
def premerge(premerge_geth: tuple[PremergeChain, Geth]) -> Iterator[Premerge]:
    chain, geth = premerge_geth
    process = _serve(chain, geth)
    try:
        process.wait()
        network = {"blockchain": "Ethereum", "network": f"chain-{chain.chain_id}"}
        yield Premerge(chain, JsonRpc(geth.url), RosettaClient(process.url), network)
    finally:
        process.stop()


def _serve(chain: PremergeChain, geth: Geth, env: dict[str, str] | None = None) -> NodeProcess:
    """Our node in front of the chain, given only its genesis file (as an operator would)."""
    args = ["--rpc-url", geth.url, "--chain-id", str(chain.chain_id)]
    return NodeProcess([*args, "--genesis-file", str(chain.genesis)], env=env)


def _block(p: Premerge, number: int) -> dict[str, Any]:
    query = {"network_identifier": p.network, "block_identifier": {"index": number}}
    return p.node.ok("/block", query)["block"]  # type: ignore[no-any-return]


def _ops(block: dict[str, Any], op_type: str) -> list[dict[str, Any]]:
    return [op for tx in block["transactions"] for op in tx["operations"] if op["type"] == op_type]


def test_every_block_from_genesis_reconciles(premerge: Premerge) -> None:
    facts = premerge.chain.facts
    accounts = [*facts["addresses"]["all"], *facts["dao"]["drain_list"]]
    result = reconcile(
        premerge.node,
        premerge.rpc,
        premerge.network,
        range(premerge.chain.last_block + 1),
        accounts,
    )
    assert result.blocks == premerge.chain.last_block + 1
    for kind in (
        "GENESIS",
        "MINER_REWARD",
        "UNCLE_REWARD",
        "DAO_FORK",
        "FEE",
        "CALL",
        "CREATE",
        "SELFDESTRUCT",
        "SELFDESTRUCT_BURN",
        "WITHDRAWAL",
    ):
        assert result.by_type.get(kind, 0) > 0, f"no {kind} operation on the whole chain"


def test_rewards_follow_the_chain(premerge: Premerge) -> None:
    """Block and uncle rewards of every era, read against the miners' balances on chain."""
    rpc = premerge.rpc
    eras = set()
    for number in range(1, premerge.chain.last_block + 1):
        header = rpc("eth_getBlockByNumber", hex(number), False)
        block = _ops(_block(premerge, number), "MINER_REWARD")
        if int(header["difficulty"], 16) == 0:
            assert block == [], f"block {number} is proof of stake but pays a reward"
            continue
        (reward,) = block
        assert reward["account"]["address"].lower() == header["miner"].lower()
        uncles = header["uncles"]
        paid = _ops(_block(premerge, number), "UNCLE_REWARD")
        assert len(paid) == len(uncles)
        for index, op in enumerate(paid):
            uncle = rpc("eth_getUncleByBlockHashAndIndex", header["hash"], hex(index))
            assert op["account"]["address"].lower() == uncle["miner"].lower()
        static = (int(reward["amount"]["value"]) * 32) // (32 + len(uncles))
        eras.add(static // ETHER)
    assert eras == {5, 3, 2}  # Frontier/Homestead, Byzantium, Constantinople on


def test_dao_fork_moves_every_listed_balance(premerge: Premerge) -> None:
    dao = premerge.chain.facts["dao"]
    number = int(dao["block"])
    moves = _ops(_block(premerge, number), "DAO_FORK")
    refund = dao["refund_contract"].lower()
    debits = {
        op["account"]["address"].lower(): -int(op["amount"]["value"])
        for op in moves
        if int(op["amount"]["value"]) < 0
    }
    credited = sum(
        int(op["amount"]["value"]) for op in moves if op["account"]["address"].lower() == refund
    )
    for address in dao["drain_list"]:
        before = premerge.rpc.balance(address, number - 1)
        assert premerge.rpc.balance(address, number) == 0
        assert debits.get(address.lower(), 0) == before
    assert credited == premerge.rpc.balance(refund, number) - premerge.rpc.balance(
        refund, number - 1
    )
    assert len(debits) == len(dao["drain_list"])  # every one of the 116 held a balance


def test_pre_byzantium_failures_have_no_status_but_fail(premerge: Premerge) -> None:
    failed = premerge.chain.facts["categories"]["failed_pre_byzantium"]
    assert failed
    for entry in failed:
        receipt = premerge.rpc("eth_getTransactionReceipt", entry["tx"])
        assert "status" not in receipt and "root" in receipt
        txs = _block(premerge, entry["block"])["transactions"]
        (tx,) = [t for t in txs if t["transaction_identifier"]["hash"] == entry["tx"].lower()]
        assert tx["metadata"]["status"] == 0
        moved = [op for op in tx["operations"] if op["type"] != "FEE"]
        assert moved and all(op["status"] == "FAILURE" for op in moved)


def test_forks_setting_wins_over_the_genesis_file(
    premerge_geth: tuple[PremergeChain, Geth], tmp_path: Path
) -> None:
    """The operator's forks setting replaces the genesis file's schedule, and the log says so:
    here Byzantium moved to block 1, so block 2 pays 3 ETH where the chain paid 5."""
    chain, geth = premerge_geth
    forks = {"byzantiumBlock": 1, "daoForkSupport": False}
    process = _serve(chain, geth, {"ROSETTA_NODE_FORKS": json.dumps(forks)})
    try:
        process.wait()
        node = RosettaClient(process.url)
        network = {"blockchain": "Ethereum", "network": f"chain-{chain.chain_id}"}
        block = node.ok("/block", {"network_identifier": network, "block_identifier": {"index": 2}})
        (reward,) = _ops(block["block"], "MINER_REWARD")
        uncles = len(JsonRpc(geth.url)("eth_getBlockByNumber", "0x2", False)["uncles"])
        assert int(reward["amount"]["value"]) == 3 * ETHER + 3 * ETHER // 32 * uncles
        deadline = time.monotonic() + 5  # log lines are written in bunches, a moment late
        while "fork schedule from the forks setting" not in process.output():
            assert time.monotonic() < deadline, process.output()[-2000:]
            time.sleep(0.05)
    finally:
        process.stop()
