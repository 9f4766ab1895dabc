"""Every balance change of every workload block is in /block, checked against the node itself."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient

NATIVE = ""


def _currency_key(currency: dict[str, Any]) -> str:
    return (currency.get("metadata") or {}).get("contractAddress", NATIVE)


def _block(node: RosettaClient, index: int) -> dict[str, Any]:
    body = node.ok("/block", {"network_identifier": NETWORK, "block_identifier": {"index": index}})
    return body["block"]  # type: ignore[no-any-return]


def _state(
    rpc: JsonRpc, block: int, accounts: list[str], tokens: list[str]
) -> dict[tuple[str, str], int]:
    """Balances read straight from anvil at one block number."""
    calls: list[tuple[str, list[Any]]] = []
    keys: list[tuple[str, str]] = []
    for account in accounts:
        calls.append(("eth_getBalance", [account, hex(block)]))
        keys.append((account, NATIVE))
        for token in tokens:
            data = "0x70a08231" + account[2:].lower().rjust(64, "0")
            calls.append(("eth_call", [{"to": token, "data": data}, hex(block)]))
            keys.append((account, token))
    values = rpc.batch(calls)
    return {k: (0 if v == "0x" else int(v, 16)) for k, v in zip(keys, values, strict=True)}


def test_every_block_reconciles(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    workload = devnet.workload
    tokens = [t.address for t in devnet.tracked]
    blocks = {i: _block(node, i) for i in range(workload.first_block, workload.last_block + 1)}
    assert len(blocks) >= 200

    accounts = set(workload.accounts)
    for block in blocks.values():
        for tx in block["transactions"]:
            accounts.update(op["account"]["address"] for op in tx["operations"])
    ordered = sorted(accounts)

    previous = _state(rpc, workload.first_block - 1, ordered, tokens)
    checked = 0
    for index in range(workload.first_block, workload.last_block + 1):
        block = blocks[index]
        assert block["block_identifier"]["index"] == index
        assert (
            block["block_identifier"]["hash"]
            == rpc("eth_getBlockByNumber", hex(index), False)["hash"]
        )
        delta: dict[tuple[str, str], int] = defaultdict(int)
        for tx in block["transactions"]:
            for op in tx["operations"]:
                if op.get("status") != "SUCCESS":
                    continue
                key = (op["account"]["address"], _currency_key(op["amount"]["currency"]))
                delta[key] += int(op["amount"]["value"])
        current = _state(rpc, index, ordered, tokens)
        for key, value in current.items():
            assert value - previous[key] == delta.get(key, 0), (
                f"block {index}: {key} changed by {value - previous[key]} on chain, "
                f"operations say {delta.get(key, 0)}"
            )
            checked += 1
        previous = current
    assert checked >= 200 * len(ordered)


def _ops_of(node: RosettaClient, rpc: JsonRpc, tx_hash: str) -> list[dict[str, Any]]:
    receipt = rpc("eth_getTransactionReceipt", tx_hash)
    body = node.ok(
        "/block/transaction",
        {
            "network_identifier": NETWORK,
            "block_identifier": {
                "index": int(receipt["blockNumber"], 16),
                "hash": receipt["blockHash"],
            },
            "transaction_identifier": {"hash": tx_hash},
        },
    )
    assert body["transaction"]["transaction_identifier"]["hash"] == tx_hash.lower()
    return body["transaction"]["operations"]  # type: ignore[no-any-return]


def test_each_path_produces_its_operations(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    cats = devnet.workload.tx_hashes

    def types(tx_hash: str, status: str = "SUCCESS") -> list[str]:
        return [op["type"] for op in _ops_of(node, rpc, tx_hash) if op.get("status") == status]

    for tx_hash in cats["reverted"]:
        receipt = rpc("eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x0"
        assert types(tx_hash, "SUCCESS") in (["FEE"], ["FEE", "FEE"])  # fees are still paid
        if int(rpc("eth_getTransactionByHash", tx_hash)["value"], 16):
            assert types(tx_hash, "FAILURE"), "a reverted value move is reported as FAILURE"
    assert any("CREATE2" in types(h) for h in cats["create2"])
    assert any("CREATE" in types(h) for h in cats["create"])
    assert any("SELFDESTRUCT" in types(h) for h in cats["selfdestruct"])
    assert any(types(h).count("CALL") >= 8 for h in cats["nested_forward"])
    assert any(types(h, "FAILURE") for h in cats["reverted_inner"])
    assert any("ERC20_MINT" in types(h) for h in cats["erc20_mint"])
    assert any("ERC20_BURN" in types(h) for h in cats["erc20_burn"])


def test_related_operations_point_backwards(node: RosettaClient, devnet: Devnet) -> None:
    for index in range(devnet.workload.first_block, devnet.workload.first_block + 40):
        for tx in _block(node, index)["transactions"]:
            for position, op in enumerate(tx["operations"]):
                assert op["operation_identifier"]["index"] == position
                for related in op.get("related_operations") or []:
                    assert related["index"] < position


def test_tokens_have_one_currency_object(node: RosettaClient, devnet: Devnet) -> None:
    listed = {t.address: t for t in devnet.tracked}
    seen: dict[str, dict[str, Any]] = {}
    for index in range(devnet.workload.first_block, devnet.workload.last_block + 1):
        for tx in _block(node, index)["transactions"]:
            for op in tx["operations"]:
                currency = op["amount"]["currency"]
                key = _currency_key(currency)
                if key:
                    assert seen.setdefault(key, currency) == currency
    assert set(seen) == set(listed), "every tracked token moves in the workload, nothing else"
    for address, currency in seen.items():
        assert currency["symbol"] == listed[address].symbol
        assert currency["decimals"] == listed[address].decimals
