"""An address that is not an ERC-20 token, and a token whose balanceOf fails for one account,
answer the same way on all three APIs, decided from what the chain says (issue 15, 12-13).

Not a token (a precompile, an EOA with an EIP-7702 delegation, a contract without ERC-20
answers): Rosetta error 19, Chainbase 404, Sequence a per-chain ``errorReason`` (fan-out) or
InvalidArgument (one chain); none retriable. A token whose balanceOf reverts or runs out of
gas for one account: Rosetta error 14 (not retriable), left out of the translators' lists.
No code (an EOA, a token not deployed yet) holds nothing. Node trouble stays retriable.
Every premise is first checked against anvil's own answers.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rosetta_node import errors as catalog
from rosetta_node.addresses import checksum
from rosetta_node.devnet import Anvil
from rosetta_node.engine.node_errors import NodeError, execution_failure
from rosetta_node.engine.token_check import is_precompile
from rosetta_node.erc20 import TOTAL_SUPPLY, balance_of_data
from tests.conftest import (
    CHAIN_ID,
    NETWORK,
    Devnet,
    IndexedNode,
    JsonRpc,
    RosettaClient,
)
from tests.fault_proxy import FaultProxy, node_behind_proxy
from tests.support.rpc import JsonRpcError
from tests.test_balance_reader import deploy, odd_account
from tests.test_chainbase import Chainbase

GAS_CAP = hex(50_000_000)  # call_gas_cap: what our node's eth_calls get
SEQUENCE = "/rpc/IndexerGateway/"


def precompile(n: int) -> str:
    return "0x" + f"{n:040x}"


def chain_call(rpc: JsonRpc, to: str, data: str, block: Any = "latest") -> Any:
    """anvil's own answer: the result, or ("error", message)."""
    try:
        return rpc("eth_call", {"to": to, "data": data, "gas": GAS_CAP}, block)
    except JsonRpcError as exc:
        return ("error", str(exc.error.get("message")))


def rosetta_token(
    node: RosettaClient, account: str, contract: str, block: dict[str, Any] | None = None
) -> Any:
    currency = {"symbol": "T", "decimals": 18, "metadata": {"contractAddress": contract}}
    body = {
        "network_identifier": NETWORK,
        "account_identifier": {"address": account},
        "currencies": [currency],
    }
    if block is not None:
        body["block_identifier"] = block
    return node.post("/account/balance", body)


def sequence(url: str, method: str, body: Any) -> requests.Response:
    return requests.post(url + SEQUENCE + method, json=body, timeout=60)


def by_contract(url: str, contract: str, account: str) -> dict[str, Any]:
    flt = {"contractAddresses": [contract], "accountAddresses": [account], "contractStatus": "ALL"}
    reply = sequence(url, "GetTokenBalancesByContract", {"chainIds": [CHAIN_ID], "filter": flt})
    assert reply.status_code == 200, reply.text
    (chain,) = reply.json()["balances"]
    return chain  # type: ignore[no-any-return]


def assert_not_a_token(url: str, account: str, contract: str) -> None:
    """The "not a token" answer of every API for ``contract``."""
    answer = rosetta_token(RosettaClient(url), account, contract)
    assert answer.status == 500 and answer.body["code"] == catalog.NOT_A_TOKEN.code, answer.body
    assert answer.body["retriable"] is False
    assert answer.body["details"]["contractAddress"] == checksum(contract)
    cb = Chainbase(url)
    for path, params in (
        ("/v1/account/tokens", {"address": account, "contract_address": contract}),
        ("/v1/token/metadata", {"contract_address": contract}),
        ("/v1/token/holders", {"contract_address": contract}),
        ("/v1/token/top-holders", {"contract_address": contract}),
    ):
        reply = cb.request(path, {"chain_id": CHAIN_ID, **params})
        assert reply.status == 404, (path, reply.body)
        assert reply.body["retriable"] is False
        message = reply.body["message"]
        assert contract.lower() in message and "not an ERC-20" in message, message
    chain = by_contract(url, contract, account)
    assert "not an ERC-20" in chain.get("errorReason", ""), chain
    updates = {"chainIds": [CHAIN_ID], "contractAddress": contract}
    reply = sequence(url, "GetBalanceUpdates", updates)
    assert reply.status_code == 400 and reply.json()["code"] == 2001, reply.text


@pytest.fixture(scope="module")
def odd(rpc: JsonRpc, devnet: Devnet) -> str:
    return deploy(rpc, "OddToken")


def test_precompiles_are_not_tokens(
    indexed_node: IndexedNode, rpc: JsonRpc, devnet: Devnet
) -> None:
    holder = rpc("eth_accounts")[0]
    data = balance_of_data(holder)
    # What the chain answers: a word of garbage (sha256, ecrecover's address word), an EVM
    # error (modexp ... point evaluation), nothing (0x0b-0x11 before Prague, 0x100).
    assert len(chain_call(rpc, precompile(2), data)) == 66
    assert len(chain_call(rpc, precompile(3), data)) == 66
    assert chain_call(rpc, precompile(5), data)[0] == "error"
    assert chain_call(rpc, precompile(0x0A), data)[0] == "error"
    for n in (2, 3, 5, 0x0A, 0x0B, 0x100):
        assert_not_a_token(indexed_node.url, holder, precompile(n))


def test_contracts_without_erc20_answers_and_delegated_eoas_are_not_tokens(
    indexed_node: IndexedNode, rpc: JsonRpc, devnet: Devnet
) -> None:
    holder = rpc("eth_accounts")[0]
    reverter = devnet.workload.contracts["reverter"]
    delegated = "0x" + random.Random(15).randbytes(20).hex()
    rpc("anvil_setCode", delegated, "0xef0100" + reverter[2:].lower())  # EIP-7702 designator
    rpc("evm_mine")
    head = int(rpc("eth_blockNumber"), 16)
    indexed_node.wait_indexed(head)
    for contract in (reverter, delegated):
        assert rpc("eth_getCode", contract, "latest") != "0x"
        assert chain_call(rpc, contract, balance_of_data(holder))[0] == "error"
        assert chain_call(rpc, contract, TOTAL_SUPPLY)[0] == "error"
        assert_not_a_token(indexed_node.url, holder, contract)
    assert rpc("eth_getCode", delegated, "latest").startswith("0xef0100")


def test_an_address_without_code_holds_nothing(
    indexed_node: IndexedNode, rpc: JsonRpc, devnet: Devnet
) -> None:
    holder, eoa = rpc("eth_accounts")[:2]
    assert rpc("eth_getCode", eoa, "latest") == "0x"
    answer = rosetta_token(RosettaClient(indexed_node.url), holder, eoa)
    assert answer.status == 200 and answer.body["balances"][0]["value"] == "0", answer.body
    body = Chainbase(indexed_node.url).ok(
        "/v1/account/tokens", {"address": holder, "contract_address": eoa}
    )
    assert body["data"] == [] and body["count"] == 0
    chain = by_contract(indexed_node.url, eoa, holder)
    assert "errorReason" not in chain and chain["results"] == []


def test_a_token_failing_balance_of_for_one_account_is_not_retriable(
    indexed_node: IndexedNode, rpc: JsonRpc, odd: str
) -> None:
    rpc("evm_mine")
    head = int(rpc("eth_blockNumber"), 16)
    indexed_node.wait_indexed(head)
    node, cb = RosettaClient(indexed_node.url), Chainbase(indexed_node.url)
    fine, reverts, spins = (odd_account(mode, 15) for mode in (0, 1, 6))
    # Every read pinned to one block: the node's idea of "latest" may trail anvil's by a block.
    at, block = {"index": head}, hex(head)
    expected = int(chain_call(rpc, odd, balance_of_data(fine), block), 16)
    assert expected > 0
    assert "revert" in chain_call(rpc, odd, balance_of_data(reverts), block)[1]
    spun = chain_call(rpc, odd, balance_of_data(spins), block)[1]
    assert execution_failure(NodeError("eth_call", 0, spun)) == "out of gas"
    answer = rosetta_token(node, fine, odd, at)
    assert int(answer.body["balances"][0]["value"]) == expected, answer.body
    pinned = {"address": fine, "contract_address": odd, "to_block": head}
    body = cb.ok("/v1/account/tokens", pinned)
    assert [int(r["balance"], 16) for r in body["data"]] == [expected]
    for account, reason in ((spins, "ran out of gas"), (reverts, "reverted")):
        answer = rosetta_token(node, account, odd, at)
        assert answer.body["code"] == catalog.CALL_REVERTED.code, answer.body
        assert answer.body["retriable"] is False
        assert reason in answer.body["details"]["reason"]
        # A list leaves the pair out: the token is one, its balance for this account is not.
        pinned = {"address": account, "contract_address": odd, "to_block": head}
        body = cb.ok("/v1/account/tokens", pinned)
        assert body["data"] == [] and body["count"] == 0, body


@pytest.fixture(scope="module")
def proxied(anvil: Anvil, devnet: Devnet) -> Iterator[tuple[FaultProxy, str]]:
    env = {"ROSETTA_NODE_RPC_TIMEOUT": "0.5", "ROSETTA_NODE_RPC_RETRIES": "0"}
    with node_behind_proxy(anvil.url, env, chain_id=CHAIN_ID) as (proxy, process):
        yield proxy, process.url


def test_node_trouble_on_a_non_token_stays_retriable(
    proxied: tuple[FaultProxy, str], rpc: JsonRpc, devnet: Devnet
) -> None:
    """A timeout, or an error answer to the balanceOf itself, is never "not a token"."""
    proxy, url = proxied
    reverter = devnet.workload.contracts["reverter"]
    block = rpc("eth_getBlockByNumber", hex(devnet.workload.last_block), False)["hash"]
    node = RosettaClient(url)
    accounts = devnet.workload.accounts
    at = {"hash": block}
    assert rosetta_token(node, accounts[0], reverter, at).body["code"] == catalog.NOT_A_TOKEN.code
    for fault, options, account in (
        ("delay", {"seconds": 2.0}, accounts[1]),
        ("batch_error", {}, accounts[2]),  # the batch's last answer: the balanceOf
    ):
        proxy.arm(fault, **options)
        try:
            answer = rosetta_token(node, account, reverter, at)
        finally:
            proxy.disarm()
        assert answer.body["retriable"] is True, (fault, answer.body)
        assert answer.body["code"] != catalog.NOT_A_TOKEN.code


@pytest.mark.unit
@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("execution reverted", "failed"),
        ("EVM error OutOfGas", "out of gas"),
        ("out of gas", "out of gas"),
        ("EVM error MemoryOOG", "out of gas"),
        ("invalid opcode: opcode 0xef not defined", "failed"),
        ("EVM error PrecompileError", "failed"),
        ("header not found", None),
        ("request timed out", None),
        ("missing trie node abc", None),
        ("execution aborted (timeout = 5s)", None),
    ],
)
def test_what_counts_as_a_fixed_evm_failure(message: str, kind: str | None) -> None:
    assert execution_failure(NodeError("eth_call", -32000, message)) == kind


@pytest.mark.unit
def test_precompile_addresses() -> None:
    assert all(is_precompile(precompile(n)) for n in [*range(1, 0x12), 0x100])
    assert not any(is_precompile(precompile(n)) for n in (0, 0x12, 0xFF, 0x101))
