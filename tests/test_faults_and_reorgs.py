"""Node trouble gives retriable errors (or a right answer after a retry), never a wrong one;
a reorg never serves the orphaned branch for the new chain's numbers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, NodeProcess, RosettaClient
from tests.fault_proxy import FaultProxy, node_behind_proxy

pytestmark = pytest.mark.devnet  # every test here starts a node

RETRIABLE = {
    catalog.NODE_UNAVAILABLE.code,
    catalog.NODE_TIMEOUT.code,
    catalog.NODE_ERROR.code,
    catalog.DATA_NOT_YET_AVAILABLE.code,
}


@pytest.fixture(scope="module")
def proxied(anvil: Anvil, devnet: Devnet) -> Iterator[tuple[FaultProxy, RosettaClient]]:
    env = {"ROSETTA_NODE_RPC_TIMEOUT": "1", "ROSETTA_NODE_RPC_RETRIES": "2"}
    args = ["--token-list", str(devnet.token_list)]
    with node_behind_proxy(anvil.url, env, args, chain_id=CHAIN_ID) as (proxy, process):
        yield proxy, RosettaClient(process.url)


def _balance_request(devnet: Devnet, index: int, account: str) -> dict[str, Any]:
    token = devnet.tracked[0]
    return {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
        "block_identifier": {"index": index},
        "currencies": [
            {"symbol": "ETH", "decimals": 18},
            {
                "symbol": token.symbol,
                "decimals": token.decimals,
                "metadata": {"contractAddress": token.address},
            },
        ],
    }


def _expected(rpc: JsonRpc, devnet: Devnet, index: int, account: str) -> list[str]:
    token = devnet.tracked[0]
    return [str(rpc.balance(account, index)), str(rpc.token_balance(token.address, account, index))]


FAULTS = [
    ("status", {"status": 502}),
    ("status", {"status": 503}),
    ("garbage", {}),
    ("truncate", {}),
    ("reset", {}),
    ("delay", {"seconds": 1.5}),
    ("batch_error", {}),
]


@pytest.mark.parametrize(("kind", "options"), FAULTS, ids=[f[0] + str(f[1]) for f in FAULTS])
def test_persistent_fault_is_a_retriable_error(
    proxied: tuple[FaultProxy, RosettaClient],
    rpc: JsonRpc,
    devnet: Devnet,
    kind: str,
    options: dict[str, Any],
) -> None:
    proxy, node = proxied
    accounts = devnet.workload.accounts
    index = 10 + FAULTS.index((kind, options))
    proxy.arm(kind, **options)
    try:
        answer = node.post("/account/balance", _balance_request(devnet, index, accounts[2]))
        if kind == "batch_error" and answer.status == 200:
            pytest.fail(f"a failed batch element gave an answer: {answer.body}")
        assert answer.status == 500, answer.body
        assert answer.body["retriable"] is True and answer.body["code"] in RETRIABLE, answer.body
        block = node.post(
            "/block", {"network_identifier": NETWORK, "block_identifier": {"index": index + 50}}
        )
        assert block.status == 500 and block.body["retriable"] is True, block.body
    finally:
        proxy.disarm()
    # and once the node behaves again, the answer is right
    body = node.ok("/account/balance", _balance_request(devnet, index, accounts[2]))
    assert [b["value"] for b in body["balances"]] == _expected(rpc, devnet, index, accounts[2])


@pytest.mark.parametrize("kind", ["status", "garbage", "reset", "truncate"])
def test_single_fault_is_retried_to_a_right_answer(
    proxied: tuple[FaultProxy, RosettaClient], rpc: JsonRpc, devnet: Devnet, kind: str
) -> None:
    proxy, node = proxied
    index = 100 + ["status", "garbage", "reset", "truncate"].index(kind)
    account = devnet.workload.accounts[3]
    proxy.arm(kind, count=1)
    try:
        body = node.ok("/account/balance", _balance_request(devnet, index, account))
    finally:
        proxy.disarm()
    assert [b["value"] for b in body["balances"]] == _expected(rpc, devnet, index, account)


SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
RECEIVER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def test_reorg_serves_the_new_branch() -> None:
    with Anvil() as chain:
        rpc = JsonRpc(chain.url)
        for _ in range(6):
            chain.rpc("eth_sendTransaction", {"from": SENDER, "to": RECEIVER, "value": hex(10**18)})
        process = NodeProcess(["--rpc-url", chain.url, "--chain-id", str(CHAIN_ID)])
        try:
            process.wait()
            node = RosettaClient(process.url)
            head = int(rpc("eth_blockNumber"), 16)
            before = {}
            for index in range(head - 2, head + 1):
                before[index] = node.ok(
                    "/block", {"network_identifier": NETWORK, "block_identifier": {"index": index}}
                )["block"]
                node.ok(
                    "/account/balance",
                    {
                        "network_identifier": NETWORK,
                        "account_identifier": {"address": RECEIVER},
                        "block_identifier": {"index": index},
                    },
                )
            # Replace the last 3 blocks with a branch holding one different transfer.
            other = {"from": SENDER, "to": RECEIVER, "value": hex(7)}
            chain.rpc("anvil_reorg", 3, [[other, 0]])
            for index in range(head - 2, head + 1):
                canonical = rpc("eth_getBlockByNumber", hex(index), False)
                assert canonical["hash"] != before[index]["block_identifier"]["hash"]
                block = node.ok(
                    "/block", {"network_identifier": NETWORK, "block_identifier": {"index": index}}
                )["block"]
                assert block["block_identifier"]["hash"] == canonical["hash"]
                assert block["parent_block_identifier"]["hash"] == canonical["parentHash"]
                balance = node.ok(
                    "/account/balance",
                    {
                        "network_identifier": NETWORK,
                        "account_identifier": {"address": RECEIVER},
                        "block_identifier": {"index": index},
                    },
                )
                assert balance["block_identifier"]["hash"] == canonical["hash"]
                assert balance["balances"][0]["value"] == str(rpc.balance(RECEIVER, index))
        finally:
            process.stop()
