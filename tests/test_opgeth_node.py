"""op-geth, driven as op-node drives it, shows the OP Stack fee rules on its chain.

Chain-only checks (no rosetta engine): one block carries the L1-attributes deposit, a user
deposit with mint and value, a failing deposit and an EIP-1559 transfer signed here; its
receipts, balances, nonces and traces are what our rules are checked against. A second chain
crosses Jovian: the operator fee's unit changes, which the chain's balances show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tests.support.geth import dev_addresses, dev_keys
from tests.support.opgeth import (
    BASE_FEE_VAULT,
    DEPOSITOR,
    JOVIAN_IN,
    L1_BLOCK,
    L1_FEE_VAULT,
    OPERATOR_FEE_VAULT,
    SEQUENCER_FEE_VAULT,
    Deposit,
    OpGeth,
)

pytestmark = pytest.mark.devnet

ETH = 10**18
VAULTS = [SEQUENCER_FEE_VAULT, BASE_FEE_VAULT, L1_FEE_VAULT, OPERATOR_FEE_VAULT]


def _fresh(label: str) -> str:
    return to_checksum_address(keccak(b"rosetta-node opgeth " + label.encode())[12:])


DEPOSITOR_OK = _fresh("depositor ok")
DEPOSITOR_REVERT = _fresh("depositor revert")
DEPOSITOR_BROKE = _fresh("depositor broke")
RECIPIENT = _fresh("recipient")


@dataclass
class Mined:
    node: OpGeth
    block: dict[str, Any]  # with full transactions
    receipts: dict[str, dict[str, Any]]  # by transaction hash
    transfer: str  # hash of the EIP-1559 transfer
    deposit_ok: str
    deposit_revert: str
    deposit_invalid: str
    parent: str  # parent block number (hex)

    def balance(self, address: str, at: str | None = None) -> int:
        return int(self.node.rpc("eth_getBalance", address, at or self.block["number"]), 16)

    def delta(self, address: str) -> int:
        return self.balance(address) - self.balance(address, self.parent)

    def nonce_delta(self, address: str) -> int:
        count = "eth_getTransactionCount"
        after = int(self.node.rpc(count, address, self.block["number"]), 16)
        return after - int(self.node.rpc(count, address, self.parent), 16)


def _send_transfer(node: OpGeth) -> str:
    key, sender = dev_keys()[0], dev_addresses()[0]
    tx = {
        "to": dev_addresses()[1],
        "value": 10**15,
        "gas": 30_000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": int(node.rpc("eth_getTransactionCount", sender, "latest"), 16),
        "chainId": node.chain_id,
        "type": 2,
        "data": b"rosetta-node: some calldata for the L1 data fee",
    }
    raw = Account.sign_transaction(tx, key).raw_transaction
    return str(node.rpc("eth_sendRawTransaction", "0x" + raw.hex().removeprefix("0x")))


@pytest.fixture(scope="module")
def mined() -> Iterator[Mined]:
    with OpGeth() as node:
        node.mine()  # a first block: the L1Block contract holds fee parameters from now on
        transfer = _send_transfer(node)
        ok = Deposit(DEPOSITOR_OK, RECIPIENT, mint=2 * ETH, value=ETH, gas=50_000)
        # L1Block reverts for any caller but the depositor: the deposit's call fails.
        revert = Deposit(DEPOSITOR_REVERT, L1_BLOCK, mint=3 * ETH, value=ETH, gas=60_000)
        # More value than the mint gives: an invalid deposit, included as failed.
        invalid = Deposit(DEPOSITOR_BROKE, RECIPIENT, mint=ETH, value=5 * ETH, gas=70_000)
        block_hash = node.mine([ok, revert, invalid], include=[transfer])
        block = node.rpc("eth_getBlockByHash", block_hash, True)
        receipts = {r["transactionHash"]: r for r in node.rpc("eth_getBlockReceipts", block_hash)}
        hashes = [t["hash"] for t in block["transactions"]]
        assert transfer in hashes, f"the pool's transaction is not in the block: {hashes}"
        parent = hex(int(block["number"], 16) - 1)
        yield Mined(node, block, receipts, transfer, *hashes[1:4], parent)


def test_block_layout_is_op_nodes(mined: Mined) -> None:
    txs = mined.block["transactions"]
    assert [t["type"] for t in txs] == ["0x7e", "0x7e", "0x7e", "0x7e", "0x2"]
    info = txs[0]
    assert info["from"].lower() == DEPOSITOR.lower()
    assert info["to"].lower() == L1_BLOCK.lower()
    assert info["input"].startswith("0x098999be")  # setL1BlockValuesIsthmus
    assert len(bytes.fromhex(info["input"][2:])) == 176
    assert mined.block["miner"].lower() == SEQUENCER_FEE_VAULT.lower()


def test_normal_receipt_has_l1_fee_fields(mined: Mined) -> None:
    receipt = mined.receipts[mined.transfer]
    assert receipt["status"] == "0x1"
    for field in ["l1Fee", "l1GasPrice", "l1BlobBaseFee", "l1GasUsed"]:
        assert int(receipt[field], 16) > 0, (field, receipt)
    assert int(receipt["l1BaseFeeScalar"], 16) == 5227
    assert int(receipt["l1BlobBaseFeeScalar"], 16) == 1_014_213
    assert int(receipt["operatorFeeScalar"], 16) == 1_500
    assert int(receipt["operatorFeeConstant"], 16) == 10**9
    assert "depositNonce" not in receipt
    # Fjord: l1Fee = max(100, estimated size) * (16 * baseFeeScalar * l1BaseFee
    # + blobBaseFeeScalar * l1BlobBaseFee) / 1e6, so at least its 100-byte minimum.
    scaled = 16 * 5227 * int(receipt["l1GasPrice"], 16) + 1_014_213 * int(
        receipt["l1BlobBaseFee"], 16
    )
    assert int(receipt["l1Fee"], 16) >= 100 * scaled // 10**6


def test_deposit_receipts(mined: Mined) -> None:
    deposits = [mined.receipts[t["hash"]] for t in mined.block["transactions"][:4]]
    for receipt in deposits:
        assert "depositNonce" in receipt, receipt
        assert receipt["depositReceiptVersion"] == "0x1"
        assert "l1Fee" not in receipt
        assert int(receipt["effectiveGasPrice"], 16) == 0
    info, ok, revert, invalid = deposits
    assert info["status"] == ok["status"] == "0x1"
    assert revert["status"] == invalid["status"] == "0x0"
    # Regolith: a reverted deposit reports the gas it used; an invalid one all its gas.
    assert 21_000 < int(revert["gasUsed"], 16) < 60_000
    assert int(invalid["gasUsed"], 16) == 70_000
    for receipt, sender in [(ok, DEPOSITOR_OK), (revert, DEPOSITOR_REVERT)]:
        assert int(receipt["depositNonce"], 16) == 0, sender  # first use of a fresh account


def test_user_deposit_mints_then_transfers(mined: Mined) -> None:
    assert mined.delta(RECIPIENT) == ETH  # only the successful deposit's value arrives
    assert mined.delta(DEPOSITOR_OK) == 2 * ETH - ETH  # minted, then sent
    assert mined.nonce_delta(DEPOSITOR_OK) == 1


def test_failed_deposits_keep_mint_and_bump_nonce(mined: Mined) -> None:
    # Reverted call: the mint stays, the value was not sent, no fee is charged.
    assert mined.delta(DEPOSITOR_REVERT) == 3 * ETH
    assert mined.nonce_delta(DEPOSITOR_REVERT) == 1
    # Invalid deposit (value above balance + mint): state rolled back to just after the mint.
    assert mined.delta(DEPOSITOR_BROKE) == ETH
    assert mined.nonce_delta(DEPOSITOR_BROKE) == 1


def _operator_fee(receipt: dict[str, Any]) -> int:
    scalar = int(receipt.get("operatorFeeScalar", "0x0"), 16)
    constant = int(receipt.get("operatorFeeConstant", "0x0"), 16)
    if not scalar and not constant:
        return 0
    return int(receipt["gasUsed"], 16) * scalar // 10**6 + constant


def test_sender_pays_gas_l1_fee_operator_fee_and_value(mined: Mined) -> None:
    receipt = mined.receipts[mined.transfer]
    gas = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    expected = gas + int(receipt["l1Fee"], 16) + _operator_fee(receipt) + 10**15
    assert _operator_fee(receipt) > 0
    assert mined.delta(receipt["from"]) == -expected


def test_vaults_collect_their_fees(mined: Mined) -> None:
    receipt = mined.receipts[mined.transfer]
    gas_used = int(receipt["gasUsed"], 16)
    base_fee = int(mined.block["baseFeePerGas"], 16)
    tip = int(receipt["effectiveGasPrice"], 16) - base_fee
    assert tip > 0
    assert mined.delta(BASE_FEE_VAULT) == gas_used * base_fee
    assert mined.delta(SEQUENCER_FEE_VAULT) == gas_used * tip
    assert mined.delta(L1_FEE_VAULT) == int(receipt["l1Fee"], 16)
    assert mined.delta(OPERATOR_FEE_VAULT) == _operator_fee(receipt)


def test_call_tracer_traces_the_block(mined: Mined) -> None:
    traces = mined.node.rpc(
        "debug_traceBlockByHash", mined.block["hash"], {"tracer": "callTracer"}, timeout=60
    )
    assert [t["txHash"] for t in traces] == [t["hash"] for t in mined.block["transactions"]]
    by_hash = {t["txHash"]: t["result"] for t in traces}
    assert int(by_hash[mined.deposit_ok]["value"], 16) == ETH
    assert by_hash[mined.deposit_revert].get("error"), by_hash[mined.deposit_revert]
    # op-geth's frame for an invalid deposit: a STOP from the zero address, no value.
    invalid = by_hash[mined.deposit_invalid]
    assert invalid["type"] == "STOP" and invalid["error"] == "failed deposit transaction"
    assert by_hash[mined.transfer]["to"].lower() == dev_addresses()[1].lower()


@dataclass
class JovianChain:
    node: OpGeth
    activation: dict[str, Any]  # the block that activates Jovian, full transactions
    block: dict[str, Any]  # a Jovian block holding `transfer`
    receipt: dict[str, Any]  # the transfer's

    def delta(self, address: str) -> int:
        number = int(self.block["number"], 16)
        after = self.node.rpc("eth_getBalance", address, hex(number))
        return int(after, 16) - int(self.node.rpc("eth_getBalance", address, hex(number - 1)), 16)


@pytest.fixture(scope="module")
def jovian() -> Iterator[JovianChain]:
    with OpGeth(jovian_in=JOVIAN_IN) as node:
        node.mine()
        activation_hash = node.cross_jovian()
        transfer = _send_transfer(node)
        block_hash = node.mine(include=[transfer])
        activation = node.rpc("eth_getBlockByHash", activation_hash, True)
        block = node.rpc("eth_getBlockByHash", block_hash, True)
        receipt = node.rpc("eth_getTransactionReceipt", transfer)
        yield JovianChain(node, activation, block, receipt)


def test_jovian_blocks_carry_jovian_l1_attributes(jovian: JovianChain) -> None:
    assert jovian.node.jovian_time is not None
    assert int(jovian.activation["timestamp"], 16) >= jovian.node.jovian_time
    # The activating block keeps Isthmus' calldata and holds deposits only.
    (info,) = jovian.activation["transactions"]
    assert info["input"].startswith("0x098999be") and len(info["input"]) == 2 + 2 * 176
    first = jovian.block["transactions"][0]
    assert first["input"].startswith("0x3db6be2b")  # setL1BlockValuesJovian
    assert len(bytes.fromhex(first["input"][2:])) == 178
    # Jovian headers: extraData version 1 (with the minimum base fee), DA footprint in blobGasUsed.
    assert jovian.block["extraData"].startswith("0x01") and len(jovian.block["extraData"]) == 36
    assert int(jovian.block["blobGasUsed"], 16) > 0


def test_jovian_operator_fee_is_gas_times_scalar_times_100(jovian: JovianChain) -> None:
    receipt = jovian.receipt
    gas_used = int(receipt["gasUsed"], 16)
    scalar = int(receipt["operatorFeeScalar"], 16)
    constant = int(receipt["operatorFeeConstant"], 16)
    charged = jovian.delta(OPERATOR_FEE_VAULT)
    assert charged == gas_used * scalar * 100 + constant
    assert charged != _operator_fee(receipt)  # the Isthmus formula no longer holds
    gas = gas_used * int(receipt["effectiveGasPrice"], 16)
    paid = gas + int(receipt["l1Fee"], 16) + charged + 10**15
    assert jovian.delta(receipt["from"]) == -paid
