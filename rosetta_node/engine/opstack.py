"""OP Stack balance rules (Optimism, Base and other OP chains), from the OP Stack specs.

- Deposit transactions (type 0x7e) are bought on L1: ``mint`` credits ``from`` (a DEPOSIT
  operation, also when the deposit fails) and the sender pays no fee. Their value moves like any
  call frame's (a failed deposit moves nothing). System deposits mint nothing.
- Every other transaction pays ``gasUsed * effectiveGasPrice`` plus the receipt's ``l1Fee`` plus,
  from Isthmus, the operator fee. Nothing is burnt: the priority part goes to the block's fee
  recipient (the SequencerFeeVault), the base fee to the BaseFeeVault, the L1 fee to the
  L1FeeVault and the operator fee to the OperatorFeeVault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..types import Currency
from .headers import hex_int
from .oplist import DEPOSIT, FEE, OperationList

OP_STACK = "op-stack"
ETHEREUM = "ethereum"
FAMILIES = (ETHEREUM, OP_STACK)
# Chain ids whose family is known: OP Mainnet, Base, and their Sepolia testnets.
OP_STACK_CHAIN_IDS = frozenset({10, 8453, 11155420, 84532})

DEPOSIT_TX_TYPE = 0x7E
BASE_FEE_VAULT = "0x4200000000000000000000000000000000000019"
L1_FEE_VAULT = "0x420000000000000000000000000000000000001a"
OPERATOR_FEE_VAULT = "0x420000000000000000000000000000000000001b"


def is_deposit(tx: Mapping[str, Any]) -> bool:
    return hex_int(tx.get("type", "0x0"), "type") == DEPOSIT_TX_TYPE


def deposit_operations(ops: OperationList, tx: Mapping[str, Any], native: Currency) -> None:
    mint = hex_int(tx.get("mint") or "0x0", "mint")
    if mint:
        ops.add(DEPOSIT, str(tx["from"]), mint, native)


def operator_fee(receipt: Mapping[str, Any], gas_used: int, jovian: bool) -> int:
    """The operator fee (Isthmus on; its receipts carry the scalar and constant). Jovian
    changed the scalar's unit from a millionth to a hundred."""
    scalar, constant = receipt.get("operatorFeeScalar"), receipt.get("operatorFeeConstant")
    if scalar is None and constant is None:
        return 0
    scalar_value = hex_int(scalar or "0x0", "operatorFeeScalar")
    constant_value = hex_int(constant or "0x0", "operatorFeeConstant")
    if jovian:
        return gas_used * scalar_value * 100 + constant_value
    return gas_used * scalar_value // 1_000_000 + constant_value


def fee_operations(
    ops: OperationList,
    tx: Mapping[str, Any],
    receipt: Mapping[str, Any],
    miner: str,
    base_fee: int | None,
    native: Currency,
    jovian: bool,
) -> int:
    """The fee operations of a non-deposit transaction; returns the fee recipient's part."""
    gas_used = hex_int(receipt.get("gasUsed"), "gasUsed")
    price = hex_int(receipt.get("effectiveGasPrice", tx.get("gasPrice")), "effectiveGasPrice")
    base = gas_used * (base_fee or 0)
    tip = gas_used * price - base
    l1 = hex_int(receipt.get("l1Fee") or "0x0", "l1Fee")
    operator = operator_fee(receipt, gas_used, jovian)
    paid = gas_used * price + l1 + operator
    if paid == 0:
        return 0
    debit = ops.add(FEE, str(tx["from"]), -paid, native)
    for account, amount in (
        (miner, tip),
        (BASE_FEE_VAULT, base),
        (L1_FEE_VAULT, l1),
        (OPERATOR_FEE_VAULT, operator),
    ):
        if amount > 0:
            ops.add(FEE, account, amount, native, related=debit)
    return max(tip, 0)
