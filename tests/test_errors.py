"""Bad input gets its own catalog error (HTTP 500, Rosetta Error), never a traceback."""

from __future__ import annotations

import pytest

from rosetta_node import errors as catalog
from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient

ACCOUNT = {"address": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"}


def balance_body(**extra: object) -> dict[str, object]:
    return {"network_identifier": NETWORK, "account_identifier": ACCOUNT, **extra}


def test_mismatched_index_and_hash(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    block_hash = rpc("eth_getBlockByNumber", "0x5", False)["hash"]
    body = node.error(
        "/account/balance",
        balance_body(block_identifier={"index": 6, "hash": block_hash}),
        catalog.BLOCK_MISMATCH.code,
    )
    assert body["details"]["index_of_hash"] == 5
    node.error(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"index": 6, "hash": block_hash}},
        catalog.BLOCK_MISMATCH.code,
    )


def test_unknown_block(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    unknown = "0x" + "ab" * 32
    node.error(
        "/account/balance",
        balance_body(block_identifier={"hash": unknown}),
        catalog.BLOCK_NOT_FOUND.code,
    )
    node.error(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"hash": unknown}},
        catalog.BLOCK_NOT_FOUND.code,
    )
    head = int(rpc("eth_blockNumber"), 16)
    body = node.error(
        "/account/balance",
        balance_body(block_identifier={"index": head + 1000}),
        catalog.BLOCK_NOT_YET_AVAILABLE.code,
    )
    assert body["retriable"] is True


def test_unknown_network(node: RosettaClient, devnet: Devnet) -> None:
    other = {"blockchain": "Ethereum", "network": "mainnet"}
    for path in ("/network/status", "/network/options", "/mempool"):
        node.error(path, {"network_identifier": other}, catalog.UNKNOWN_NETWORK.code)
    node.error(
        "/account/balance",
        {**balance_body(), "network_identifier": other},
        catalog.UNKNOWN_NETWORK.code,
    )


@pytest.mark.parametrize(
    "address",
    ["0x123", "f39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x" + "zz" * 20, "", "0x" + "1" * 42],
)
def test_bad_address(node: RosettaClient, address: str) -> None:
    node.error(
        "/account/balance",
        balance_body(account_identifier={"address": address}),
        catalog.INVALID_ADDRESS.code,
    )


@pytest.mark.parametrize("payload", [b"{bad", b"", b"[1,2", b"\xff\xfe", b"null x"])
def test_bad_json(node: RosettaClient, payload: bytes) -> None:
    for path in ("/account/balance", "/block", "/network/list"):
        answer = node.raw(path, payload)
        assert answer.status == 500
        assert answer.body["code"] == catalog.MALFORMED_JSON.code


@pytest.mark.parametrize(
    "body",
    [
        {"network_identifier": NETWORK},  # no account
        balance_body(block_identifier={"index": "7"}),
        balance_body(block_identifier=[]),
        balance_body(currencies={"symbol": "ETH"}),
        balance_body(network_identifier="Ethereum"),
        [],
        "text",
    ],
)
def test_wrong_types(node: RosettaClient, body: object) -> None:
    reply = node.error("/account/balance", body, catalog.INVALID_REQUEST.code)
    assert reply["details"]["reason"]


def test_negative_index_and_bad_hash(node: RosettaClient) -> None:
    node.error(
        "/account/balance",
        balance_body(block_identifier={"index": -1}),
        catalog.INVALID_BLOCK_IDENTIFIER.code,
    )
    node.error(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"index": -5}},
        catalog.INVALID_BLOCK_IDENTIFIER.code,
    )
    node.error(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"hash": "0x12"}},
        catalog.INVALID_BLOCK_IDENTIFIER.code,
    )


def test_unknown_currency(node: RosettaClient) -> None:
    node.error(
        "/account/balance",
        balance_body(currencies=[{"symbol": "BTC", "decimals": 8}]),
        catalog.UNKNOWN_CURRENCY.code,
    )
    node.error(
        "/account/balance",
        balance_body(
            currencies=[{"symbol": "X", "decimals": 0, "metadata": {"contractAddress": "0x1"}}]
        ),
        catalog.UNKNOWN_CURRENCY.code,
    )


def test_coins_is_a_clear_error(node: RosettaClient) -> None:
    node.error(
        "/account/coins",
        {**balance_body(), "include_mempool": False},
        catalog.COINS_UNSUPPORTED.code,
    )


def test_transaction_not_in_block(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    block = rpc("eth_getBlockByNumber", "0x3", False)
    node.error(
        "/block/transaction",
        {
            "network_identifier": NETWORK,
            "block_identifier": {"index": 3, "hash": block["hash"]},
            "transaction_identifier": {"hash": "0x" + "11" * 32},
        },
        catalog.TRANSACTION_NOT_FOUND.code,
    )


def test_call_errors(node: RosettaClient) -> None:
    node.error(
        "/call",
        {"network_identifier": NETWORK, "method": "eth_sendRawTransaction", "parameters": {}},
        catalog.CALL_METHOD_UNSUPPORTED.code,
    )
    node.error(
        "/call",
        {
            "network_identifier": NETWORK,
            "method": "eth_getBalance",
            "parameters": {"address": "nope"},
        },
        catalog.INVALID_CALL_PARAMETERS.code,
    )
    node.error(
        "/call",
        {
            "network_identifier": NETWORK,
            "method": "eth_getBlockByNumber",
            "parameters": {"index": -1},
        },
        catalog.INVALID_CALL_PARAMETERS.code,
    )


def test_mempool_transaction_not_found(node: RosettaClient) -> None:
    node.error(
        "/mempool/transaction",
        {"network_identifier": NETWORK, "transaction_identifier": {"hash": "0x" + "22" * 32}},
        catalog.MEMPOOL_TX_NOT_FOUND.code,
    )


def test_unknown_fields_are_ignored(node: RosettaClient) -> None:
    body = node.ok("/network/list", {"metadata": {}, "extra": {"deep": [1, 2, 3]}})
    assert body["network_identifiers"] == [NETWORK]


def test_options_lists_the_whole_catalog(node: RosettaClient) -> None:
    listed = node.catalog()
    assert {e.code for e in catalog.CATALOG} == set(listed)
    for entry in listed.values():
        assert "details" not in entry
