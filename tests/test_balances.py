"""Historical balances: /account/balance equals the node's own answer at that block."""

from __future__ import annotations

import random
from typing import Any

from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient

ETH = {"symbol": "ETH", "decimals": 18}


def _token_currency(token: Any) -> dict[str, Any]:
    return {
        "symbol": token.symbol,
        "decimals": token.decimals,
        "metadata": {"contractAddress": token.address},
    }


def _balance(
    node: RosettaClient, account: str, block: dict[str, Any] | None, currencies: Any
) -> Any:
    body: dict[str, Any] = {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
    }
    if block is not None:
        body["block_identifier"] = block
    if currencies is not None:
        body["currencies"] = currencies
    return node.ok("/account/balance", body)


def test_random_historical_triples(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    workload = devnet.workload
    rng = random.Random(20261122)
    tokens = devnet.tracked
    for _ in range(60):
        index = rng.randint(0, workload.last_block)
        account = rng.choice(workload.accounts)
        token = rng.choice([None, *tokens])
        block_hash = rpc("eth_getBlockByNumber", hex(index), False)["hash"]
        if token is None:
            expected = rpc.balance(account, index)
            currency = ETH
        else:
            expected = rpc.token_balance(token.address, account, index)
            currency = _token_currency(token)
        for ident in ({"index": index}, {"hash": block_hash}, {"index": index, "hash": block_hash}):
            body = _balance(node, account, ident, [currency])
            assert body["block_identifier"] == {"index": index, "hash": block_hash}
            assert len(body["balances"]) == 1
            assert body["balances"][0]["value"] == str(expected), (index, account, currency)
            assert body["balances"][0]["currency"] == currency
            assert body["metadata"]["nonce"] == int(
                rpc("eth_getTransactionCount", account, hex(index)), 16
            )


def test_no_currencies_means_native_and_every_tracked_token(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    index = devnet.workload.last_block
    for account in devnet.workload.accounts[:5]:
        body = _balance(node, account, {"index": index}, None)
        currencies = [b["currency"] for b in body["balances"]]
        assert currencies == [ETH] + [_token_currency(t) for t in devnet.tracked]
        values = [int(b["value"]) for b in body["balances"]]
        assert values[0] == rpc.balance(account, index)
        assert values[1:] == [rpc.token_balance(t.address, account, index) for t in devnet.tracked]


def test_head_when_no_block_given(node: RosettaClient, rpc: JsonRpc, devnet: Devnet) -> None:
    account = devnet.workload.accounts[0]
    body = _balance(node, account, None, [ETH])
    head = rpc("eth_getBlockByNumber", "latest", False)
    assert body["block_identifier"] == {"index": int(head["number"], 16), "hash": head["hash"]}
    assert body["balances"][0]["value"] == str(rpc.balance(account, "latest"))


def test_contract_address_any_case_answers_checksummed(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    token = devnet.tracked[0]
    holder = devnet.workload.accounts[0]
    index = devnet.workload.last_block
    for spelled in (token.address.lower(), "0x" + token.address[2:].upper()):
        currency = {**_token_currency(token), "metadata": {"contractAddress": spelled}}
        body = _balance(node, holder.lower(), {"index": index}, [currency])
        assert body["balances"][0]["currency"] == _token_currency(token)
        assert body["balances"][0]["value"] == str(rpc.token_balance(token.address, holder, index))


def test_untracked_token_by_contract_address(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    token = devnet.untracked
    index = devnet.workload.last_block
    holders = [a for a in devnet.workload.accounts if rpc.token_balance(token.address, a, index)]
    assert holders, "the workload gives the untracked token holders"
    for holder in holders[:3]:
        body = _balance(node, holder, {"index": index}, [_token_currency(token)])
        assert body["balances"][0]["value"] == str(rpc.token_balance(token.address, holder, index))
        assert body["balances"][0]["currency"] == _token_currency(token)


def test_several_currencies_come_from_one_block(
    node: RosettaClient, rpc: JsonRpc, devnet: Devnet
) -> None:
    account = devnet.workload.accounts[1]
    currencies = [ETH] + [_token_currency(t) for t in devnet.tracked]
    index = (devnet.workload.first_block + devnet.workload.last_block) // 2
    body = _balance(node, account, {"index": index}, currencies)
    assert [b["currency"] for b in body["balances"]] == currencies
    expected = [rpc.balance(account, index)] + [
        rpc.token_balance(t.address, account, index) for t in devnet.tracked
    ]
    assert [int(b["value"]) for b in body["balances"]] == expected
