"""Blocks and transactions as records: the node's block, receipt and fee figures, typed.

What the translators' block and transaction routes show, read from :class:`BlockData` (the
block with full transactions and its receipts, one block hash), so every figure of an answer
comes from one block. Fees follow the receipt: ``tx_fee`` is ``gasUsed * effectiveGasPrice``
(what the sender paid for execution; an OP chain's L1 fee is not in it), ``burnt_fee`` the
base fee part, ``saving_fee`` what a fee-capped (type 2+) transaction did not spend of its
``maxFeePerGas``. Fields a transaction type lacks are 0 or "" (neutral values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .chain import Chain
from .headers import BlockData, hex_int
from .node_client import NodeClient


@dataclass(frozen=True, slots=True)
class BlockRecord:
    number: int
    hash: str
    parent_hash: str
    timestamp: int  # seconds
    difficulty: int
    extra_data: str
    gas_limit: int
    gas_used: int
    base_fee_per_gas: int  # 0 before London
    miner: str
    mix_hash: str
    nonce: str
    receipts_root: str
    sha3_uncles: str
    size: int
    state_root: str
    transactions_root: str
    transactions_count: int
    uncles_count: int
    withdrawals_count: int


@dataclass(frozen=True, slots=True)
class TxRecord:
    type: int
    status: int
    block_number: int
    block_hash: str
    block_timestamp: int  # seconds
    transaction_hash: str
    transaction_index: int
    from_address: str
    to_address: str  # "" for a contract creation
    value: int
    input: str
    nonce: int
    contract_address: str  # the contract created, else ""
    gas: int
    gas_price: int
    gas_used: int
    effective_gas_price: int
    cumulative_gas_used: int
    max_fee_per_gas: int  # 0 for types without a fee cap
    max_priority_fee_per_gas: int
    tx_fee: int
    saving_fee: int
    burnt_fee: int


def iso_time(seconds: int) -> str:
    """A block time as ISO 8601 in UTC (the translators' date-time fields)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int(raw: Mapping[str, Any], key: str) -> int:
    value = raw.get(key)
    return 0 if value is None else hex_int(value, key)


def _text(raw: Mapping[str, Any], key: str, default: str = "") -> str:
    value = raw.get(key)
    return default if value is None else str(value).lower()


def block_record(data: BlockData) -> BlockRecord:
    raw, header = data.block, data.header
    withdrawals = raw.get("withdrawals")
    return BlockRecord(
        number=header.number,
        hash=header.hash,
        parent_hash=header.parent_hash,
        timestamp=header.timestamp,
        difficulty=header.difficulty,
        extra_data=_text(raw, "extraData", "0x"),
        gas_limit=_int(raw, "gasLimit"),
        gas_used=_int(raw, "gasUsed"),
        base_fee_per_gas=header.base_fee or 0,
        miner=header.miner.lower(),
        mix_hash=_text(raw, "mixHash"),
        nonce=_text(raw, "nonce"),
        receipts_root=_text(raw, "receiptsRoot"),
        sha3_uncles=_text(raw, "sha3Uncles"),
        size=_int(raw, "size"),
        state_root=header.state_root,
        transactions_root=_text(raw, "transactionsRoot"),
        transactions_count=len(raw.get("transactions") or ()),
        uncles_count=len(raw.get("uncles") or ()),
        withdrawals_count=len(withdrawals) if isinstance(withdrawals, list) else 0,
    )


def transaction_count(data: BlockData) -> int:
    return len(data.block.get("transactions") or ())


def tx_record(data: BlockData, index: int) -> TxRecord:
    """Transaction ``index`` of the block (0 <= index < transaction_count)."""
    tx: Mapping[str, Any] = data.block["transactions"][index]
    receipt = data.receipts[index]
    gas_used = _int(receipt, "gasUsed")
    price = _int(receipt, "effectiveGasPrice") or _int(tx, "gasPrice")
    cap = _int(tx, "maxFeePerGas")
    base = data.header.base_fee or 0
    return TxRecord(
        type=_int(tx, "type"),
        status=_int(receipt, "status") if receipt.get("status") is not None else 1,
        block_number=data.header.number,
        block_hash=data.header.hash,
        block_timestamp=data.header.timestamp,
        transaction_hash=_text(tx, "hash"),
        transaction_index=index,
        from_address=_text(tx, "from"),
        to_address=_text(tx, "to"),
        value=_int(tx, "value"),
        input=_text(tx, "input", "0x"),
        nonce=_int(tx, "nonce"),
        contract_address=_text(receipt, "contractAddress"),
        gas=_int(tx, "gas"),
        gas_price=_int(tx, "gasPrice") or price,
        gas_used=gas_used,
        effective_gas_price=price,
        cumulative_gas_used=_int(receipt, "cumulativeGasUsed"),
        max_fee_per_gas=cap,
        max_priority_fee_per_gas=_int(tx, "maxPriorityFeePerGas"),
        tx_fee=gas_used * price,
        saving_fee=max(0, cap - price) * gas_used if cap else 0,
        burnt_fee=min(base, price) * gas_used,
    )


async def locate_transaction(chain: Chain, tx_hash: str) -> tuple[str, int] | None:
    """(block hash, position) of a mined transaction; None for one the node does not know
    or has not mined yet."""
    tx = await chain.node.one(NodeClient.transaction(tx_hash))
    if not isinstance(tx, dict) or not tx.get("blockHash"):
        return None
    return str(tx["blockHash"]).lower(), hex_int(tx.get("transactionIndex"), "transactionIndex")
