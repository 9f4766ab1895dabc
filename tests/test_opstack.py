"""OP Stack balance rules on a real op-geth, driven as op-node drives it.

Blocks carry the L1-attributes deposit, user deposits (one that succeeds, one whose call
reverts, one that is invalid), EIP-1559 and legacy transfers that pay real L1 and operator
fees, a contract created with value, value through an internal call, a reverted transaction
and ERC-20 mints and transfers. Our node, given only the genesis file (its "optimism" section
makes the network an OP Stack one), must reconcile every block account by account against
the chain, the four fee vaults included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.op_workload import (
    TOKEN_DECIMALS,
    TOKEN_NAME,
    TOKEN_SYMBOL,
    VAULTS,
    run_op_workload,
)
from tests.support.opgeth import JOVIAN_IN, OpGeth
from tests.support.reconcile import reconcile
from tests.workload import Token, write_token_list

pytestmark = pytest.mark.devnet


@dataclass
class OpChain:
    node: OpGeth
    rpc: JsonRpc
    accounts: list[str]
    token: str
    first: int
    last: int
    deposits: list[str]  # user deposit transaction hashes


@pytest.fixture(scope="module")
def op_chain() -> Iterator[OpChain]:
    with OpGeth(jovian_in=JOVIAN_IN) as node:  # the workload crosses Jovian
        work = run_op_workload(node)
        rpc = JsonRpc(node.url)
        yield OpChain(node, rpc, work.accounts, work.token, work.first, work.last, work.deposits)


@pytest.fixture(scope="module")
def op_node(op_chain: OpChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosettaClient]:
    node = op_chain.node
    assert node.workdir is not None
    tokens = tmp_path_factory.mktemp("op") / "tokens.json"
    write_token_list(
        tokens,
        [Token(to_checksum_address(op_chain.token), TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS)],
        node.chain_id,
    )
    process = NodeProcess(
        [
            "--rpc-url",
            node.url,
            "--chain-id",
            str(node.chain_id),
            "--genesis-file",
            str(node.workdir / "genesis.json"),
            "--token-list",
            str(tokens),
        ]
    )
    try:
        process.wait()
        yield RosettaClient(process.url)
    finally:
        process.stop()


def test_every_block_reconciles_with_the_vaults(op_chain: OpChain, op_node: RosettaClient) -> None:
    (network,) = op_node.ok("/network/list", {})["network_identifiers"]
    result = reconcile(
        op_node,
        op_chain.rpc,
        network,
        range(op_chain.first, op_chain.last + 1),
        op_chain.accounts,
        [op_chain.token],
    )
    assert result.by_type.get("DEPOSIT", 0) >= 4
    assert result.by_type.get("ERC20_MINT", 0) == 1 and result.by_type.get("ERC20_TRANSFER") == 2


def test_fees_go_to_the_vaults(op_chain: OpChain, op_node: RosettaClient) -> None:
    (network,) = op_node.ok("/network/list", {})["network_identifiers"]
    credited: dict[str, int] = dict.fromkeys((v.lower() for v in VAULTS), 0)
    for number in range(op_chain.first, op_chain.last + 1):
        block = op_node.ok(
            "/block", {"network_identifier": network, "block_identifier": {"index": number}}
        )["block"]
        for tx in block["transactions"]:
            for op in tx["operations"]:
                address = op["account"]["address"].lower()
                if op["type"] == "FEE" and address in {v.lower() for v in VAULTS}:
                    credited[address] += int(op["amount"]["value"])
    for vault in VAULTS:
        on_chain = op_chain.rpc.balance(vault, op_chain.last) - op_chain.rpc.balance(
            vault, op_chain.first - 1
        )
        assert on_chain > 0, f"{vault} gained nothing on chain"
        assert credited[vault.lower()] == on_chain


def test_failed_deposits_still_mint(op_chain: OpChain, op_node: RosettaClient) -> None:
    (network,) = op_node.ok("/network/list", {})["network_identifiers"]
    failed = 0
    for tx_hash in op_chain.deposits:
        receipt = op_chain.rpc("eth_getTransactionReceipt", tx_hash)
        tx = op_chain.rpc("eth_getTransactionByHash", tx_hash)
        body = {
            "network_identifier": network,
            "block_identifier": {
                "index": int(receipt["blockNumber"], 16),
                "hash": receipt["blockHash"],
            },
            "transaction_identifier": {"hash": tx_hash},
        }
        ops = op_node.ok("/block/transaction", body)["transaction"]["operations"]
        (mint,) = [op for op in ops if op["type"] == "DEPOSIT"]
        assert int(mint["amount"]["value"]) == int(tx["mint"], 16)
        assert not [op for op in ops if op["type"] == "FEE"]
        if receipt["status"] == "0x0":
            failed += 1
            assert all(op["status"] == "FAILURE" for op in ops if op["type"] == "CALL")
    assert failed == 2


def test_one_node_serves_ethereum_and_op_stack_at_once(
    op_chain: OpChain, anvil: Any, devnet: Any, tmp_path: Path
) -> None:
    """One process, two families: anvil's Ethereum devnet and the op-geth chain, each with its
    own rules, both reconciling."""
    node = op_chain.node
    assert node.workdir is not None
    config = tmp_path / "two.toml"
    config.write_text(
        f"""
[[networks]]
rpc_url = "{anvil.url}"
chain_id = 31337
token_list = "{devnet.token_list}"

[[networks]]
rpc_url = "{node.url}"
chain_id = {node.chain_id}
genesis_file = "{node.workdir / "genesis.json"}"
"""
    )
    process = NodeProcess(["--config", str(config)])
    try:
        process.wait()
        client = RosettaClient(process.url)
        ethereum, op_stack = client.ok("/network/list", {})["network_identifiers"]
        span = range(op_chain.first, op_chain.last + 1)
        result = reconcile(client, op_chain.rpc, op_stack, span, op_chain.accounts)
        assert result.by_type.get("DEPOSIT", 0) >= 4
        workload = devnet.workload
        eth_rpc = JsonRpc(anvil.url)
        blocks = range(workload.first_block, workload.first_block + 40)
        tokens = [t.address for t in devnet.tracked]
        checked = reconcile(client, eth_rpc, ethereum, blocks, workload.accounts, tokens)
        assert "DEPOSIT" not in checked.by_type and checked.by_type.get("FEE", 0) > 0
    finally:
        process.stop()


def test_blocks_before_bedrock_are_not_served(op_chain: OpChain) -> None:
    """OP Mainnet's blocks before Bedrock are legacy ones op-geth cannot trace. The same rule on
    our chain, its Bedrock block moved by the forks setting (what the operator gives wins):
    /network/status names it as the oldest block, and earlier blocks and balances get a clear,
    non-retriable error; from Bedrock on everything is served."""
    node = op_chain.node
    assert node.workdir is not None
    genesis = json.loads((node.workdir / "genesis.json").read_text())
    bedrock = op_chain.first + 1
    forks = {**genesis["config"], "bedrockBlock": bedrock}
    process = NodeProcess(
        ["--rpc-url", node.url, "--chain-id", str(node.chain_id)],
        {"ROSETTA_NODE_FORKS": json.dumps(forks)},
    )
    try:
        process.wait()
        client = RosettaClient(process.url)
        (network,) = client.ok("/network/list", {})["network_identifiers"]
        status = client.ok("/network/status", {"network_identifier": network})
        oldest = status["oldest_block_identifier"]
        on_chain = op_chain.rpc("eth_getBlockByNumber", hex(bedrock), False)
        assert oldest == {"index": bedrock, "hash": on_chain["hash"]}
        earlier = op_chain.rpc("eth_getBlockByNumber", hex(bedrock - 1), False)
        for identifier in ({"index": bedrock - 1}, {"hash": earlier["hash"]}):
            query = {"network_identifier": network, "block_identifier": identifier}
            error = client.error("/block", query, 18)
            assert error["retriable"] is False
            assert error["details"]["oldest_index"] == bedrock
            balance = {**query, "account_identifier": {"address": op_chain.accounts[0]}}
            client.error("/account/balance", balance, 18)
        served = {"network_identifier": network, "block_identifier": {"index": bedrock}}
        assert client.ok("/block", served)["block"]["block_identifier"] == oldest
    finally:
        process.stop()
