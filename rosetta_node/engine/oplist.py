"""Operation types and statuses, and the builder of one transaction's operation list."""

from __future__ import annotations

from typing import Any

from ..addresses import checksum
from ..types import AccountIdentifier, Amount, Currency, Operation, OperationIdentifier

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
OPERATION_STATUSES = ((SUCCESS, True), (FAILURE, False))

FEE = "FEE"
CALL = "CALL"
CREATE = "CREATE"
CREATE2 = "CREATE2"
SELFDESTRUCT = "SELFDESTRUCT"
SELFDESTRUCT_BURN = "SELFDESTRUCT_BURN"
WITHDRAWAL = "WITHDRAWAL"
GENESIS = "GENESIS"
MINER_REWARD = "MINER_REWARD"
UNCLE_REWARD = "UNCLE_REWARD"
DAO_FORK = "DAO_FORK"
DEPOSIT = "DEPOSIT"
ERC20_TRANSFER = "ERC20_TRANSFER"
ERC20_MINT = "ERC20_MINT"
ERC20_BURN = "ERC20_BURN"
OPERATION_TYPES = (
    FEE,
    CALL,
    CREATE,
    CREATE2,
    SELFDESTRUCT,
    SELFDESTRUCT_BURN,
    WITHDRAWAL,
    GENESIS,
    MINER_REWARD,
    UNCLE_REWARD,
    DAO_FORK,
    DEPOSIT,
    ERC20_TRANSFER,
    ERC20_MINT,
    ERC20_BURN,
)


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
        metadata: dict[str, Any] | None = None,
    ) -> None:
        debit = None
        if source is not None:
            debit = self.add(op_type, source, -value, currency, status=status, metadata=metadata)
        if target is not None:
            self.add(
                op_type, target, value, currency, status=status, related=debit, metadata=metadata
            )
