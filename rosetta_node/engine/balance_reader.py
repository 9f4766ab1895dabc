"""``balanceOf`` of many (token, account) pairs in one ``eth_call``.

One eth_call per token costs the node a state lookup and an EVM set-up each: 50 tokens, 50
of them (measured on anvil: 6x the CPU of one call that reads all 50, see bench/README.md),
and 50 billed calls on a hosted RPC. ``contracts/BalanceReader.sol`` reads many pairs in one
EVM run. Nothing is deployed: its init code, with the pairs appended as constructor arguments,
is the ``data`` of an eth_call without ``to``, pinned to a block like any other state read,
and what the constructor returns is the answer. Every node (geth, reth, erigon, anvil, ...)
runs such a call.

The caller gets, for each pair, exactly what a ``balanceOf`` eth_call of its own would have
answered (a hex string, or a NodeError): a pair the reader cannot answer for sure (the token
reverted, ran out of its gas allowance, or returned something other than one word), or a
reader call the node refused, is asked again on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from .. import erc20
from ..artifacts import bytecode
from .chain import Chain, Header
from .node_client import Call, NodeClient, NodeError

INIT_CODE = bytecode("BalanceReader")
MAX_PAIRS = 100  # per eth_call: ~7.5 KB of init code, well under EIP-3860's 48 KiB

Pair = tuple[str, str]  # (token contract, account), 0x-hex addresses
log = logging.getLogger(__name__)
_warned: set[int] = set()  # id() of the chains whose node refused the reader (logged once)
_STATUS_ONE_WORD, _STATUS_NOTHING = 0, 1


def _word(value: int) -> str:
    return format(value, "064x")


def reader_call(pairs: Sequence[Pair], pin: Any) -> Call:
    """One eth_call reading every pair (constructor arguments: tokens[], accounts[])."""
    n = len(pairs)
    parts = [INIT_CODE, _word(64), _word(64 + 32 * (n + 1)), _word(n)]
    parts += [erc20.address_word(token) for token, _ in pairs]
    parts.append(_word(n))
    parts += [erc20.address_word(account) for _, account in pairs]
    return NodeClient.deployless("".join(parts), pin)


def reader_answer(answer: Any, count: int) -> list[str | None]:
    """Per pair what its own balanceOf eth_call would have answered; None: ask it alone
    (all None when ``answer`` is not the reader's answer for ``count`` pairs)."""
    if not isinstance(answer, str) or len(answer) != 2 + 128 * count or not answer.startswith("0x"):
        return [None] * count
    out: list[str | None] = []
    for start in range(2, len(answer), 128):
        status, value = answer[start : start + 64], answer[start + 64 : start + 128]
        try:
            code = int(status, 16)
            int(value, 16)
        except ValueError:
            return [None] * count
        if code == _STATUS_ONE_WORD:
            out.append("0x" + value)
        elif code == _STATUS_NOTHING:
            out.append("0x")
        else:
            out.append(None)
    return out


def _warn_refused(chain: Chain, error: NodeError) -> None:
    """Once per chain: the node refused the reader (each such read then costs a second
    round trip; ``multicall = false`` skips the attempt)."""
    if id(chain) in _warned:
        return
    _warned.add(id(chain))
    log.warning(
        "the node refused a BalanceReader eth_call (%s %s); token balances fall back to one"
        " eth_call each (set multicall = false to skip the attempt)",
        error.code,
        error.message[:200],
    )


def balance_of_call(token: str, account: str, pin: Any) -> Call:
    return NodeClient.balance_of(token, account, pin)


class TokenReads:
    """The ``balanceOf`` reads of many pairs at one block: the calls to put in a batch, then
    per pair what its own eth_call would have answered.

    ``reader``: whether to use the BalanceReader (the network's ``multicall`` setting); one
    pair alone is always asked directly. The calls can share a batch with other reads.
    """

    def __init__(self, pairs: Sequence[Pair], pin: Any, *, reader: bool) -> None:
        self.pairs = pairs
        self.pin = pin
        if not reader or len(pairs) < 2:
            self.chunks: list[Sequence[Pair]] = []
            self.calls = [balance_of_call(token, account, pin) for token, account in pairs]
        else:
            self.chunks = [pairs[i : i + MAX_PAIRS] for i in range(0, len(pairs), MAX_PAIRS)]
            self.calls = [reader_call(chunk, pin) for chunk in self.chunks]

    async def answers(
        self, chain: Chain, header: Header, results: Sequence[Any], near: bool | None
    ) -> list[Any]:
        """Per pair its answer (a hex string or a NodeError), from the results of
        ``self.calls``; pairs the reader could not answer are asked again on their own."""
        if not self.chunks:
            return list(results)
        answers: list[Any] = []
        for chunk, answer in zip(self.chunks, results, strict=True):
            if isinstance(answer, NodeError):  # e.g. a node that refuses calls without `to`
                _warn_refused(chain, answer)
                answers += [None] * len(chunk)
            else:
                answers += reader_answer(answer, len(chunk))
        again = [i for i, answer in enumerate(answers) if answer is None]
        if again:
            alone = [balance_of_call(*self.pairs[i], self.pin) for i in again]
            asked = await chain.read_state(header, alone, near=near)
            for i, answer in zip(again, asked, strict=True):
                answers[i] = answer
        return answers


async def read_balances(
    chain: Chain, header: Header, pairs: Sequence[Pair], *, reader: bool, near: bool | None = None
) -> list[Any]:
    """The balanceOf answer of each pair at ``header``, in one batch (a second one only for
    pairs the reader could not answer). ``near``: as Chain.read_state."""
    reads = TokenReads(pairs, header.pin(), reader=reader)
    results = await chain.read_state(header, reads.calls, near=near)
    return await reads.answers(chain, header, results, near)
