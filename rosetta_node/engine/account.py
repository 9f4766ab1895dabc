"""The Account API group: balances at any block, native and ERC-20, in one round trip."""

from __future__ import annotations

import asyncio
from typing import Any

from .. import erc20
from ..addresses import parse_address
from ..errors import (
    COINS_UNSUPPORTED,
    INVALID_ADDRESS,
    NODE_ERROR,
    UNKNOWN_CURRENCY,
    CatalogError,
)
from ..rpc import Call, RpcError
from ..types import (
    AccountBalanceRequest,
    AccountBalanceResponse,
    AccountCoinsRequest,
    AccountIdentifier,
    Amount,
)
from .balance_reader import read_balances
from .chain import Header, hex_int, state_error
from .currencies import NATIVE
from .node import NetworkEngine, Networks

_NONCE = "nonce"


def account_address(account: AccountIdentifier) -> str:
    address = parse_address(account.address)
    if address is None:
        raise CatalogError(
            INVALID_ADDRESS, {"address": account.address[:100], "reason": "not 20 bytes of 0x-hex"}
        )
    return address


def _decode_word(result: Any, contract: str, header: Header) -> int:
    if result == "0x":  # no contract at this block yet: nothing held
        return 0
    value = erc20.decode_uint(result)
    if value is None:
        raise CatalogError(
            UNKNOWN_CURRENCY,
            {
                "contractAddress": contract,
                "block": header.number,
                "reason": "balanceOf did not return one uint256",
            },
        )
    return value


class AccountService:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    async def balance(self, request: AccountBalanceRequest) -> AccountBalanceResponse:
        engine = self.networks.get(request.network_identifier)
        address = account_address(request.account_identifier)
        if request.currencies is None:
            wanted = engine.currencies.tracked()
        else:
            wanted = [engine.currencies.resolve(c) for c in request.currencies]
        header = await engine.chain.resolve(request.block_identifier)
        values = await self.balances_at(engine, header, address, [r.key for r in wanted])
        return AccountBalanceResponse(
            block_identifier=header.identifier,
            balances=[Amount(value=str(values[r.key]), currency=r.currency) for r in wanted],
            metadata={"nonce": values[_NONCE]},
        )

    async def balances_at(
        self, engine: NetworkEngine, header: Header, address: str, keys: list[str]
    ) -> dict[str, int]:
        """Balances (and the nonce) of one account at one block hash, in one batch.

        One cache entry per (block hash, account), holding every currency read so far: one
        lookup per request instead of one per currency.
        """
        cache = engine.cache.balances
        entry = (header.hash, address)
        known: dict[str, int] = cache.get(entry) or {}
        missing = [key for key in dict.fromkeys([*keys, _NONCE]) if key not in known]
        if not missing:
            return known
        values = dict(known)  # a new dict: a concurrent reader may hold the cached one
        pin = header.pin()
        # At a head a racing node may answer from the next block's state: balance and nonce
        # then come with a proof checked against the block's state root (Chain.account_at).
        near = await engine.chain.near_head(header)
        proven = near and (NATIVE in missing or _NONCE in missing)
        own = [key for key in missing if key in (NATIVE, _NONCE)]
        tokens = [key for key in missing if key not in (NATIVE, _NONCE)]
        calls: list[Call] = []
        if not proven:
            for key in own:
                method = "eth_getBalance" if key == NATIVE else "eth_getTransactionCount"
                calls.append((method, [address, pin]))
        read = read_balances(
            engine.chain,
            header,
            [(token, address) for token in tokens],
            reader=engine.settings.multicall,
            extra=calls,
            near=near,
        )
        if proven:
            (values[NATIVE], values[_NONCE]), (_, answers) = await asyncio.gather(
                engine.chain.account_at(header, address), read
            )
            missing, results = tokens, answers
        else:
            results, answers = await read
            missing, results = own + tokens, results + answers
        for key, result in zip(missing, results, strict=True):
            if isinstance(result, RpcError):
                if key not in (NATIVE, _NONCE) and "revert" in result.message.lower():
                    raise CatalogError(
                        UNKNOWN_CURRENCY,
                        {"contractAddress": key, "reason": "balanceOf reverted"},
                    )
                raise state_error(result, header)
            if key in (NATIVE, _NONCE):
                value = hex_int(result, "balance")
            else:
                value = _decode_word(result, key, header)
            if value < 0:
                raise CatalogError(NODE_ERROR, {"reason": "negative balance"})
            values[key] = value
        cache[entry] = values
        return values

    def coins(self, request: AccountCoinsRequest) -> None:
        self.networks.get(request.network_identifier, ready=False)
        account_address(request.account_identifier)
        raise CatalogError(COINS_UNSUPPORTED)
