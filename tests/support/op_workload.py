"""A workload on op-geth with every OP Stack balance path, for tests and conformance.

Blocks carry the L1-attributes deposit, user deposits (one that succeeds, one whose call
reverts, one that is invalid, one to itself), EIP-1559 and legacy transfers that pay real L1
and operator fees, a contract created with value, value through an internal call, a reverted
transaction, and an ERC-20 deployed, minted and transferred. On a chain with Jovian ahead
(``OpGeth(jovian_in=...)``) the workload crosses it halfway, so fees are paid under both the
Isthmus and the Jovian operator fee rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from tests.support.artifacts import bytecode as artifact_bytecode
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
from tests.support.rpc import JsonRpc

ETH = 10**18
VAULTS = [SEQUENCER_FEE_VAULT, BASE_FEE_VAULT, L1_FEE_VAULT, OPERATOR_FEE_VAULT]
TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS = "OP Token", "OPT", 6


@dataclass
class OpWorkload:
    accounts: list[str]  # every account the workload touches, the vaults included
    token: str  # the ERC-20 it deployed (checksummed)
    first: int  # first block it made
    last: int
    deposits: list[str]  # user deposit transactions that mint


def _fresh(label: str) -> str:
    return to_checksum_address(keccak(b"rosetta-node opstack " + label.encode())[12:])


def _calldata(signature: str, types: list[str], args: list[Any]) -> str:
    return "0x" + (function_signature_to_4byte_selector(signature) + abi_encode(types, args)).hex()


def _bytecode(name: str) -> str:
    return artifact_bytecode(name)


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


def run_op_workload(node: OpGeth) -> OpWorkload:
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
    receipts = [rpc("eth_getTransactionReceipt", h) for h in (token_tx, forwarder_tx, reverter_tx)]
    token, forwarder, reverter = (to_checksum_address(r["contractAddress"]) for r in receipts)
    if node.jovian_time is not None:
        node.cross_jovian()
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
    return OpWorkload(accounts, token, first, last, hashes)
