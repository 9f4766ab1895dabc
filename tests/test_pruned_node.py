"""A pruned geth (path scheme, full mode): state it dropped is a final answer on every route.

geth keeps the state of its last 128 blocks; older state is gone for good. Every route that
needs it answers catalog error 27 (not retriable, details saying an archive node is needed),
never "retry later" forever, nor "call reverted". Recent blocks are still served.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from eth_account import Account

from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.geth import Geth, dev_addresses, dev_keys

BLOCKS = 160  # more than the 128 recent states a pruned geth keeps
FIRST_OLD = 5  # from here on, the first block holding a transaction is the "old" one


@dataclass
class Pruned:
    node: RosettaClient
    rpc: JsonRpc
    url: str
    network: dict[str, str]
    sender: str
    old: int  # a block long pruned that holds a transaction (geth --dev may seal an empty one)


@pytest.fixture(scope="module")
def pruned() -> Iterator[Pruned]:
    with Geth(pruned=True, automine=True) as geth:
        rpc = JsonRpc(geth.url)
        key, sender, to = dev_keys()[0], dev_addresses()[0], dev_addresses()[1]
        for nonce in range(BLOCKS):  # one block per transaction (--dev.period 0)
            tx = {
                "to": to,
                "value": 10**15 + nonce,
                "gas": 21_000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
                "nonce": nonce,
                "chainId": geth.chain_id,
                "type": 2,
            }
            rpc(
                "eth_sendRawTransaction",
                "0x" + Account.sign_transaction(tx, key).raw_transaction.hex().removeprefix("0x"),
            )
            deadline = time.monotonic() + 10
            while int(rpc("eth_getTransactionCount", sender, "latest"), 16) <= nonce:
                assert time.monotonic() < deadline, "geth did not mine the transaction"
                time.sleep(0.005)
        old = next(
            n
            for n in range(FIRST_OLD, BLOCKS - 128 - 8)  # well below the 128 kept states
            if rpc("eth_getBlockByNumber", hex(n), False)["transactions"]
        )
        process = NodeProcess(["--rpc-url", geth.url, "--chain-id", str(geth.chain_id)])
        try:
            process.wait()
            network = {"blockchain": "Ethereum", "network": f"chain-{geth.chain_id}"}
            yield Pruned(RosettaClient(process.url), rpc, process.url, network, sender, old)
        finally:
            process.stop()


def _error(pruned: Pruned, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(pruned.url + path, json=body, timeout=60)
    assert answer.status_code == 500, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _assert_missing_state(error: dict[str, Any]) -> None:
    assert error["code"] == 27, error
    assert error["retriable"] is False
    assert "archive node" in error["details"]["reason"]


def test_the_node_itself_dropped_old_state(pruned: Pruned) -> None:
    with pytest.raises(RuntimeError, match="not available"):
        pruned.rpc("eth_getBalance", pruned.sender, hex(pruned.old))
    head = int(pruned.rpc("eth_blockNumber"), 16)
    assert int(pruned.rpc("eth_getBalance", pruned.sender, hex(head - 1)), 16) > 0


def test_block_of_pruned_state(pruned: Pruned) -> None:
    body = {"network_identifier": pruned.network, "block_identifier": {"index": pruned.old}}
    _assert_missing_state(_error(pruned, "/block", body))
    tx_hash = pruned.rpc("eth_getBlockByNumber", hex(pruned.old), False)["transactions"][0]
    body = {
        "network_identifier": pruned.network,
        "block_identifier": {
            "index": pruned.old,
            "hash": pruned.rpc("eth_getBlockByNumber", hex(pruned.old), False)["hash"],
        },
        "transaction_identifier": {"hash": tx_hash},
    }
    _assert_missing_state(_error(pruned, "/block/transaction", body))


def test_balance_of_pruned_state(pruned: Pruned) -> None:
    body = {
        "network_identifier": pruned.network,
        "account_identifier": {"address": pruned.sender},
        "block_identifier": {"index": pruned.old},
    }
    _assert_missing_state(_error(pruned, "/account/balance", body))


@pytest.mark.parametrize(
    ("method", "parameters"),
    [
        ("eth_getBalance", {"address": dev_addresses()[1]}),
        ("eth_getTransactionCount", {"address": dev_addresses()[0]}),
        ("eth_call", {"to": dev_addresses()[1], "data": "0x"}),
    ],
)
def test_call_of_pruned_state(pruned: Pruned, method: str, parameters: dict[str, Any]) -> None:
    body = {
        "network_identifier": pruned.network,
        "method": method,
        "parameters": {**parameters, "block_identifier": {"index": pruned.old}},
    }
    _assert_missing_state(_error(pruned, "/call", body))


def test_recent_blocks_still_served(pruned: Pruned) -> None:
    head = int(pruned.rpc("eth_blockNumber"), 16)
    block = pruned.node.ok(
        "/block", {"network_identifier": pruned.network, "block_identifier": {"index": head - 1}}
    )["block"]
    fees = [op for tx in block["transactions"] for op in tx["operations"] if op["type"] == "FEE"]
    assert fees
    balance = pruned.node.ok(
        "/account/balance",
        {
            "network_identifier": pruned.network,
            "account_identifier": {"address": pruned.sender},
            "block_identifier": {"index": head - 1},
        },
    )
    assert int(balance["balances"][0]["value"]) == int(
        pruned.rpc("eth_getBalance", pruned.sender, hex(head - 1)), 16
    )
