"""Value transfers read from a transaction's operations, for the translators' history answers.

A transfer moves an amount of one currency from one account to another, and /block writes it
as operations: a debit of the sender and a credit of the recipient whose
``related_operations`` names the debit (CALL, CREATE, CREATE2, SELFDESTRUCT frames, ERC-20
Transfer logs). A mint (ERC20_MINT) is a credit alone, from the zero address; a burn
(ERC20_BURN) a debit alone, to it. Only successful operations move value. Fees, withdrawals,
rewards, genesis allocations, deposits and selfdestruct burns change balances but move nothing
from one account to another: they are not transfers (the transaction is still found by them).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..addresses import ZERO_ADDRESS
from ..engine.operations import LOG_INDEX
from ..engine.oplist import (
    CALL,
    CREATE,
    CREATE2,
    ERC20_BURN,
    ERC20_MINT,
    ERC20_TRANSFER,
    SELFDESTRUCT,
    SUCCESS,
)
from ..types import Operation, Transaction

TRANSFER_TYPES = frozenset({CALL, CREATE, CREATE2, SELFDESTRUCT, ERC20_TRANSFER})
ONE_SIDED = frozenset({ERC20_MINT, ERC20_BURN})


@dataclass(frozen=True, slots=True)
class Transfer:
    sender: str  # lower-case; the zero address for a mint
    recipient: str  # lower-case; the zero address for a burn
    amount: int  # > 0
    contract: str  # "" for the native coin, else the token contract (lower-case)
    log_index: int | None  # the Transfer log's position in the block; None: no log (native)
    op_index: int  # the first of its operations in the transaction


@dataclass(frozen=True, slots=True)
class AccountTransfer:
    """A transfer as one account sees it: ``sent`` when it is the sender. A transfer to
    oneself is seen twice, sent and received (one per operation of the account)."""

    transfer: Transfer
    sent: bool


def _contract(op: Operation) -> str:
    metadata = None if op.amount is None else op.amount.currency.metadata
    contract = None if metadata is None else metadata.get("contractAddress")
    return "" if contract is None else str(contract).lower()


def _log_index(op: Operation) -> int | None:
    value = None if op.metadata is None else op.metadata.get(LOG_INDEX)
    return value if isinstance(value, int) else None


def _moves(op: Operation) -> bool:
    return (
        op.status == SUCCESS
        and op.account is not None
        and op.amount is not None
        and (op.type in TRANSFER_TYPES or op.type in ONE_SIDED)
        and int(op.amount.value) != 0
    )


def transfers_of(tx: Transaction) -> list[Transfer]:
    """The transfers of ``tx``, in the order of their first operation."""
    ops = {op.operation_identifier.index: op for op in tx.operations if _moves(op)}
    credited: dict[int, Operation] = {}  # debit index -> its credit
    for op in ops.values():
        for related in op.related_operations or ():
            if related.index in ops and int(ops[related.index].amount.value) < 0:  # type: ignore[union-attr]
                credited[related.index] = op
    paired = {c.operation_identifier.index for c in credited.values()}
    found = []
    for index, op in sorted(ops.items()):
        if index in paired:
            continue  # written with its debit
        assert op.account is not None and op.amount is not None
        value = int(op.amount.value)
        account = op.account.address.lower()
        credit = credited.get(index)
        if credit is not None:
            assert credit.account is not None
            sender, recipient = account, credit.account.address.lower()
        elif value < 0:
            sender, recipient = account, ZERO_ADDRESS
        else:
            sender, recipient = ZERO_ADDRESS, account
        found.append(Transfer(sender, recipient, abs(value), _contract(op), _log_index(op), index))
    return found


def account_transfers(
    tx: Transaction, account: str, currencies: Collection[str] | None = None
) -> list[AccountTransfer]:
    """The transfers of ``tx`` from or to ``account`` (lower-case), of ``currencies`` when
    given ("" the native coin), each as the account sees it."""
    found = []
    for transfer in transfers_of(tx):
        if currencies is not None and transfer.contract not in currencies:
            continue
        if transfer.sender == account:
            found.append(AccountTransfer(transfer, sent=True))
        if transfer.recipient == account:
            found.append(AccountTransfer(transfer, sent=False))
    return found
