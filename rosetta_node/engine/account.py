"""The Account API group: balances at any block, native and ERC-20, in one round trip
(read by engine/balances.py, which the token translators share)."""

from __future__ import annotations

from ..addresses import parse_address
from ..errors import COINS_UNSUPPORTED, INVALID_ADDRESS, CatalogError
from ..types import (
    AccountBalanceRequest,
    AccountBalanceResponse,
    AccountCoinsRequest,
    AccountIdentifier,
    Amount,
)
from .balances import AccountState, Want, held, read_account
from .chain import Header
from .currencies import NATIVE, Resolved
from .node import Networks


def account_address(account: AccountIdentifier) -> str:
    address = parse_address(account.address)
    if address is None:
        raise CatalogError(
            INVALID_ADDRESS, {"address": account.address[:100], "reason": "not 20 bytes of 0x-hex"}
        )
    return address


def _values(state: AccountState, wanted: list[Resolved], header: Header) -> list[int | None]:
    tokens = state.tokens
    values: list[int | None] = []
    for r in wanted:
        if r.key == NATIVE:
            values.append(state.native)
        else:
            value = tokens[r.key]
            values.append(value if isinstance(value, int) else held(value, r.key, header))
    return values


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
        # The nonce always: it is the answer's metadata.
        tokens = tuple(r.key for r in wanted if r.key != NATIVE)
        want = Want(native=len(tokens) < len(wanted), nonce=True, tokens=tokens)
        state = await read_account(engine, header, address, want)
        return AccountBalanceResponse(
            block_identifier=header.identifier,
            balances=[
                Amount(value=str(value), currency=r.currency)
                for r, value in zip(wanted, _values(state, wanted, header), strict=True)
            ],
            metadata={"nonce": state.nonce},
        )

    def coins(self, request: AccountCoinsRequest) -> None:
        self.networks.get(request.network_identifier, ready=False)
        account_address(request.account_identifier)
        raise CatalogError(COINS_UNSUPPORTED)
