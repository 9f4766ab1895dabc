"""The one place that decides whether an address is an ERC-20 token at a block, from what
the chain says there, never from node trouble.

Not a token: a precompile (0x01-0x11: Cancun's 0x01-0x0a and Prague's BLS12-381 0x0b-0x11;
0x100, P256VERIFY of Osaka and OP Fjord): nothing can ever be deployed at these addresses,
and some answer any call with a word of garbage (sha256, ripemd160), so they are never asked;
an EOA with an EIP-7702 delegation (code ``0xef0100 || delegate``); a contract that answers
neither ``totalSupply()`` nor ``balanceOf(0x0)`` with one uint256 word.

The check costs nothing on the usual path: a ``balanceOf`` that answers one word is a
balance. Only a pair whose answer is not one word (reverted, out of gas, nothing, garbage)
makes the chain be asked, once per (block, contract): its code and the two probes, in one
batch. A token that answers the probes but fails ``balanceOf`` for one account stays a
token: that pair has no balance (:class:`NoBalance`), each API words it. The node's own
trouble (timeouts, missing state, a reorg) is raised as the catalog error it maps to.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from cachetools import LRUCache

from .. import erc20
from ..addresses import ZERO_ADDRESS
from ..errors import CALL_REVERTED, NOT_A_TOKEN, CatalogError
from .chain import Header
from .node import NetworkEngine
from .node_client import NodeClient, NodeError
from .node_errors import execution_failure, state_error

PRECOMPILES = frozenset([*range(0x01, 0x12), 0x100])
DELEGATION = "0xef0100"  # EIP-7702: the code of a delegated EOA is this and the delegate
_DELEGATED_LEN = len(DELEGATION) + 40


class NoBalance(Enum):
    """Why a (contract, account) pair has no ERC-20 balance at a block (the value is the
    reason we name)."""

    NO_CODE = "no contract at this block"
    # Not a token (NOT_A_TOKEN): the same for every account.
    PRECOMPILE = "a precompile, not a token contract"
    DELEGATED = "an account with an EIP-7702 delegation, not a token contract"
    NOT_ERC20 = "the contract answers neither totalSupply() nor balanceOf with one uint256"
    # A token whose balanceOf fails for this account: fixed at this block.
    REVERTED = "balanceOf reverted for this account"
    OUT_OF_GAS = "balanceOf ran out of gas for this account"
    NOT_ONE_WORD = "balanceOf did not return one uint256 for this account"


NOT_TOKENS = frozenset({NoBalance.PRECOMPILE, NoBalance.DELEGATED, NoBalance.NOT_ERC20})
_verdicts: LRUCache[tuple[int, str, str], NoBalance | None] = LRUCache(maxsize=10_000)


def is_precompile(address: str) -> bool:
    return int(address, 16) in PRECOMPILES


def failed_call(result: Any, header: Header) -> NoBalance:
    """What a ``balanceOf`` answer that is not one word says of this pair, before the
    contract is checked; node trouble raised (retriable, or missing history)."""
    if isinstance(result, NodeError):
        kind = execution_failure(result)
        if kind is None:
            raise state_error(result, header)
        return NoBalance.OUT_OF_GAS if kind == "out of gas" else NoBalance.REVERTED
    return NoBalance.NOT_ONE_WORD


async def verdicts(
    engine: NetworkEngine, header: Header, contracts: Iterable[str], near: bool | None = None
) -> dict[str, NoBalance | None]:
    """Per contract: None (an ERC-20 token), NO_CODE, or why it is not a token."""
    out: dict[str, NoBalance | None] = {}
    ask: list[str] = []
    for contract in dict.fromkeys(contracts):
        key = (id(engine), header.hash, contract)
        if is_precompile(contract):
            out[contract] = NoBalance.PRECOMPILE
        elif key in _verdicts:
            out[contract] = _verdicts[key]
        else:
            ask.append(contract)
    if not ask:
        return out
    pin = header.pin()
    calls = []
    for contract in ask:
        calls += [
            NodeClient.code(contract, pin),
            NodeClient.total_supply(contract, pin),
            NodeClient.balance_of(contract, ZERO_ADDRESS, pin),
        ]
    results = await engine.chain.read_state(header, calls, near=near)
    for i, contract in enumerate(ask):
        verdict = _verdict(results[3 * i : 3 * i + 3], header)
        out[contract] = _verdicts[(id(engine), header.hash, contract)] = verdict
    return out


def _verdict(results: list[Any], header: Header) -> NoBalance | None:
    code, *probes = results
    if isinstance(code, NodeError):
        raise state_error(code, header)
    if not isinstance(code, str) or code in ("0x", ""):
        return NoBalance.NO_CODE
    if code.lower().startswith(DELEGATION) and len(code) == _DELEGATED_LEN:
        return NoBalance.DELEGATED
    for probe in probes:
        if erc20.decode_uint(probe) is not None:
            return None
        if isinstance(probe, NodeError) and execution_failure(probe) is None:
            raise state_error(probe, header)
    return NoBalance.NOT_ERC20


async def require_tokens(engine: NetworkEngine, header: Header, contracts: Iterable[str]) -> None:
    """Raise NOT_A_TOKEN for the first of ``contracts`` that is not an ERC-20 token at
    ``header`` (an address without code passes: it holds nothing, and may be a token
    deployed later). One batch for all of them, and only for those not checked before."""
    for contract, verdict in (await verdicts(engine, header, contracts)).items():
        if verdict in NOT_TOKENS:
            assert verdict is not None
            raise no_balance_error(verdict, contract, header)


def no_balance_error(value: NoBalance, contract: str, header: Header) -> CatalogError:
    """The catalog error of a pair without balance: not a token (NOT_A_TOKEN), or a token
    whose balanceOf failed for this account (CALL_REVERTED); neither is retriable."""
    details = {"contractAddress": contract, "block": header.number, "reason": value.value}
    return CatalogError(NOT_A_TOKEN if value in NOT_TOKENS else CALL_REVERTED, details)
