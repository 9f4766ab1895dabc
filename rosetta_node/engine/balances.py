"""Balances at a block: the one reader of native balances, nonces and ERC-20 balances of
accounts at a block hash, for /account/balance and the token translators alike.

Whatever one answer still needs is ONE batch: ``eth_getBalance`` and
``eth_getTransactionCount`` of each account and the BalanceReader calls of every (token,
account) pair (see balance_reader). Near the head of a node that may answer from the next
block's state (Chain.near_head), balance and nonce are proven with ``eth_getProof`` instead
(Chain.account_at) and the batch is confirmed (Chain.read_state). Node errors become catalog
errors here, once (node_errors' mappings); a pair without balance stays typed
(:class:`NoBalance`, decided by token_check from what the chain says) so each API words it
its own way. Everything read is cached per (block hash, account): a block hash names
immutable state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .. import erc20
from ..errors import NODE_ERROR, CatalogError
from .balance_reader import Pair, TokenReads
from .chain import Header, hex_int
from .node import NetworkEngine
from .node_client import Call, NodeClient, NodeError
from .node_errors import state_error
from .token_check import NoBalance, failed_call, is_precompile, no_balance_error, verdicts

TokenValue = int | NoBalance  # what balanceOf of one (token, account) pair answered


@dataclass(slots=True)  # (not frozen: built per request, and frozen costs 3x to build)
class Want:
    """What to read of one account at one block."""

    native: bool = False
    nonce: bool = False
    tokens: tuple[str, ...] = ()  # token contracts, checksummed


@dataclass(frozen=True, slots=True)
class AccountState:
    """What is known of one account at one block hash (None: not read). Never changed once
    built: a cached state may be held by a concurrent reader."""

    native: int | None = None
    nonce: int | None = None
    tokens: Mapping[str, TokenValue] = field(default_factory=dict)

    def lacks(self, want: Want) -> Want:
        """What of ``want`` is not known here (each token once)."""
        tokens = want.tokens
        if tokens:
            tokens = tuple(dict.fromkeys(tokens))
            if self.tokens:
                tokens = tuple(t for t in tokens if t not in self.tokens)
        return Want(want.native and self.native is None, want.nonce and self.nonce is None, tokens)

    def merged(self, new: AccountState) -> AccountState:
        return AccountState(
            self.native if new.native is None else new.native,
            self.nonce if new.nonce is None else new.nonce,
            {**self.tokens, **new.tokens} if self.tokens else new.tokens,
        )


_NOTHING = AccountState()


# -- what the APIs make of a token's answer ---------------------------------------------------


def held(value: TokenValue, contract: str, header: Header) -> int:
    """A token balance as /account/balance answers it: no contract (yet) holds nothing (a
    token before its deployment); not a token, or a token whose balanceOf fails for this
    account, is an error that no retry changes (token_check.no_balance_error)."""
    if isinstance(value, int):
        return value
    if value is NoBalance.NO_CODE:
        return 0
    raise no_balance_error(value, contract, header)


def erc20_balance(value: TokenValue) -> int | None:
    """A token balance as the translators' lists answer it: None where the pair has no
    ERC-20 balance (the index holds whatever logged a Transfer: such rows are left out)."""
    return value if isinstance(value, int) else None


# -- reading -----------------------------------------------------------------------------------


async def read_account(
    engine: NetworkEngine, header: Header, address: str, want: Want, *, fresh: bool = False
) -> AccountState:
    """What ``want`` names of ``address`` at ``header`` (and whatever else is cached)."""
    return (await read_accounts(engine, header, {address: want}, fresh=fresh))[address]


async def token_values(
    engine: NetworkEngine, header: Header, pairs: Sequence[Pair]
) -> list[TokenValue]:
    """``balanceOf`` of each (token, account) pair at ``header``, all in one batch."""
    tokens: dict[str, list[str]] = {}
    for token, account in pairs:
        tokens.setdefault(account, []).append(token)
    wants = {account: Want(tokens=tuple(t)) for account, t in tokens.items()}
    states = await read_accounts(engine, header, wants)
    return [states[account].tokens[token] for token, account in pairs]


async def read_accounts(
    engine: NetworkEngine, header: Header, wants: Mapping[str, Want], *, fresh: bool = False
) -> dict[str, AccountState]:
    """What each account's Want names at ``header``: from the cache, the rest in one batch.

    ``fresh``: ask the node even for what is cached (an answer at the head then also shows
    the node still serves our chain: the RPC client's chain guard rides on every POST).
    """
    cache, block = engine.cache.balances, header.hash
    known: dict[str, AccountState] = {}
    missing: dict[str, Want] = {}
    for address, want in wants.items():
        known[address] = state = cache.get((block, address)) or _NOTHING
        lacking = (_NOTHING if fresh else state).lacks(want)
        if lacking.native or lacking.nonce or lacking.tokens:
            missing[address] = lacking
    if not missing:
        return known
    for address, new in (await _read(engine, header, missing)).items():
        # A new state, not the cached one changed: a concurrent reader may hold that.
        old = known[address]
        known[address] = state = new if old is _NOTHING else old.merged(new)
        cache[(block, address)] = state
    return known


async def _read(
    engine: NetworkEngine, header: Header, wants: Mapping[str, Want]
) -> dict[str, AccountState]:
    """Read ``wants`` at ``header``: one batch, plus balance and nonce proofs near the head."""
    chain = engine.chain
    near = await chain.near_head(header)
    pin = header.pin()
    # At a head a racing node may answer from the next block's state: balance and nonce then
    # come with a proof checked against the block's state root (Chain.account_at).
    proven = [a for a, w in wants.items() if w.native or w.nonce] if near else []
    calls = [] if near else _own_calls(wants, pin)
    # Precompiles are never asked (some answer any call with a word of garbage).
    pairs = [(token, a) for a, w in wants.items() for token in w.tokens if not is_precompile(token)]
    tokens = TokenReads(pairs, pin, reader=engine.settings.multicall)
    batch = _batch(engine, header, [*calls, *tokens.calls], len(calls), tokens, near)
    if proven:
        proofs, (own, answers) = await asyncio.gather(
            asyncio.gather(*(chain.account_at(header, a) for a in proven)), batch
        )
    else:
        proofs, (own, answers) = [], await batch
    states = _states(header, wants, dict(zip(proven, proofs, strict=True)), own, answers)
    return await _checked(engine, header, states, near)


async def _checked(
    engine: NetworkEngine, header: Header, states: dict[str, AccountState], near: bool
) -> dict[str, AccountState]:
    """The states with every pair that gave no balance named by what its contract is at
    ``header`` (token_check: not a token, no code, or a token failing for this account)."""
    odd = {
        token
        for state in states.values()
        for token, value in state.tokens.items()
        if isinstance(value, NoBalance) and value is not NoBalance.PRECOMPILE
    }
    if not odd:
        return states
    found = await verdicts(engine, header, odd, near)
    out = {}
    for address, state in states.items():
        tokens = {
            token: found[token] or value if token in odd and isinstance(value, NoBalance) else value
            for token, value in state.tokens.items()
        }
        out[address] = replace(state, tokens=tokens)
    return out


def _own_calls(wants: Mapping[str, Want], pin: Any) -> list[Call]:
    """Balance and nonce reads of each account, in ``wants``' order."""
    calls: list[Call] = []
    for address, want in wants.items():
        if want.native:
            calls.append(NodeClient.balance(address, pin))
        if want.nonce:
            calls.append(NodeClient.nonce(address, pin))
    return calls


async def _batch(
    engine: NetworkEngine,
    header: Header,
    calls: list[Call],
    split: int,
    tokens: TokenReads,
    near: bool,
) -> tuple[list[Any], list[Any]]:
    """(the results of the first ``split`` calls, each token pair's balanceOf answer)."""
    results = await engine.chain.read_state(header, calls, near=near)
    if not tokens.calls:
        return results, []
    return results[:split], await tokens.answers(engine.chain, header, results[split:], near)


def _states(
    header: Header,
    wants: Mapping[str, Want],
    proofs: Mapping[str, tuple[int, int]],
    own: Sequence[Any],
    answers: Sequence[Any],
) -> dict[str, AccountState]:
    """The states read, from the proofs, the results of _own_calls and the token answers
    (both in ``wants``' order); node errors raised as catalog errors."""
    own_results = iter(own)
    states: dict[str, AccountState] = {}
    start = 0
    for address, want in wants.items():
        native = nonce = None
        if address in proofs:
            native, nonce = proofs[address]
        else:
            if want.native:
                native = _own_value(next(own_results), header, "balance")
            if want.nonce:
                nonce = _own_value(next(own_results), header, "nonce")
        tokens: dict[str, TokenValue] = {}
        for token in want.tokens:
            if is_precompile(token):
                tokens[token] = NoBalance.PRECOMPILE
            else:
                tokens[token] = _token_value(answers[start], header)
                start += 1
        states[address] = AccountState(native, nonce, tokens)
    return states


def _own_value(result: Any, header: Header, field: str) -> int:
    if isinstance(result, NodeError):
        raise state_error(result, header)
    value = hex_int(result, field)
    if value < 0:
        raise CatalogError(NODE_ERROR, {"reason": "negative balance"})
    return value


def _token_value(result: Any, header: Header) -> TokenValue:
    value = erc20.decode_uint(result)  # the usual answer first: one word
    if value is not None:
        return value
    return failed_call(result, header)  # made final by _checked
