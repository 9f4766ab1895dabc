"""/network/*, /call and /mempool answers, compared with the node's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rosetta_node.devnet import Anvil
from tests.conftest import CHAIN_ID, NETWORK, Devnet, JsonRpc, NodeProcess, RosettaClient

SENDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
RECEIVER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_network_list(node: RosettaClient) -> None:
    assert node.ok("/network/list", {})["network_identifiers"] == [NETWORK]


def test_network_status(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    body = node.ok("/network/status", {"network_identifier": NETWORK})
    head = rpc("eth_getBlockByNumber", "latest", False)
    genesis = rpc("eth_getBlockByNumber", "0x0", False)
    assert body["current_block_identifier"] == {
        "index": int(head["number"], 16),
        "hash": head["hash"],
    }
    assert body["current_block_timestamp"] == int(head["timestamp"], 16) * 1000
    assert body["genesis_block_identifier"] == {"index": 0, "hash": genesis["hash"]}
    assert body["sync_status"]["synced"] is (rpc("eth_syncing") is False)
    assert body["sync_status"]["current_index"] == int(head["number"], 16)


def test_network_options(node: RosettaClient, rpc: JsonRpc) -> None:
    body = node.ok("/network/options", {"network_identifier": NETWORK})
    assert body["version"]["node_version"] == rpc("web3_clientVersion")
    allow = body["allow"]
    assert allow["historical_balance_lookup"] is True
    assert {s["status"]: s["successful"] for s in allow["operation_statuses"]} == {
        "SUCCESS": True,
        "FAILURE": False,
    }
    assert {"eth_call", "eth_getTransactionReceipt", "eth_getBlockByNumber"} <= set(
        allow["call_methods"]
    )
    # anvil's genesis has a real timestamp, so no block is exempt.
    assert "timestamp_start_index" not in allow


def test_every_operation_type_is_advertised(node: RosettaClient, devnet: Devnet) -> None:
    allowed = set(
        node.ok("/network/options", {"network_identifier": NETWORK})["allow"]["operation_types"]
    )
    for index in range(devnet.workload.first_block, devnet.workload.last_block + 1):
        block = node.ok(
            "/block", {"network_identifier": NETWORK, "block_identifier": {"index": index}}
        )
        for tx in block["block"]["transactions"]:
            assert {op["type"] for op in tx["operations"]} <= allowed


def test_genesis_block_without_genesis_file(node: RosettaClient, rpc: JsonRpc) -> None:
    genesis = rpc("eth_getBlockByNumber", "0x0", False)
    block = node.ok("/block", {"network_identifier": NETWORK, "block_identifier": {"index": 0}})[
        "block"
    ]
    assert block["block_identifier"] == {"index": 0, "hash": genesis["hash"]}
    assert block["parent_block_identifier"] == block["block_identifier"]
    assert block["transactions"] == []


def _call(node: RosettaClient, method: str, parameters: dict[str, object]) -> dict[str, object]:
    return node.ok(
        "/call", {"network_identifier": NETWORK, "method": method, "parameters": parameters}
    )  # type: ignore[no-any-return]


def test_call_methods_answer_like_the_node(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    token = devnet.tracked[0]
    holder = devnet.workload.accounts[1]
    block = rpc("eth_getBlockByNumber", hex(devnet.workload.last_block), False)
    data = "0x70a08231" + holder[2:].lower().rjust(64, "0")
    pinned = _call(
        node,
        "eth_call",
        {"to": token.address, "data": data, "block_identifier": {"hash": block["hash"]}},
    )
    assert pinned == {
        "result": {
            "result": rpc(
                "eth_call", {"to": token.address, "data": data}, {"blockHash": block["hash"]}
            )
        },
        "idempotent": True,
    }
    tx_hash = devnet.workload.tx_hashes["erc20_transfer"][0]
    receipt = _call(node, "eth_getTransactionReceipt", {"tx_hash": tx_hash})
    assert receipt == {
        "result": {"result": rpc("eth_getTransactionReceipt", tx_hash)},
        "idempotent": False,
    }
    by_number = _call(node, "eth_getBlockByNumber", {"index": 3})
    assert by_number["result"] == {"result": rpc("eth_getBlockByNumber", "0x3", False)}
    by_hash = _call(node, "eth_getBlockByHash", {"hash": block["hash"], "full_transactions": True})
    assert by_hash == {
        "result": {"result": rpc("eth_getBlockByHash", block["hash"], True)},
        "idempotent": True,
    }
    balance = _call(node, "eth_getBalance", {"address": holder, "block_identifier": {"index": 5}})
    assert balance["result"] == {"result": rpc("eth_getBalance", holder, "0x5")}


def test_reverting_call_is_a_catalog_error(node: RosettaClient, devnet: Devnet) -> None:
    from rosetta_node import errors as catalog

    reverter = devnet.workload.contracts["reverter"]
    body = node.error(
        "/call",
        {
            "network_identifier": NETWORK,
            "method": "eth_call",
            "parameters": {"to": reverter, "data": "0x", "value": "0x1"},
        },
        catalog.CALL_REVERTED.code,
    )
    assert "revert" in body["details"]["node_message"].lower()


@pytest.fixture()
def paused_chain() -> Iterator[tuple[Anvil, RosettaClient]]:
    """A separate anvil with automining off, so transactions wait in the mempool."""
    chain = Anvil()
    chain.start()
    process = NodeProcess(["--rpc-url", chain.url, "--chain-id", str(CHAIN_ID)])
    try:
        chain.rpc("evm_setAutomine", False)
        process.wait()
        yield chain, RosettaClient(process.url)
    finally:
        process.stop()
        chain.stop()


def test_mempool(paused_chain: tuple[Anvil, RosettaClient]) -> None:
    chain, node = paused_chain
    assert node.ok("/mempool", {"network_identifier": NETWORK})["transaction_identifiers"] == []
    tx_hash = chain.rpc(
        "eth_sendTransaction", {"from": SENDER, "to": RECEIVER, "value": hex(12345)}
    )
    listed = node.ok("/mempool", {"network_identifier": NETWORK})["transaction_identifiers"]
    assert listed == [{"hash": tx_hash.lower()}]
    tx = node.ok(
        "/mempool/transaction",
        {"network_identifier": NETWORK, "transaction_identifier": {"hash": tx_hash}},
    )
    ops = tx["transaction"]["operations"]
    assert [(op["account"]["address"], op["amount"]["value"]) for op in ops] == [
        (SENDER, "-12345"),
        (RECEIVER, "12345"),
    ]
    assert all("status" not in op for op in ops)
    chain.rpc("evm_mine")
    assert node.ok("/mempool", {"network_identifier": NETWORK})["transaction_identifiers"] == []
