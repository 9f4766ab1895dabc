"""Sequence ``GetTransactionHistory`` against the devnet workload: the transactions are those
``/search/transactions`` finds, transfer for transfer; ERC-20 transfers are the chain's
Transfer logs and add up to ``balanceOf``; native transfers are the chain's transaction values;
paging returns every row once; every bad filter is the gateway's own error."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from rosetta_node.index.transfers import TRANSFER_TOPIC
from tests.conftest import CHAIN_ID, Devnet, IndexedNode, JsonRpc, RosettaClient
from tests.history_support import contract_of, search_all
from tests.test_sequence import Gateway

pytestmark = pytest.mark.devnet

ZERO = "0x" + "00" * 20
METHOD = "GetTransactionHistory"
VALUE_TYPES = {"CALL", "CREATE", "CREATE2", "SELFDESTRUCT"}
TOKEN_TYPES = {"ERC20_TRANSFER", "ERC20_MINT", "ERC20_BURN"}


@dataclass
class Setup:
    gw: Gateway
    client: RosettaClient
    rpc: JsonRpc
    devnet: Devnet
    last: int


@pytest.fixture(scope="module")
def setup(indexed_node: IndexedNode, devnet: Devnet, anvil: Any) -> Setup:
    last = devnet.workload.last_block
    indexed_node.wait_history(last)
    gw, client = Gateway(indexed_node.url), RosettaClient(indexed_node.url)
    return Setup(gw, client, JsonRpc(anvil.url), devnet, last)


def walk(gw: Gateway, flt: dict[str, Any], size: int = 1000, **extra: Any) -> list[dict[str, Any]]:
    """Every transaction of every page, checking each wrapper names its block."""
    found: list[dict[str, Any]] = []
    page: dict[str, Any] = {"pageSize": size}
    while True:
        body = {"chainIds": [CHAIN_ID], "filter": flt, "page": page, **extra}
        answer = gw.ok(METHOD, body)
        (wrapper,) = answer["transactions"]
        assert "errorReason" not in wrapper, wrapper
        assert wrapper["blockNumber"] >= flt.get("toBlock", 0) and wrapper["blockHash"]
        found.extend(wrapper["results"])
        if not answer["page"]["more"]:
            return found
        page = answer["page"]


def _accounts(setup: Setup) -> list[str]:
    return [a.lower() for a in setup.devnet.workload.accounts if int(a, 16) != 0]


def _account_moves(tx: dict[str, Any], account: str) -> Counter[tuple[str, str, int]]:
    """What the account's transfers must be, from /search's operations of the account."""
    moves: Counter[tuple[str, str, int]] = Counter()
    for op in tx["operations"]:
        if op["account"]["address"].lower() != account or op["status"] != "SUCCESS":
            continue
        value = int(op["amount"]["value"])
        if op["type"] in VALUE_TYPES | TOKEN_TYPES and value:
            side = "SEND" if value < 0 else "RECEIVE"
            moves[(side, contract_of(op) or ZERO, abs(value))] += 1
    return moves


def test_transactions_and_transfers_are_search_transactions(setup: Setup) -> None:
    checked = 0
    for account in _accounts(setup):
        ours = walk(setup.gw, {"accountAddress": account, "toBlock": setup.last})
        theirs, _ = search_all(
            setup.client, {"account_identifier": {"address": account}, "max_block": setup.last}
        )
        assert [t["txnHash"] for t in ours] == [
            t["transaction"]["transaction_identifier"]["hash"] for t in theirs
        ], account
        for tx, found in zip(ours, theirs, strict=True):
            assert (tx["blockNumber"], tx["blockHash"]) == (
                found["block_identifier"]["index"],
                found["block_identifier"]["hash"],
            )
            got = Counter(
                (t["transferType"], t["contractAddress"], int(t["amounts"][0]))
                for t in tx["transfers"]
            )
            assert got == _account_moves(found["transaction"], account), tx["txnHash"]
            for t in tx["transfers"]:
                assert account == (t["from"] if t["transferType"] == "SEND" else t["to"])
                assert t["contractType"] == ("NATIVE" if t["contractAddress"] == ZERO else "ERC20")
            checked += len(tx["transfers"])
    assert checked > 100


def test_token_transfers_are_the_chains_logs_and_add_up_to_balance_of(setup: Setup) -> None:
    receipts: dict[str, Any] = {}
    for token in setup.devnet.tracked:
        contract = token.address.lower()
        for account in _accounts(setup):
            flt = {"accountAddress": account, "contractAddress": contract, "toBlock": setup.last}
            balance = 0
            for tx in walk(setup.gw, flt):
                for t in tx["transfers"]:
                    assert t["contractAddress"] == contract
                    amount = int(t["amounts"][0])
                    balance += amount if t["transferType"] == "RECEIVE" else -amount
                    if tx["txnHash"] not in receipts:
                        receipts[tx["txnHash"]] = setup.rpc(
                            "eth_getTransactionReceipt", tx["txnHash"]
                        )
                    (log,) = [
                        x
                        for x in receipts[tx["txnHash"]]["logs"]
                        if int(x["logIndex"], 16) == t["logIndex"]
                    ]
                    assert log["address"].lower() == contract
                    assert log["topics"][0] == TRANSFER_TOPIC
                    assert "0x" + log["topics"][1][-40:] == t["from"]
                    assert "0x" + log["topics"][2][-40:] == t["to"]
                    assert int(log["data"], 16) == amount
            assert balance == setup.rpc.token_balance(contract, account, setup.last), account
    assert receipts


def test_native_transfers_are_the_chains_values_with_block_times(setup: Setup) -> None:
    hashes = [h for group in setup.devnet.workload.tx_hashes.values() for h in group]
    seen = 0
    for tx_hash in hashes[:: max(1, len(hashes) // 40)]:
        chain_tx = setup.rpc("eth_getTransactionByHash", tx_hash)
        receipt = setup.rpc("eth_getTransactionReceipt", tx_hash)
        sender = chain_tx["from"].lower()
        flt = {"accountAddress": sender, "transactionHashes": [tx_hash.upper().replace("X", "x")]}
        (tx,) = walk(setup.gw, flt)
        block = setup.rpc("eth_getBlockByHash", tx["blockHash"], False)
        assert int(block["number"], 16) == tx["blockNumber"]
        stamp = int(block["timestamp"], 16)
        assert datetime.fromisoformat(tx["timestamp"]) == datetime.fromtimestamp(stamp, UTC)
        value = int(chain_tx["value"], 16)
        if value == 0 or receipt["status"] != "0x1" or chain_tx["to"] is None:
            continue
        sent = {
            (t["from"], t["to"], int(t["amounts"][0]), t["logIndex"])
            for t in tx["transfers"]
            if t["contractType"] == "NATIVE" and t["transferType"] == "SEND"
        }
        assert (sender, chain_tx["to"].lower(), value, -1) in sent, tx
        seen += 1
    assert seen > 3


def test_paging_returns_every_row_once(setup: Setup) -> None:
    account = max(
        _accounts(setup),
        key=lambda a: len(walk(setup.gw, {"accountAddress": a, "toBlock": setup.last})),
    )
    whole = walk(setup.gw, {"accountAddress": account})
    assert len(whole) > 20
    for size in (1, 7, len(whole) - 1, len(whole)):
        paged = walk(setup.gw, {"accountAddress": account}, size=size)
        assert paged == whole, size
    first = setup.gw.ok(METHOD, {"filter": {"accountAddress": account}, "page": {"pageSize": 5}})
    assert first["page"] == {
        "page": 2,
        "pageSize": 5,
        "more": True,
        "after": f"{CHAIN_ID}:{first['transactions'][0]['blockNumber']}:4",
    }


def test_filters(setup: Setup) -> None:
    account = _accounts(setup)[3]
    everything = walk(setup.gw, {"accountAddress": account, "toBlock": setup.last})
    numbers = [t["blockNumber"] for t in everything]
    low, high = numbers[-1] + 1, numbers[0] - 1
    ranged = walk(setup.gw, {"accountAddress": account, "fromBlock": low, "toBlock": high})
    assert ranged == [t for t in everything if low <= t["blockNumber"] <= high]
    picked = [t["txnHash"] for t in everything[::3]]
    by_hash = walk(setup.gw, {"accountAddress": account, "transactionHashes": picked})
    assert [t["txnHash"] for t in by_hash] == picked
    native = walk(
        setup.gw, {"accountAddress": account, "contractAddress": ZERO, "toBlock": setup.last}
    )
    theirs, _ = search_all(
        setup.client,
        {
            "account_identifier": {"address": account},
            "currency": {"symbol": "ETH", "decimals": 18},
            "max_block": setup.last,
        },
    )
    assert [t["txnHash"] for t in native] == [
        t["transaction"]["transaction_identifier"]["hash"] for t in theirs
    ]
    assert all(t["contractType"] == "NATIVE" for tx in native for t in tx["transfers"])
    assert walk(setup.gw, {"accountAddress": account, "tokenID": "1"}) == []
    with_info = walk(
        setup.gw,
        {"accountAddress": account, "contractAddresses": [setup.devnet.tracked[0].address]},
        includeMetadata=True,
    )
    transfers = [t for tx in with_info for t in tx["transfers"]]
    assert transfers and all(
        t["contractInfo"]["address"] == t["contractAddress"] for t in transfers
    )


BAD_FILTERS = [
    None,
    {},
    {"accountAddress": "0x12"},
    {"accountAddresses": ["0x" + "ab" * 20, "0x" + "cd" * 20]},
    {"accountAddress": "0x" + "ab" * 20, "accountAddresses": ["0x" + "cd" * 20]},
    {"accountAddress": "0x" + "ab" * 20, "contractAddress": "nope"},
    {"accountAddress": "0x" + "ab" * 20, "contractAddresses": ["0x" + "ab" * 19]},
    {"accountAddress": "0x" + "ab" * 20, "transactionHashes": ["0x" + "ab" * 31]},
    {"accountAddress": "0x" + "ab" * 20, "transactionHashes": ["0x" + "ab" * 32] * 101},
    {"accountAddress": "0x" + "ab" * 20, "fromBlock": -1},
    {"accountAddress": "0x" + "ab" * 20, "toBlock": 2**70},
    {"accountAddress": "0x" + "ab" * 20, "fromBlock": 9, "toBlock": 8},
]


@pytest.mark.parametrize("flt", BAD_FILTERS)
def test_bad_filters_are_invalid_arguments(setup: Setup, flt: Any) -> None:
    setup.gw.error(METHOD, {"filter": flt}, 400, "InvalidArgument")


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"accountAddress": 7}},
        {"filter": {"accountAddress": "0x" + "ab" * 20, "fromBlock": "1"}},
        {"filter": {"accountAddress": "0x" + "ab" * 20, "transactionHashes": "0x"}},
        {"filter": []},
    ],
)
def test_mistyped_fields_are_bad_requests(setup: Setup, body: Any) -> None:
    setup.gw.error(METHOD, body, 400, "WebrpcBadRequest")


def test_bad_cursors_and_future_blocks(setup: Setup) -> None:
    account = _accounts(setup)[0]
    for after in ("x", "1:2", f"{CHAIN_ID}:a:1", f"{CHAIN_ID}:1:-1"):
        body = {"filter": {"accountAddress": account}, "page": {"after": after}}
        setup.gw.error(METHOD, body, 400, "InvalidArgument")
    ahead = setup.gw.ok(METHOD, {"filter": {"accountAddress": account, "toBlock": 10**9}})
    (wrapper,) = ahead["transactions"]
    assert "not reached" in wrapper["errorReason"] and wrapper["results"] == []
