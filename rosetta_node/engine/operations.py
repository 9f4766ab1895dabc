"""Pure mapping of one block's chain data to Rosetta transactions and operations.

Every balance change of the block becomes an operation, so that the sum of a block's
successful operations per (account, currency) equals the balance change the node reports:

- FEE: the sender pays gasUsed * effectiveGasPrice (plus blob gas); the fee recipient gets
  the priority part; the base fee and blob fees are burnt, so they have no credit side.
- CALL / CREATE / CREATE2 / SELFDESTRUCT: value moved by a call frame, from the call tracer.
  A reverted frame and all of its descendants move nothing: FAILURE.
- WITHDRAWAL: post-Shanghai validator withdrawals (gwei), in a block-level transaction.
- ERC20_TRANSFER / ERC20_MINT / ERC20_BURN: Transfer logs of tracked tokens.
- GENESIS: allocations of a configured genesis file, in block 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..addresses import ZERO_ADDRESS, checksum
from ..types import (
    AccountIdentifier,
    Amount,
    Currency,
    Operation,
    OperationIdentifier,
    Transaction,
    TransactionIdentifier,
)
from .chain import BlockData, hex_int

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
OPERATION_STATUSES = ((SUCCESS, True), (FAILURE, False))

FEE = "FEE"
CALL = "CALL"
CREATE = "CREATE"
CREATE2 = "CREATE2"
SELFDESTRUCT = "SELFDESTRUCT"
WITHDRAWAL = "WITHDRAWAL"
GENESIS = "GENESIS"
ERC20_TRANSFER = "ERC20_TRANSFER"
ERC20_MINT = "ERC20_MINT"
ERC20_BURN = "ERC20_BURN"
OPERATION_TYPES = (
    FEE,
    CALL,
    CREATE,
    CREATE2,
    SELFDESTRUCT,
    WITHDRAWAL,
    GENESIS,
    ERC20_TRANSFER,
    ERC20_MINT,
    ERC20_BURN,
)

# Frame types that move value between two accounts. DELEGATECALL and STATICCALL carry no
# value of their own, and CALLCODE's value goes from the caller to itself.
_VALUE_FRAMES = {"CALL": CALL, "CREATE": CREATE, "CREATE2": CREATE2, "SELFDESTRUCT": SELFDESTRUCT}
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
GWEI = 10**9


class OperationList:
    """Builds one transaction's operation list with sequential indices."""

    def __init__(self) -> None:
        self.items: list[Operation] = []

    def add(
        self,
        op_type: str,
        account: str,
        value: int,
        currency: Currency,
        *,
        status: str | None = SUCCESS,
        related: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        index = len(self.items)
        self.items.append(
            Operation(
                operation_identifier=OperationIdentifier(index=index),
                type=op_type,
                status=status,
                account=AccountIdentifier(address=checksum(account)),
                amount=Amount(value=str(value), currency=currency),
                related_operations=None
                if related is None
                else [OperationIdentifier(index=related)],
                metadata=metadata,
            )
        )
        return index

    def transfer(
        self,
        op_type: str,
        source: str | None,
        target: str | None,
        value: int,
        currency: Currency,
        status: str | None = SUCCESS,
    ) -> None:
        debit = None
        if source is not None:
            debit = self.add(op_type, source, -value, currency, status=status)
        if target is not None:
            self.add(op_type, target, value, currency, status=status, related=debit)


def fee_operations(
    ops: OperationList,
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    miner: str,
    base_fee: int | None,
    native: Currency,
) -> None:
    gas_used = hex_int(receipt.get("gasUsed"), "gasUsed")
    price_raw = receipt.get("effectiveGasPrice", tx.get("gasPrice"))
    price = hex_int(price_raw, "effectiveGasPrice")
    paid = gas_used * price
    blob_gas = receipt.get("blobGasUsed")
    if blob_gas is not None:
        paid += hex_int(blob_gas, "blobGasUsed") * hex_int(
            receipt.get("blobGasPrice"), "blobGasPrice"
        )
    tip = gas_used * (price - (base_fee or 0))
    if paid == 0:
        return
    debit = ops.add(FEE, str(tx["from"]), -paid, native)
    if tip > 0:
        ops.add(FEE, miner, tip, native, related=debit)


def _walk_frames(
    frame: Mapping[str, Any], failed: bool = False
) -> Iterable[tuple[Mapping[str, Any], bool]]:
    """Frames in execution order with whether they (or an ancestor) reverted."""
    failed = failed or bool(frame.get("error"))
    yield frame, failed
    for child in frame.get("calls") or ():
        yield from _walk_frames(child, failed)


def trace_operations(ops: OperationList, trace: Mapping[str, Any], native: Currency) -> None:
    for frame, failed in _walk_frames(trace):
        op_type = _VALUE_FRAMES.get(str(frame.get("type", "")).upper())
        if op_type is None:
            continue
        value = hex_int(frame.get("value") or "0x0", "frame value")
        if value == 0:
            continue
        source = frame.get("from")
        target = frame.get("to")
        if failed and not target:
            target = None  # a failed CREATE has no address to credit
        ops.transfer(op_type, source, target, value, native, FAILURE if failed else SUCCESS)


def token_operations(
    ops: OperationList, receipt: Mapping[str, Any], tokens: Mapping[str, Currency]
) -> None:
    for log in receipt.get("logs") or ():
        topics: list[Any] = log.get("topics") or []
        # ERC-721 Transfer has a third indexed topic and no data: not a fungible amount.
        if len(topics) != 3 or str(topics[0]).lower() != TRANSFER_TOPIC or log.get("removed"):
            continue
        currency = tokens.get(checksum(str(log["address"])))
        if currency is None:
            continue
        data = str(log.get("data") or "0x")
        if len(data) != 66:
            continue
        value = int(data, 16)
        if value == 0:
            continue
        source = "0x" + str(topics[1])[-40:]
        target = "0x" + str(topics[2])[-40:]
        if source == ZERO_ADDRESS:
            ops.add(ERC20_MINT, target, value, currency)
        elif target == ZERO_ADDRESS:
            ops.add(ERC20_BURN, source, -value, currency)
        else:
            ops.transfer(ERC20_TRANSFER, source, target, value, currency)


def transaction(
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    trace: Mapping[str, Any],
    data: BlockData,
    native: Currency,
    tokens: Mapping[str, Currency],
) -> Transaction:
    ops = OperationList()
    header = data.header
    fee_operations(ops, tx, receipt, header.miner, header.base_fee, native)
    trace_operations(ops, trace, native)
    token_operations(ops, receipt, tokens)
    status = hex_int(receipt.get("status", "0x1"), "status")
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=str(tx["hash"]).lower()),
        operations=ops.items,
        metadata={
            "status": status,
            "type": hex_int(tx.get("type", "0x0"), "type"),
            "gas_used": str(hex_int(receipt.get("gasUsed"), "gasUsed")),
            "effective_gas_price": str(
                hex_int(receipt.get("effectiveGasPrice", tx.get("gasPrice")), "gasPrice")
            ),
        },
    )


def withdrawals_transaction(data: BlockData, native: Currency) -> Transaction | None:
    withdrawals = data.block.get("withdrawals") or []
    ops = OperationList()
    for w in withdrawals:
        amount = hex_int(w.get("amount"), "withdrawal amount") * GWEI
        if amount:
            ops.add(
                WITHDRAWAL,
                str(w["address"]),
                amount,
                native,
                metadata={"index": hex_int(w.get("index", "0x0"), "withdrawal index")},
            )
    if not ops.items:
        return None
    # Withdrawals belong to no transaction; they get a block-level one named by the block hash.
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=data.header.hash), operations=ops.items
    )


def genesis_transaction(
    block_hash: str, allocations: Mapping[str, int], native: Currency
) -> Transaction | None:
    ops = OperationList()
    for address, balance in allocations.items():
        if balance:
            ops.add(GENESIS, address, balance, native)
    if not ops.items:
        return None
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=block_hash), operations=ops.items
    )


def block_transactions(
    data: BlockData,
    native: Currency,
    tokens: Mapping[str, Currency],
    genesis_allocations: Mapping[str, int] | None = None,
) -> list[Transaction]:
    txs = data.block.get("transactions") or []
    result = [
        transaction(tx, receipt, trace, data, native, tokens)
        for tx, receipt, trace in zip(txs, data.receipts, data.traces, strict=True)
    ]
    withdrawals = withdrawals_transaction(data, native)
    if withdrawals is not None:
        result.append(withdrawals)
    if data.header.number == 0 and genesis_allocations:
        genesis = genesis_transaction(data.header.hash, genesis_allocations, native)
        if genesis is not None:
            result.append(genesis)
    return result
