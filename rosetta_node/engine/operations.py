"""Pure mapping of one block's chain data to Rosetta transactions and operations.

Every balance change of the block becomes an operation, so that the sum of a block's
successful operations per (account, currency) equals the balance change the node reports:

- FEE: the sender pays gasUsed * effectiveGasPrice (plus blob gas); the fee recipient gets
  the priority part; the base fee and blob fees are burnt, so they have no credit side. Before
  London there is no base fee: the whole fee goes to the miner.
- CALL / CREATE / CREATE2 / SELFDESTRUCT: value moved by a call frame, from the call tracer.
  A reverted frame and all of its descendants move nothing: FAILURE.
- SELFDESTRUCT_BURN: an account deleted at the end of its transaction loses what it holds
  then (see _burns).
- ERC20_TRANSFER / ERC20_MINT / ERC20_BURN: Transfer logs of tracked tokens.
- OP Stack chains: deposits (DEPOSIT) and their fee rules, in opstack.py.
- Block-level changes (rewards, the DAO fork, withdrawals, genesis): protocol_ops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..addresses import ZERO_ADDRESS, checksum
from ..types import Currency, Transaction, TransactionIdentifier
from . import opstack
from .forks import ChainRules
from .headers import BlockData, hex_int
from .oplist import (
    CALL,
    CREATE,
    CREATE2,
    ERC20_BURN,
    ERC20_MINT,
    ERC20_TRANSFER,
    FAILURE,
    FEE,
    SELFDESTRUCT,
    SELFDESTRUCT_BURN,
    SUCCESS,
    OperationList,
)
from .protocol_ops import block_level_transaction

# Frame types that move value between two accounts. DELEGATECALL and STATICCALL carry no
# value of their own, and CALLCODE's value goes from the caller to itself.
_VALUE_FRAMES = {"CALL": CALL, "CREATE": CREATE, "CREATE2": CREATE2, "SELFDESTRUCT": SELFDESTRUCT}
LOG_INDEX = "log_index"  # an ERC-20 operation's metadata: its Transfer log's logIndex
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def fee_operations(
    ops: OperationList,
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    miner: str,
    base_fee: int | None,
    native: Currency,
) -> int:
    """The fee operations; returns the miner's part (its tip)."""
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
        return 0
    debit = ops.add(FEE, str(tx["from"]), -paid, native)
    if tip > 0:
        ops.add(FEE, miner, tip, native, related=debit)
        return tip
    return 0


def _walk_frames(
    frame: Mapping[str, Any], failed: bool = False, context: str | None = None
) -> Iterable[tuple[Mapping[str, Any], bool, str | None]]:
    """Frames in execution order with whether they (or an ancestor) reverted, and the account
    whose code made the frame (a DELEGATECALL or CALLCODE frame runs in its caller's)."""
    failed = failed or bool(frame.get("error"))
    yield frame, failed, context
    kind = str(frame.get("type", "")).upper()
    runs_as = frame.get("from") if kind in ("DELEGATECALL", "CALLCODE") else frame.get("to")
    own = context if kind in ("DELEGATECALL", "CALLCODE") and context else runs_as
    for child in frame.get("calls") or ():
        yield from _walk_frames(child, failed, str(own).lower() if own else None)


class _Deletions:
    """Accounts a transaction deletes, and what each holds from its first SELFDESTRUCT on.

    Before Cancun every self-destructed account is deleted at the end of the transaction;
    from Cancun (EIP-6780) only one created in the same transaction. A SELFDESTRUCT moves the
    whole balance to the beneficiary, so from that frame on the balance is known exactly:
    what comes back (the beneficiary may be the account itself) and what arrives later.
    """

    def __init__(self, cancun: bool) -> None:
        self.cancun = cancun
        self.created: set[str] = set()
        self.held: dict[str, int] = {}  # deleted account -> balance since its SELFDESTRUCT

    def frame(self, kind: str, source: str, target: str, value: int) -> None:
        if kind in (CREATE, CREATE2):
            self.created.add(target)
        elif (
            kind == SELFDESTRUCT
            and source not in self.held
            and (not self.cancun or source in self.created)
        ):
            self.held[source] = value  # then debited by the frame's own move below
        for account, change in ((source, -value), (target, value)):
            if account in self.held:
                self.held[account] += change

    def credit(self, account: str, value: int) -> None:
        if account in self.held:
            self.held[account] += value


def trace_operations(
    ops: OperationList, trace: Mapping[str, Any], native: Currency, deletions: _Deletions
) -> None:
    for frame, failed, context in _walk_frames(trace):
        op_type = _VALUE_FRAMES.get(str(frame.get("type", "")).upper())
        if op_type is None:
            continue
        value = hex_int(frame.get("value") or "0x0", "frame value")
        source = frame.get("from")
        target = frame.get("to")
        if op_type == SELFDESTRUCT and context:
            # The account destroyed is the one whose code ran SELFDESTRUCT. revm's tracer
            # (anvil, reth) can name another account here when a contract destroys itself
            # to itself (bluealloy/revm#3834); geth always names this one.
            source = context
        if not failed and source and target:
            deletions.frame(op_type, str(source).lower(), str(target).lower(), value)
        if value == 0:
            continue
        if failed and not target:
            target = None  # a failed CREATE has no address to credit
        ops.transfer(op_type, source, target, value, native, FAILURE if failed else SUCCESS)


def burn_operations(ops: OperationList, deletions: _Deletions, native: Currency) -> None:
    for account, held in deletions.held.items():
        if held > 0:
            ops.add(SELFDESTRUCT_BURN, account, -held, native)


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
        # The log's position in the block: what names a token transfer (the translators'
        # logIndex), kept on both operations of the transfer.
        where = None if log.get("logIndex") is None else {LOG_INDEX: hex_int(log["logIndex"])}
        if source == ZERO_ADDRESS:
            ops.add(ERC20_MINT, target, value, currency, metadata=where)
        elif target == ZERO_ADDRESS:
            ops.add(ERC20_BURN, source, -value, currency, metadata=where)
        else:
            ops.transfer(ERC20_TRANSFER, source, target, value, currency, metadata=where)


def transaction_status(receipt: Mapping[str, Any], trace: Mapping[str, Any]) -> int:
    """1 for success. Receipts before Byzantium carry a state root instead of a status; then
    the trace's top frame says whether the transaction failed."""
    status = receipt.get("status")
    if status is None:
        return 0 if trace.get("error") else 1
    return hex_int(status, "status")


def transaction(
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    trace: Mapping[str, Any],
    data: BlockData,
    native: Currency,
    tokens: Mapping[str, Currency],
    rules: ChainRules,
    cancun: bool,
) -> Transaction:
    ops = OperationList()
    header = data.header
    if rules.family != opstack.OP_STACK:
        tip = fee_operations(ops, tx, receipt, header.miner, header.base_fee, native)
    elif opstack.is_deposit(tx):
        tip = 0  # gas bought on L1: no fee here, the mint instead
        opstack.deposit_operations(ops, tx, native)
    else:
        jovian = rules.is_jovian(header.timestamp)
        tip = opstack.fee_operations(
            ops, tx, receipt, header.miner, header.base_fee, native, jovian
        )
    deletions = _Deletions(cancun)
    trace_operations(ops, trace, native, deletions)
    # The miner is paid after execution but before deletions: a deleted miner loses its tip.
    deletions.credit(header.miner.lower(), tip)
    burn_operations(ops, deletions, native)
    token_operations(ops, receipt, tokens)
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=str(tx["hash"]).lower()),
        operations=ops.items,
        metadata={
            "status": transaction_status(receipt, trace),
            "type": hex_int(tx.get("type", "0x0"), "type"),
            "gas_used": str(hex_int(receipt.get("gasUsed"), "gasUsed")),
            "effective_gas_price": str(
                hex_int(receipt.get("effectiveGasPrice", tx.get("gasPrice")), "gasPrice")
            ),
        },
    )


def block_transactions(
    data: BlockData,
    native: Currency,
    tokens: Mapping[str, Currency],
    rules: ChainRules,
) -> list[Transaction]:
    txs = data.block.get("transactions") or []
    cancun = rules.is_cancun(data.header.timestamp, data.block)
    result = [
        transaction(tx, receipt, trace, data, native, tokens, rules, cancun)
        for tx, receipt, trace in zip(txs, data.receipts, data.traces, strict=True)
    ]
    block_level = block_level_transaction(data, rules, native)
    if block_level is not None:
        result.append(block_level)
    return result
