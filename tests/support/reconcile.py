"""Per-block reconciliation: a block's operations against the node's own balances.

For every block, the sum of SUCCESS operations per (account, currency) must equal the change
of ``eth_getBalance`` / ``balanceOf`` from the parent block to the block, for every account
checked (the ones given and every account any operation names). Block 0 is checked against
nothing: its operations must equal the balances themselves.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

NATIVE = ""


@dataclass
class Reconciled:
    blocks: int
    accounts: int
    checks: int  # (block, account, currency) balance changes compared
    operations: int
    by_type: dict[str, int]  # SUCCESS operations per type


def currency_key(currency: dict[str, Any]) -> str:
    return (currency.get("metadata") or {}).get("contractAddress", NATIVE)


def state_at(
    rpc: Any, block: int, accounts: Sequence[str], tokens: Sequence[str]
) -> dict[tuple[str, str], int]:
    """Balances read straight from the RPC node at one block number."""
    calls: list[tuple[str, list[Any]]] = []
    keys: list[tuple[str, str]] = []
    for account in accounts:
        calls.append(("eth_getBalance", [account, hex(block)]))
        keys.append((account, NATIVE))
        for token in tokens:
            data = "0x70a08231" + account[2:].lower().rjust(64, "0")
            calls.append(("eth_call", [{"to": token, "data": data}, hex(block)]))
            keys.append((account, token))
    values = rpc.batch(calls)
    return {k: (0 if v == "0x" else int(v, 16)) for k, v in zip(keys, values, strict=True)}


def block_of(node: Any, network: dict[str, str], number: int, patience: float = 60.0) -> Any:
    """/block ``number``, asked again while the node answers a retriable error (as every
    Rosetta client does: e.g. a node that has just started and is still indexing)."""
    deadline = time.monotonic() + patience
    while True:
        answer = node.post(
            "/block", {"network_identifier": network, "block_identifier": {"index": number}}
        )
        if answer.status == 200:
            return answer.body["block"]
        retriable = isinstance(answer.body, dict) and answer.body.get("retriable")
        assert retriable and time.monotonic() < deadline, f"/block {number}: {answer.body}"
        time.sleep(0.2)


def reconcile(
    node: Any,
    rpc: Any,
    network: dict[str, str],
    blocks: Iterable[int],
    accounts: Iterable[str],
    tokens: Sequence[str] = (),
) -> Reconciled:
    """Check every block in ``blocks`` (ascending, consecutive); raise AssertionError naming
    the first block, account and amounts that differ."""
    numbers = list(blocks)
    answers = {n: block_of(node, network, n) for n in numbers}
    checked = {a.lower() for a in accounts}
    for block in answers.values():
        for tx in block["transactions"]:
            checked.update(op["account"]["address"].lower() for op in tx["operations"])
    ordered = sorted(checked)
    previous = (
        state_at(rpc, numbers[0] - 1, ordered, tokens)
        if numbers[0] > 0
        else dict.fromkeys(((a, c) for a in ordered for c in [NATIVE, *tokens]), 0)
    )
    by_type: dict[str, int] = defaultdict(int)
    checks = operations = 0
    for number in numbers:
        block = answers[number]
        assert block["block_identifier"]["index"] == number
        head = rpc.batch([("eth_getBlockByNumber", [hex(number), False])])[0]
        assert block["block_identifier"]["hash"] == head["hash"]
        delta: dict[tuple[str, str], int] = defaultdict(int)
        for tx in block["transactions"]:
            for op in tx["operations"]:
                if op.get("status") != "SUCCESS":
                    continue
                operations += 1
                by_type[op["type"]] += 1
                key = (op["account"]["address"].lower(), currency_key(op["amount"]["currency"]))
                delta[key] += int(op["amount"]["value"])
        current = state_at(rpc, number, ordered, tokens)
        for key, value in current.items():
            assert value - previous[key] == delta.get(key, 0), (
                f"block {number}: {key} changed by {value - previous[key]} on chain, "
                f"operations say {delta.get(key, 0)}"
            )
            checks += 1
        previous = current
    return Reconciled(len(numbers), len(ordered), checks, operations, dict(by_type))
