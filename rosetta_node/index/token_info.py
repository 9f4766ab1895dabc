"""What a token is: name, symbol and decimals (the token list's, else the contract's own)
and its total supply at a block. Read from the node, for the token answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from cachetools import LRUCache

from .. import erc20
from ..addresses import checksum
from ..engine.chain import Header
from ..engine.node import NetworkEngine
from ..engine.node_client import NodeClient, NodeError
from ..engine.node_errors import execution_failure, state_error
from ..engine.token_check import is_precompile


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str  # checksummed
    name: str | None
    symbol: str | None
    decimals: int | None  # None: the contract has no decimals()
    listed: bool  # in the network's token list
    logo_uri: str | None = None


class TokenInfos:
    """Token metadata of every network, remembered once a contract answered."""

    def __init__(self) -> None:
        self._known: LRUCache[tuple[int, str], TokenInfo] = LRUCache(maxsize=50_000)

    async def info(self, engine: NetworkEngine, contract: str, header: Header) -> TokenInfo:
        """Name, symbol and decimals: the token list's, else the contract's own."""
        contract = checksum(contract)
        listed = engine.tokens.get(contract)
        if listed is not None:
            return TokenInfo(
                contract, listed.name or None, listed.symbol, listed.decimals, True, listed.logo_uri
            )
        key = (id(engine), contract)
        known = self._known.get(key)
        if known is not None:
            return known
        answers = await engine.node.batch(NodeClient.token_metadata(contract, header.pin()))
        name, symbol, decimals = (None if isinstance(a, NodeError) else a for a in answers)
        raw_decimals = erc20.decode_uint(decimals)
        info = TokenInfo(
            contract,
            erc20.decode_text(name),
            erc20.decode_text(symbol),
            raw_decimals if raw_decimals is not None and raw_decimals <= 255 else None,
            False,
        )
        if any(a not in (None, "0x") for a in (name, symbol, decimals)):
            self._known[key] = info  # the contract exists and answered: its metadata is fixed
        return info

    async def infos(
        self, engine: NetworkEngine, contracts: Iterable[str], header: Header
    ) -> dict[str, TokenInfo]:
        unique = list(dict.fromkeys(checksum(c) for c in contracts))
        infos = await asyncio.gather(*(self.info(engine, c, header) for c in unique))
        return dict(zip(unique, infos, strict=True))


async def total_supply(engine: NetworkEngine, contract: str, header: Header) -> int | None:
    """``totalSupply()`` at ``header``; None where the contract has none: a precompile (never
    asked), or the call fails in the EVM (reverts, runs out of gas) or answers garbage."""
    if is_precompile(contract):
        return None
    call = NodeClient.total_supply(checksum(contract), header.pin())
    (result,) = await engine.chain.read_state(header, [call])
    if isinstance(result, NodeError):
        if execution_failure(result) is not None:
            return None
        raise state_error(result, header)
    return erc20.decode_uint(result)
