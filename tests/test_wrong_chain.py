"""A node swapped behind the RPC URL for another chain: every answer meanwhile is a retriable
error (never the other chain's data), and answers are right again once the URL is fixed."""

from __future__ import annotations

from typing import Any

import requests

from rosetta_node import errors as catalog
from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, NodeProcess, RosettaClient
from tests.fault_proxy import FaultProxy
from tests.spec_check import validate_response


def _asks(devnet: Devnet, account: str) -> list[tuple[str, dict[str, Any]]]:
    token = devnet.tracked[0]
    balance = {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
        "currencies": [
            {"symbol": "ETH", "decimals": 18},
            {
                "symbol": token.symbol,
                "decimals": token.decimals,
                "metadata": {"contractAddress": token.address},
            },
        ],
    }
    return [
        ("/account/balance", {**balance, "block_identifier": {"index": 12}}),  # finalized: cached
        ("/account/balance", {**balance, "block_identifier": {"index": 200}}),
        ("/account/balance", balance),  # the head
        ("/block", {"network_identifier": NETWORK, "block_identifier": {"index": 30}}),
        ("/network/status", {"network_identifier": NETWORK}),
    ]


def test_a_node_of_another_chain_never_answers(anvil: Anvil, devnet: Devnet, rpc: JsonRpc) -> None:
    account = devnet.workload.accounts[3]
    other = Anvil(chain_id=1337)
    other.start()
    proxy = FaultProxy(anvil.url).start()
    process = NodeProcess(
        ["--rpc-url", proxy.url, "--chain-id", str(CHAIN_ID)],
        env={"ROSETTA_NODE_RPC_RETRIES": "0"},
    )
    try:
        process.wait()
        node = RosettaClient(process.url)
        right = {
            path + str(body.get("block_identifier")): node.ok(path, body)
            for path, body in _asks(devnet, account)
        }
        assert right["/account/balance{'index': 12}"]["balances"][0]["value"] == str(
            rpc.balance(account, 12)
        )
        proxy.upstream = other.url  # the URL now reaches a node of chain 1337
        refused = 0
        for path, body in _asks(devnet, account):
            answer = node.post(path, body)
            if answer.status == 200:  # only from what was cached of our chain before
                assert answer.body == right[path + str(body.get("block_identifier"))], path
                continue
            assert answer.body["code"] == catalog.WRONG_CHAIN.code, (path, answer.body)
            assert answer.body["retriable"] is True
            refused += 1
        assert refused >= 3
        native = requests.post(
            process.url + "/rpc/IndexerGateway/GetNativeTokenBalance",
            json={"accountAddress": account},
            timeout=30,
        )
        body = native.json()
        validate_response(
            "/rpc/IndexerGateway/GetNativeTokenBalance",
            native.status_code,
            body,
            spec="sequence.yaml",
        )
        assert native.status_code == 200 and body["balances"][0].get("result") is None, body
        assert body["balances"][0]["errorReason"], body  # that chain failed, not the call
        ready = requests.get(process.url + "/readyz", timeout=30)
        assert ready.status_code == 503
        proxy.upstream = anvil.url
        for path, body in _asks(devnet, account):
            again = node.ok(path, body)
            if path != "/network/status" and body.get("block_identifier"):
                assert again == right[path + str(body.get("block_identifier"))]
    finally:
        process.stop()
        proxy.stop()
        other.stop()
