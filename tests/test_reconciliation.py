"""Every balance change of every workload block is in /block, checked against the node itself.

The per-block reconciliation runs against anvil and against a geth --dev archive node (the same
workload plus geth's withdrawals); the other tests here use the anvil devnet.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient, Target
from tests.support.reconcile import reconcile

NATIVE = ""


def _currency_key(currency: dict[str, Any]) -> str:
    return (currency.get("metadata") or {}).get("contractAddress", NATIVE)


def _block(node: RosettaClient, index: int, network: dict[str, str] = NETWORK) -> dict[str, Any]:
    body = node.ok("/block", {"network_identifier": network, "block_identifier": {"index": index}})
    return body["block"]  # type: ignore[no-any-return]


def test_every_block_reconciles(target: Target) -> None:
    rpc, workload = target.rpc, target.devnet.workload
    tokens = [t.address for t in target.devnet.tracked]
    span = range(workload.first_block, workload.last_block + 1)
    assert len(span) >= 200
    chain = rpc.batch([("eth_getBlockByNumber", [hex(i), True]) for i in span])

    # Besides every account any operation names (reconcile adds those): the workload's
    # accounts, and from the chain itself every block's fee recipient, every withdrawal
    # recipient and both ends of every transaction.
    accounts = set(workload.accounts)
    for raw in chain:
        accounts.add(raw["miner"])
        accounts.update(w["address"] for w in raw.get("withdrawals") or [])
        for tx in raw["transactions"]:
            accounts.update(a for a in (tx["from"], tx["to"]) if a)
    result = reconcile(target.node, rpc, target.network, span, accounts, tokens)

    assert result.checks >= 200 * result.accounts * (1 + len(tokens))
    assert {"FEE", "CALL", "CREATE", "CREATE2", "SELFDESTRUCT"} <= set(result.by_type)
    assert any(int(raw.get("blobGasUsed") or "0x0", 16) for raw in chain), "no blob in a block"
    if target.kind == "geth":
        assert any(raw.get("withdrawals") for raw in chain), "the geth workload withdraws"
        assert result.by_type.get("WITHDRAWAL"), result.by_type


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
