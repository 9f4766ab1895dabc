"""The official Sequence client (npm ``@0xsequence/indexer`` 3.0.13), unchanged, against our
gateway: every method it has that we serve answers, and every answer is what the client's own
generated types declare, field for field (a field they mark as always present is never left
out). Values are checked against the chain where the method returns balances."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import CHAIN_ID, Devnet, IndexedNode, JsonRpc
from tests.support.sequence_client import GeneratedTypes, call

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def types() -> GeneratedTypes:
    return GeneratedTypes.of_client()


# Every client method we serve, and the generated type of its answer.
METHODS = {
    "getTokenBalances": "GetTokenBalancesResponse",
    "getTokenBalancesSummary": "GetTokenBalancesSummaryResponse",
    "getTokenBalancesDetails": "GetTokenBalancesDetailsResponse",
    "getTokenBalancesByContract": "GetTokenBalancesByContractResponse",
    "getBalanceUpdates": "GetBalanceUpdatesResponse",
    "getNativeTokenBalance": "GetNativeTokenBalanceResponse",
    "getTransactionHistory": "GetTransactionHistoryResponse",
    "getChains": "GetChainsResponse",
    "ping": "PingResponse",
    "version": "VersionResponse",
    "runtimeStatus": "RuntimeStatusResponse",
}


@pytest.fixture(scope="module")
def holders(devnet: Devnet, anvil: Any) -> list[str]:
    """Three accounts holding the first listed token at the workload's end (from the chain)."""
    rpc, token, last = JsonRpc(anvil.url), devnet.tracked[0].address, devnet.workload.last_block
    found = [a for a in devnet.workload.accounts if rpc.token_balance(token, a, last) > 0]
    assert len(found) >= 3, found
    return found[:3]


def _calls(devnet: Devnet, accounts: list[str]) -> list[tuple[str, str, Any]]:
    """(client method, response type, request) for every method we serve."""
    token = devnet.tracked[0].address
    chains = [CHAIN_ID]
    account_filter = {"accountAddresses": accounts, "omitNativeBalances": False}
    return [
        (
            "getTokenBalances",
            "GetTokenBalancesResponse",
            {"chainIds": chains, "accountAddress": accounts[0], "includeMetadata": True},
        ),
        (
            "getTokenBalancesSummary",
            "GetTokenBalancesSummaryResponse",
            {"chainIds": chains, "filter": account_filter},
        ),
        (
            "getTokenBalancesDetails",
            "GetTokenBalancesDetailsResponse",
            {"chainIds": chains, "filter": {**account_filter, "contractStatus": "ALL"}},
        ),
        (
            "getTokenBalancesByContract",
            "GetTokenBalancesByContractResponse",
            {"chainIds": chains, "filter": {"contractAddresses": [token]}},
        ),
        (
            "getBalanceUpdates",
            "GetBalanceUpdatesResponse",
            {"chainIds": chains, "contractAddress": token, "lastBlockNumber": 0},
        ),
        (
            "getNativeTokenBalance",
            "GetNativeTokenBalanceResponse",
            {"chainIds": chains, "accountAddress": accounts[0]},
        ),
        (
            "getTransactionHistory",
            "GetTransactionHistoryResponse",
            {
                "chainIds": chains,
                "filter": {"accountAddress": accounts[0]},
                "includeMetadata": True,
            },
        ),
        ("getChains", "GetChainsResponse", {}),
        ("ping", "PingResponse", None),
        ("version", "VersionResponse", None),
        ("runtimeStatus", "RuntimeStatusResponse", None),
    ]


@pytest.fixture(scope="module")
def answers(indexed_node: IndexedNode, devnet: Devnet, holders: list[str]) -> dict[str, Any]:
    indexed_node.wait_history(devnet.workload.last_block)
    calls = _calls(devnet, holders)
    replies = call(indexed_node.url, [(method, request) for method, _, request in calls])
    out: dict[str, Any] = {}
    for (method, _, _), reply in zip(calls, replies, strict=True):
        assert "error" not in reply, (method, reply)
        out[method] = reply["result"]
    return out


@pytest.mark.parametrize("method", sorted(METHODS))
def test_answers_are_the_generated_types(
    method: str, answers: dict[str, Any], types: GeneratedTypes
) -> None:
    assert types.problems(answers[method], METHODS[method]) == []
    if method.startswith(("getTokenBalances", "getBalanceUpdates")):
        rows = [r for wrapper in answers[method]["balances"] for r in wrapper["results"]]
        assert rows, f"{method}: no TokenBalance was checked"
    if method == "getTransactionHistory":
        txs = [t for wrapper in answers[method]["transactions"] for t in wrapper["results"]]
        kinds = {x["contractType"] for t in txs for x in t["transfers"]}
        assert kinds == {"NATIVE", "ERC20"}, f"{method}: not every transfer kind was checked"


def test_every_method_of_the_client_is_served_or_known(types: GeneratedTypes) -> None:
    """The client's methods are those we serve plus the price ones (we keep no prices)."""
    declared = set(types.client_methods)
    assert declared == set(METHODS) | {"getTokenPrice", "getTokenPrices"}


def test_checker_finds_missing_and_mistyped_fields(types: GeneratedTypes) -> None:
    """The check itself: a field the types require, left out or of the wrong type, is named."""
    row = {
        "contractType": "ERC20",
        "contractAddress": "0x" + "11" * 20,
        "accountAddress": "0x" + "22" * 20,
        "balance": "1",
        "priceUSD": "0",
        "blockHash": "0x" + "33" * 32,
        "blockNumber": "7",
        "chainId": 1,
        "uniqueCollectibles": "0",
        "isSummary": False,
    }
    found = types.problems(row, "TokenBalance", "row")
    assert found == [
        "row.balanceUSD: missing (TokenBalance always has it)",
        "row.blockNumber: expected number, got '7'",
    ]
    assert types.problems({**row, "contractType": "ERC42"}, "TokenBalance")[0].startswith(
        "$.contractType: 'ERC42' is not one of ContractType"
    )


def test_get_token_balances_is_the_chain(
    answers: dict[str, Any], holders: list[str], anvil: Any
) -> None:
    """The single-account method: the account's ERC-20 balances as balanceOf gives them at the
    block the answer names, with metadata as asked."""
    (wrapper,) = answers["getTokenBalances"]["balances"]
    rpc = JsonRpc(anvil.url)
    account = holders[0].lower()
    rows = wrapper["results"]
    assert rows, "the account holds tokens in the workload"
    for row in rows:
        assert row["accountAddress"] == account
        on_chain = rpc.token_balance(row["contractAddress"], account, wrapper["blockNumber"])
        assert int(row["balance"]) == on_chain > 0
        assert row["contractInfo"]["address"] == row["contractAddress"]
    summary = answers["getTokenBalancesSummary"]["balances"][0]["results"]
    theirs = {r["contractAddress"] for r in summary if r["accountAddress"] == account}
    assert {r["contractAddress"] for r in rows} == theirs


def test_version_names_the_clients_schema(answers: dict[str, Any], types: GeneratedTypes) -> None:
    version = answers["version"]["version"]
    assert version["schemaHash"] == types.schema_hash
    assert version["schemaVersion"] == types.schema_version
