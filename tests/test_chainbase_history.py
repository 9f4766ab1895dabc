"""Chainbase block, transaction and history routes against the devnet workload.

Blocks and transactions are compared with anvil's ``eth_getBlockByNumber``,
``eth_getTransactionByHash`` and ``eth_getTransactionReceipt``; ``/v1/account/txs`` and
``/v1/token/transfers`` with ``/search/transactions``, transaction for transaction and transfer
for transfer. Every answer is validated against specs/chainbase.yaml (the ``Chainbase`` client)
and names a block whose hash is anvil's.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import CHAIN_ID, Devnet, IndexedNode, JsonRpc, RosettaClient
from tests.history_support import contract_of, search_all
from tests.test_chainbase import UPSTREAM_ADDRESS, UPSTREAM_CONTRACT, Chainbase, pinned_block

pytestmark = pytest.mark.devnet

ZERO = "0x" + "00" * 20
TOKEN_TYPES = {"ERC20_TRANSFER", "ERC20_MINT", "ERC20_BURN"}


@pytest.fixture(scope="module")
def cb(indexed_node: IndexedNode, devnet: Devnet) -> Chainbase:
    indexed_node.wait_history(devnet.workload.last_block)
    return Chainbase(indexed_node.url)


@pytest.fixture(scope="module")
def client(indexed_node: IndexedNode) -> RosettaClient:
    return RosettaClient(indexed_node.url)


def _iso(seconds: str) -> str:
    return datetime.fromtimestamp(int(seconds, 16), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sample_hashes(devnet: Devnet, count: int = 30) -> list[str]:
    hashes = [h for group in devnet.workload.tx_hashes.values() for h in group]
    return hashes[:: max(1, len(hashes) // count)]


def _accounts(devnet: Devnet) -> list[str]:
    return [a.lower() for a in devnet.workload.accounts if int(a, 16) != 0]


# -- blocks and transactions (from the node) ---------------------------------------------------


def test_latest_block_is_the_head(cb: Chainbase, rpc: JsonRpc) -> None:
    before = int(rpc("eth_blockNumber"), 16)
    body = cb.ok("/v1/block/number/latest", {})
    number = pinned_block(rpc, body)
    assert number >= before
    assert body["data"] == {"number": number, "hash": body["block_hash"]}


def test_block_detail_is_the_nodes_block(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    first, last = devnet.workload.first_block, devnet.workload.last_block
    for number in (0, first, (first + last) // 2, last):
        for form in (str(number), hex(number)):
            body = cb.ok("/v1/block/detail", {"number": form})
            assert pinned_block(rpc, body) == number
            block, data = rpc("eth_getBlockByNumber", hex(number), False), body["data"]
            assert data["number"] == number and data["hash"] == block["hash"]
            assert data["timestamp"] == _iso(block["timestamp"])
            assert data["difficulty"] == str(int(block["difficulty"], 16))
            for ours, theirs in (
                ("gas_limit", "gasLimit"),
                ("gas_used", "gasUsed"),
                ("base_fee_per_gas", "baseFeePerGas"),
                ("size", "size"),
            ):
                assert data[ours] == int(block[theirs], 16), ours
            for ours, theirs in (
                ("parent_hash", "parentHash"),
                ("extra_data", "extraData"),
                ("miner", "miner"),
                ("mix_hash", "mixHash"),
                ("nonce", "nonce"),
                ("receipts_root", "receiptsRoot"),
                ("sha3_uncles", "sha3Uncles"),
                ("state_root", "stateRoot"),
                ("transactions_root", "transactionsRoot"),
            ):
                assert data[ours] == block[theirs].lower(), ours
            assert data["transactions_count"] == len(block["transactions"])
            assert data["uncles_count"] == len(block["uncles"])
            assert data["withdrawals_count"] == len(block.get("withdrawals") or [])


def check_tx(rpc: JsonRpc, data: dict[str, Any]) -> None:
    """A TxDetail against anvil's transaction, receipt and block."""
    tx = rpc("eth_getTransactionByHash", data["transaction_hash"])
    receipt = rpc("eth_getTransactionReceipt", data["transaction_hash"])
    block = rpc("eth_getBlockByHash", tx["blockHash"], False)
    used, price = int(receipt["gasUsed"], 16), int(receipt["effectiveGasPrice"], 16)
    base = int(block["baseFeePerGas"], 16)
    cap = int(tx.get("maxFeePerGas") or "0x0", 16)
    assert data == {
        "type": int(tx["type"], 16),
        "status": int(receipt["status"], 16),
        "block_number": int(tx["blockNumber"], 16),
        "block_timestamp": _iso(block["timestamp"]),
        "transaction_hash": tx["hash"],
        "transaction_index": int(tx["transactionIndex"], 16),
        "from_address": tx["from"].lower(),
        "to_address": (tx["to"] or "").lower(),
        "value": str(int(tx["value"], 16)),
        "input": tx["input"].lower(),
        "nonce": int(tx["nonce"], 16),
        "contract_address": (receipt.get("contractAddress") or "").lower(),
        "gas": int(tx["gas"], 16),
        "gas_price": int(tx["gasPrice"], 16),
        "gas_used": used,
        "effective_gas_price": price,
        "cumulative_gas_used": int(receipt["cumulativeGasUsed"], 16),
        "max_fee_per_gas": cap,
        "max_priority_fee_per_gas": int(tx.get("maxPriorityFeePerGas") or "0x0", 16),
        "tx_fee": used * price,
        "saving_fee": (cap - price) * used if cap else 0,
        "burnt_fee": used * base,
    }


def test_tx_detail_by_hash_and_by_position(cb: Chainbase, rpc: JsonRpc, devnet: Devnet) -> None:
    statuses = set()
    for tx_hash in _sample_hashes(devnet):
        body = cb.ok("/v1/tx/detail", {"hash": tx_hash.upper().replace("X", "x")})
        data = body["data"]
        check_tx(rpc, data)
        assert pinned_block(rpc, body) == data["block_number"]
        statuses.add(data["status"])
        place = {"block_number": data["block_number"], "tx_index": data["transaction_index"]}
        assert cb.ok("/v1/tx/detail", place)["data"] == data
        # The vendor: with hash and position both given, the hash is used.
        assert (
            cb.ok("/v1/tx/detail", {"hash": tx_hash, "block_number": 0, "tx_index": 0})["data"]
            == data
        )
    assert statuses == {0, 1}, "the workload has failed transactions too"


# -- history routes (against /search/transactions) ----------------------------------------------


def pages(cb: Chainbase, path: str, params: dict[str, Any], limit: int) -> list[Any]:
    """Every page; without ``to_block`` the later pages are pinned to the first answer's block
    (the history's block it was read at), with one they keep it."""
    first = cb.ok(path, {**params, "limit": limit})
    pinned = {"to_block": first["block_number"], **params, "limit": limit}
    rows, answer = list(first["data"]), first
    while "next_page" in answer:
        assert len(answer["data"]) == limit  # only the last page may be short
        answer = cb.ok(path, {**pinned, "page": answer["next_page"]})
        assert (answer["block_number"], answer["count"]) == (first["block_number"], first["count"])
        rows.extend(answer["data"])
    assert len(rows) == first["count"]
    return rows


def _chain_txs(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """/search/transactions rows without block-level entries (hash = the block's)."""
    return [
        t
        for t in found
        if t["transaction"]["transaction_identifier"]["hash"] != t["block_identifier"]["hash"]
    ]


def test_account_txs_are_search_transactions(
    cb: Chainbase, client: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    last = devnet.workload.last_block
    checked = 0
    for account in _accounts(devnet):
        rows = pages(cb, "/v1/account/txs", {"address": account, "to_block": last}, 100)
        theirs, _ = search_all(
            client, {"account_identifier": {"address": account}, "max_block": last}
        )
        expected = _chain_txs(theirs)
        assert [(r["transaction_hash"], r["block_number"]) for r in rows] == [
            (t["transaction"]["transaction_identifier"]["hash"], t["block_identifier"]["index"])
            for t in expected
        ], account
        for row in rows[:3]:
            check_tx(rpc, row)
        checked += len(rows)
    assert checked > 50


@pytest.mark.parametrize("limit", [1, 7])
def test_account_txs_paging_and_block_range(
    cb: Chainbase, client: RosettaClient, devnet: Devnet, limit: int
) -> None:
    account = _accounts(devnet)[1]
    whole = pages(cb, "/v1/account/txs", {"address": account}, 100)
    paged = pages(cb, "/v1/account/txs", {"address": account}, limit)
    assert paged == whole and len({r["transaction_hash"] for r in whole}) == len(whole) > 10
    numbers = [r["block_number"] for r in whole]
    low, high = numbers[-1] + 1, numbers[0] - 1
    ranged = pages(
        cb, "/v1/account/txs", {"address": account, "from_block": hex(low), "to_block": high}, 3
    )
    assert ranged == [r for r in whole if low <= r["block_number"] <= high]


def test_time_bounds_are_the_blocks_of_that_time(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet
) -> None:
    """from_timestamp / end_timestamp select the blocks whose header time (from the node) is in
    between, like the same from_block / to_block."""
    account = _accounts(devnet)[1]
    last = devnet.workload.last_block
    whole = pages(cb, "/v1/account/txs", {"address": account, "to_block": last}, 100)
    numbers = sorted({r["block_number"] for r in whole})
    low, high = numbers[len(numbers) // 4], numbers[3 * len(numbers) // 4]
    times = {
        n: int(rpc("eth_getBlockByNumber", hex(n), False)["timestamp"], 16) for n in (low, high)
    }
    assert times[low] < times[high]
    by_time = {"address": account, "from_timestamp": times[low], "end_timestamp": times[high]}
    by_time["to_block"] = last
    timed = pages(cb, "/v1/account/txs", by_time, 5)
    expected = [
        r
        for r in whole
        if times[low]
        <= int(rpc("eth_getBlockByNumber", hex(r["block_number"]), False)["timestamp"], 16)
        <= times[high]
    ]
    assert timed == expected and len(expected) > 1
    # Times before the chain's first block meet no block: nothing, not an error.
    genesis = int(rpc("eth_getBlockByNumber", "0x0", False)["timestamp"], 16)
    early = {"address": account, "end_timestamp": genesis - 1, "to_block": last}
    answer = cb.ok("/v1/account/txs", early)
    assert answer["data"] == [] and answer["count"] == 0
    transfers = {"end_timestamp": genesis - 1, "to_block": last}
    assert cb.ok("/v1/token/transfers", transfers)["data"] == []


def _search_transfers(client: RosettaClient, conditions: dict[str, Any], last: int) -> list[Any]:
    """ERC-20 transfers as /search/transactions' operations give them: per Transfer log
    (log_index), the debit's account is the sender, the credit's the recipient."""
    found, _ = search_all(client, {**conditions, "max_block": last})
    rows = []
    for t in found:
        tx = t["transaction"]
        logs: dict[int, dict[str, Any]] = defaultdict(dict)
        for op in tx["operations"]:
            if op["type"] not in TOKEN_TYPES or op["status"] != "SUCCESS":
                continue
            side = logs[op["metadata"]["log_index"]]
            value = int(op["amount"]["value"])
            side["from" if value < 0 else "to"] = op["account"]["address"].lower()
            side["value"], side["contract"] = abs(value), contract_of(op)
        for log_index in sorted(logs, reverse=True):
            side = logs[log_index]
            rows.append(
                (
                    tx["transaction_identifier"]["hash"],
                    log_index,
                    side.get("from", ZERO),
                    side.get("to", ZERO),
                    str(side["value"]),
                    side["contract"],
                )
            )
    return rows


def _ours(rows: list[dict[str, Any]]) -> list[Any]:
    return [
        (
            r["transaction_hash"],
            r["log_index"],
            r["from_address"],
            r["to_address"],
            r["value"],
            r["contract_address"],
        )
        for r in rows
    ]


def test_token_transfers_are_search_transactions_transfer_for_transfer(
    cb: Chainbase, client: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    last = devnet.workload.last_block
    checked = 0
    for token in devnet.tracked:
        contract = token.address.lower()
        symbol = {"symbol": token.symbol, "decimals": token.decimals}
        currency = {**symbol, "metadata": {"contractAddress": token.address}}
        by_token = pages(
            cb, "/v1/token/transfers", {"contract_address": contract, "to_block": last}, 100
        )
        assert _ours(by_token) == [
            r for r in _search_transfers(client, {"currency": currency}, last) if r[5] == contract
        ]
        for row in by_token[:5]:
            block = rpc("eth_getBlockByNumber", hex(row["block_number"]), False)
            assert row["block_timestamp"] == _iso(block["timestamp"])
            assert block["transactions"][row["transaction_index"]] == row["transaction_hash"]
        for account in _accounts(devnet)[:4]:
            ours = pages(
                cb,
                "/v1/token/transfers",
                {"contract_address": contract, "address": account, "to_block": last},
                3,
            )
            expected = [r for r in _ours(by_token) if account in (r[2], r[3])]
            assert _ours(ours) == expected, account
            checked += len(ours)
    assert checked > 10
    account = _accounts(devnet)[2]
    everything = pages(cb, "/v1/token/transfers", {"address": account, "to_block": last}, 100)
    search = _search_transfers(client, {"account_identifier": {"address": account}}, last)
    assert _ours(everything) == [r for r in search if account in (r[2], r[3])]


def test_history_routes_name_a_block_and_refuse_blocks_ahead(
    cb: Chainbase, rpc: JsonRpc, devnet: Devnet
) -> None:
    ahead = int(rpc("eth_blockNumber"), 16) + 10**6
    account = _accounts(devnet)[1]
    for path, params in (
        ("/v1/account/txs", {"address": account}),
        ("/v1/token/transfers", {"address": account}),
    ):
        body = cb.ok(path, params)
        pinned_block(rpc, body)
        answer = cb.request(path, {"chain_id": CHAIN_ID, "to_block": ahead, **params})
        assert answer.status == 503 and answer.body["retriable"] is True, answer.body
    answer = cb.request("/v1/block/detail", {"chain_id": CHAIN_ID, "number": ahead})
    assert answer.status == 503 and answer.body["retriable"] is True


BASE = {"chain_id": CHAIN_ID}
TX = "0x" + "ab" * 32
BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("/v1/block/number/latest", {}, 422, "chain_id"),
    ("/v1/block/number/latest", {"chain_id": "1"}, 400, "chain_id"),
    ("/v1/block/detail", BASE, 422, "number"),
    ("/v1/block/detail", {**BASE, "number": "latest"}, 422, "number"),
    ("/v1/block/detail", {**BASE, "number": "-1"}, 422, "number"),
    ("/v1/block/detail", {**BASE, "number": "0x" + "f" * 17}, 422, "number"),
    ("/v1/tx/detail", BASE, 422, "hash"),
    ("/v1/tx/detail", {**BASE, "hash": "0x1234"}, 422, "hash"),
    ("/v1/tx/detail", {**BASE, "hash": TX}, 404, "hash"),
    ("/v1/tx/detail", {**BASE, "block_number": 1}, 422, "hash"),
    ("/v1/tx/detail", {**BASE, "block_number": "x", "tx_index": 0}, 422, "block_number"),
    ("/v1/tx/detail", {**BASE, "block_number": 1, "tx_index": -1}, 422, "tx_index"),
    ("/v1/tx/detail", {**BASE, "block_number": 1, "tx_index": 999}, 404, "tx_index"),
    ("/v1/account/txs", BASE, 422, "address"),
    ("/v1/account/txs", {**BASE, "address": "0x12"}, 422, "address"),
    ("/v1/account/txs", {**BASE, "address": UPSTREAM_ADDRESS, "limit": 101}, 422, "limit"),
    ("/v1/account/txs", {**BASE, "address": UPSTREAM_ADDRESS, "page": 0}, 422, "page"),
    (
        "/v1/account/txs",
        {**BASE, "address": UPSTREAM_ADDRESS, "from_block": "z"},
        422,
        "from_block",
    ),
    (
        "/v1/account/txs",
        {**BASE, "address": UPSTREAM_ADDRESS, "from_block": 9, "to_block": 3},
        422,
        "from_block",
    ),
    (
        "/v1/account/txs",
        {**BASE, "address": UPSTREAM_ADDRESS, "from_timestamp": "yesterday"},
        422,
        "from_timestamp",
    ),
    (
        "/v1/account/txs",
        {**BASE, "address": UPSTREAM_ADDRESS, "from_timestamp": 9, "end_timestamp": 3},
        422,
        "from_timestamp",
    ),
    ("/v1/token/transfers", {**BASE, "contract_address": "0xzz"}, 422, "contract_address"),
    ("/v1/token/transfers", {**BASE, "address": UPSTREAM_ADDRESS + "0"}, 422, "address"),
    ("/v1/token/transfers", {**BASE, "to_block": "soon"}, 422, "to_block"),
    ("/v1/token/transfers", {**BASE, "end_timestamp": -5}, 422, "end_timestamp"),
    ("/v1/token/transfers", {**BASE, "limit": "ten"}, 422, "limit"),
]


@pytest.mark.parametrize(("path", "params", "status", "named"), BAD_REQUESTS)
def test_bad_requests_get_vendor_errors(
    cb: Chainbase, path: str, params: dict[str, Any], status: int, named: str
) -> None:
    message = cb.error(path, params, status)
    assert named in message and "Traceback" not in message, message


def test_upstream_examples_are_accepted(cb: Chainbase) -> None:
    empty = cb.ok("/v1/account/txs", {"address": UPSTREAM_ADDRESS, "page": 1, "limit": 20})
    assert empty["data"] == [] and empty["count"] == 0 and "next_page" not in empty
    none = cb.ok("/v1/token/transfers", {"contract_address": UPSTREAM_CONTRACT})
    assert none["data"] == [] and none["count"] == 0
