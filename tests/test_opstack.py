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
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.support.geth import dev_addresses, dev_keys
from tests.support.opgeth import (
    BASE_FEE_VAULT,
    L1_BLOCK,
    L1_FEE_VAULT,
    OPERATOR_FEE_VAULT,
    SEQUENCER_FEE_VAULT,
    Deposit,
    OpGeth,
)
from tests.support.reconcile import reconcile
from tests.workload import Token, write_token_list

pytestmark = pytest.mark.devnet

ETH = 10**18
BUILD = Path(__file__).resolve().parent / "contracts" / "build"
VAULTS = [SEQUENCER_FEE_VAULT, BASE_FEE_VAULT, L1_FEE_VAULT, OPERATOR_FEE_VAULT]


def _fresh(label: str) -> str:
    return to_checksum_address(keccak(b"rosetta-node opstack " + label.encode())[12:])


def _calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


def _bytecode(name: str) -> str:
    code: str = json.loads((BUILD / f"{name}.json").read_text())["bytecode"]
    return code if code.startswith("0x") else "0x" + code


@dataclass
class OpChain:
    node: OpGeth
    rpc: JsonRpc
    accounts: list[str]
    token: str
    first: int
    last: int
    deposits: list[str]  # user deposit transaction hashes


class _Sender:
    """Signs locally and sends into op-geth's pool; nonces kept here."""

    def __init__(self, rpc: JsonRpc, chain_id: int) -> None:
        self.rpc, self.chain_id = rpc, chain_id
        self.nonces: dict[str, int] = {}
        self.sent: list[str] = []  # since the last take()

    def send(self, key: str, legacy: bool = False, **fields: Any) -> str:
        sender = Account.from_key(key).address
        if sender not in self.nonces:
            self.nonces[sender] = int(self.rpc("eth_getTransactionCount", sender, "latest"), 16)
        tx: dict[str, Any] = {"nonce": self.nonces[sender], "chainId": self.chain_id, **fields}
        if legacy:
            tx["gasPrice"] = 3 * 10**9
        else:
            tx.update(type=2, maxFeePerGas=10 * 10**9, maxPriorityFeePerGas=10**9)
        self.nonces[sender] += 1
        raw = Account.sign_transaction(tx, key).raw_transaction
        tx_hash = str(self.rpc("eth_sendRawTransaction", "0x" + raw.hex().removeprefix("0x")))
        self.sent.append(tx_hash)
        return tx_hash

    def take(self) -> list[str]:
        """The transactions sent since the last take: the next block must hold them."""
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture(scope="module")
def op_chain() -> Iterator[OpChain]:
    with OpGeth() as node:
        rpc = JsonRpc(node.url)
        sender = _Sender(rpc, node.chain_id)
        send = sender.send
        keys, addrs = dev_keys(), dev_addresses()
        depositor, recipient = _fresh("depositor"), _fresh("recipient")
        first = int(rpc("eth_blockNumber"), 16) + 1
        node.mine()  # the L1Block contract holds fee parameters from now on
        send(keys[0], to=addrs[1], value=10**15, gas=30_000, data=b"some calldata for the L1 fee")
        send(keys[2], legacy=True, to=recipient, value=3 * 10**15, gas=21_000)
        deposits = [
            Deposit(depositor, recipient, mint=2 * ETH, value=ETH, gas=50_000),
            Deposit(_fresh("reverts"), L1_BLOCK, mint=3 * ETH, value=ETH, gas=60_000),
            Deposit(_fresh("invalid"), recipient, mint=ETH, value=5 * ETH, gas=70_000),
        ]
        node.mine(deposits, include=sender.take())
        token_tx = send(
            keys[3],
            data=_bytecode("TestToken")
            + abi_encode(["string", "string", "uint8"], ["OP Token", "OPT", 6]).hex(),
            gas=2_000_000,
        )
        forwarder_tx = send(keys[4], data=_bytecode("Forwarder"), value=10**16, gas=1_000_000)
        reverter_tx = send(keys[5], data=_bytecode("Reverter"), gas=500_000)
        node.mine(include=sender.take())
        receipts = [
            rpc("eth_getTransactionReceipt", h) for h in (token_tx, forwarder_tx, reverter_tx)
        ]
        token, forwarder, reverter = (to_checksum_address(r["contractAddress"]) for r in receipts)
        send(
            keys[3],
            to=token,
            data=_calldata("mint(address,uint256)", ["address", "uint256"], [addrs[6], 10**9]),
            gas=200_000,
        )
        send(
            keys[4],
            to=forwarder,
            value=10**15,
            gas=200_000,
            data=_calldata("forward(address)", ["address"], [addrs[7]]),
        )
        send(keys[5], to=reverter, value=10**15, gas=100_000)  # reverts: only the fee is paid
        node.mine(
            [Deposit(depositor, depositor, mint=ETH // 2, value=0, gas=30_000)],
            include=sender.take(),
        )
        send(
            keys[6],
            to=token,
            data=_calldata("transfer(address,uint256)", ["address", "uint256"], [addrs[8], 10**8]),
            gas=200_000,
        )
        node.mine(include=sender.take())
        node.mine(no_tx_pool=True)  # an empty block: the L1-attributes deposit only
        last = int(rpc("eth_blockNumber"), 16)
        hashes = [
            t["hash"]
            for b in range(first, last + 1)
            for t in rpc("eth_getBlockByNumber", hex(b), True)["transactions"]
            if t["type"] == "0x7e" and int(t.get("mint") or "0x0", 16)
        ]
        accounts = [
            *addrs,
            depositor,
            recipient,
            forwarder,
            reverter,
            token,
            *VAULTS,
            *(d.sender for d in deposits),
        ]
        yield OpChain(node, rpc, accounts, token, first, last, hashes)


@pytest.fixture(scope="module")
def op_node(op_chain: OpChain, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosettaClient]:
    node = op_chain.node
    assert node.workdir is not None
    tokens = tmp_path_factory.mktemp("op") / "tokens.json"
    write_token_list(
        tokens, [Token(to_checksum_address(op_chain.token), "OP Token", "OPT", 6)], node.chain_id
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
