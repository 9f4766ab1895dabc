"""The rows of history blocks, for both stores: pure functions over /block's transactions.

A store collects the addresses of a batch (:func:`addresses`), maps them to ids in the shared
``addresses`` table (as the Transfer index does, :class:`~.batch.AddressIds`), then writes
:func:`block_rows`, :func:`tx_rows` and :func:`op_rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ..types import Transaction
from .history_model import NATIVE_ID, HistoryBlock

BlockRow = tuple[int, str, str]  # number, hash, parent hash
TxRow = tuple[int, int, str, bytes]  # block, tx index, hash, body
# account id, block, tx index, op index, currency id, type, status, amount
OpRow = tuple[int, int, int, int, int, str, str, str]

_encode = msgspec.json.Encoder().encode


def currency_address(tx: Transaction, op_index: int) -> str:
    """The lower-case contract of an operation's currency; "" for the native coin."""
    amount = tx.operations[op_index].amount
    metadata = None if amount is None else amount.currency.metadata
    contract = None if metadata is None else metadata.get("contractAddress")
    return "" if contract is None else str(contract).lower()


def addresses(blocks: Sequence[HistoryBlock]) -> set[str]:
    """Every account and token contract the operations of ``blocks`` name (lower-case)."""
    found: set[str] = set()
    for block in blocks:
        for tx in block.transactions or ():
            for i, op in enumerate(tx.operations):
                if op.account is not None:
                    found.add(op.account.address.lower())
                contract = currency_address(tx, i)
                if contract:
                    found.add(contract)
    return found


def block_rows(blocks: Sequence[HistoryBlock]) -> list[BlockRow]:
    return [(b.number, b.hash, b.parent_hash) for b in blocks]


def tx_rows(blocks: Sequence[HistoryBlock]) -> list[TxRow]:
    """Every transaction, its body encoded exactly as /block encodes it."""
    return [
        (b.number, i, tx.transaction_identifier.hash, _encode(tx))
        for b in blocks
        for i, tx in enumerate(b.transactions or ())
    ]


def op_rows(blocks: Sequence[HistoryBlock], ids: dict[str, int]) -> list[OpRow]:
    """One row per operation with an account and an amount (every balance change)."""
    rows: list[OpRow] = []
    for block in blocks:
        for t, tx in enumerate(block.transactions or ()):
            for o, op in enumerate(tx.operations):
                if op.account is None or op.amount is None:
                    continue
                contract = currency_address(tx, o)
                rows.append(
                    (
                        ids[op.account.address.lower()],
                        block.number,
                        t,
                        op.operation_identifier.index,
                        ids[contract] if contract else NATIVE_ID,
                        op.type,
                        op.status or "",
                        op.amount.value,
                    )
                )
    return rows
