"""Balance changes the protocol makes outside any transaction, as one block-level transaction.

Rosetta needs every balance change inside a transaction; these have none, so they go in one
transaction named by the block hash (as WITHDRAWAL always has):

- GENESIS: block 0's allocations.
- DAO_FORK: at the DAO fork block, each drained account's whole balance to the refund contract.
- MINER_REWARD: ethash blocks before the merge: the block reward plus reward/32 per uncle.
- UNCLE_REWARD: each uncle's miner: (uncle number + 8 - block number) * reward / 8.
- WITHDRAWAL: consensus-layer withdrawals (gwei) after Shanghai.
"""

from __future__ import annotations

from ..types import Currency, Transaction, TransactionIdentifier
from .dao import REFUND_CONTRACT
from .forks import ChainRules
from .headers import BlockData, hex_int
from .oplist import (
    DAO_FORK,
    GENESIS,
    MINER_REWARD,
    UNCLE_REWARD,
    WITHDRAWAL,
    OperationList,
)

GWEI = 10**9


def rewards(ops: OperationList, data: BlockData, rules: ChainRules, native: Currency) -> None:
    header = data.header
    reward = rules.block_reward(header.number, header.difficulty)
    if reward == 0:
        return
    ops.add(MINER_REWARD, header.miner, reward + reward // 32 * len(data.uncles), native)
    for uncle in data.uncles:
        number = hex_int(uncle.get("number"), "uncle number")
        paid = (number + 8 - header.number) * reward // 8
        if paid > 0:
            ops.add(
                UNCLE_REWARD,
                str(uncle["miner"]),
                paid,
                native,
                metadata={"uncle_hash": str(uncle.get("hash", "")).lower(), "uncle": number},
            )


def dao_fork(ops: OperationList, data: BlockData, native: Currency) -> None:
    for address, balance in data.dao_balances.items():
        if balance:
            ops.transfer(DAO_FORK, address, REFUND_CONTRACT, balance, native)


def withdrawals(ops: OperationList, data: BlockData, native: Currency) -> None:
    for w in data.block.get("withdrawals") or []:
        amount = hex_int(w.get("amount"), "withdrawal amount") * GWEI
        if amount:
            ops.add(
                WITHDRAWAL,
                str(w["address"]),
                amount,
                native,
                metadata={"index": hex_int(w.get("index", "0x0"), "withdrawal index")},
            )


def block_level_transaction(
    data: BlockData, rules: ChainRules, native: Currency
) -> Transaction | None:
    ops = OperationList()
    if data.header.number == 0:
        for address, balance in rules.allocations.items():
            if balance:
                ops.add(GENESIS, address, balance, native)
    dao_fork(ops, data, native)
    rewards(ops, data, rules, native)
    withdrawals(ops, data, native)
    if not ops.items:
        return None
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=data.header.hash), operations=ops.items
    )
