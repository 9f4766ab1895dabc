"""The currencies of one network: its native coin and the ERC-20 tokens it tracks.

A tracked token has exactly one Currency object, used in /block and /account/balance alike,
because reconciliation compares currencies field by field, metadata included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..addresses import parse_address
from ..errors import UNKNOWN_CURRENCY, CatalogError
from ..tokenlist import Token
from ..types import Currency

NATIVE = ""  # currency key of the native coin; tokens are keyed by checksummed address


@dataclass(frozen=True, slots=True)
class Resolved:
    key: str  # NATIVE or the token's checksummed contract address
    currency: Currency


def token_currency(address: str, symbol: str, decimals: int) -> Currency:
    return Currency(symbol=symbol, decimals=decimals, metadata={"contractAddress": address})


class Currencies:
    def __init__(self, native_symbol: str, native_decimals: int, tokens: Sequence[Token]) -> None:
        self.native = Currency(symbol=native_symbol, decimals=native_decimals)
        self._memo: dict[tuple[object, ...], Resolved] = {}
        self.tokens: dict[str, Currency] = {
            t.address: token_currency(t.address, t.symbol, t.decimals) for t in tokens
        }

    def tracked(self) -> list[Resolved]:
        """Native first, then every tracked token in token-list order."""
        return [Resolved(NATIVE, self.native)] + [
            Resolved(address, currency) for address, currency in self.tokens.items()
        ]

    def resolve(self, currency: Currency) -> Resolved:
        """Map a requested currency to its key and the Currency object we answer with.

        Memoized on what the answer depends on: clients send the same currencies every time.
        """
        metadata = currency.metadata or {}
        memo_key = (
            currency.symbol,
            currency.decimals,
            metadata.get("contractAddress", metadata.get("contract_address")),
        )
        try:
            hit = self._memo.get(memo_key)
        except TypeError:  # an unhashable contractAddress: let _resolve reject it
            return self._resolve(currency)
        if hit is None:
            hit = self._resolve(currency)  # raises for a bad currency: nothing is memoized
            if len(self._memo) < 10_000:
                self._memo[memo_key] = hit
        return hit

    def _resolve(self, currency: Currency) -> Resolved:
        metadata = currency.metadata or {}
        contract = metadata.get("contractAddress", metadata.get("contract_address"))
        if contract is None:
            if (
                currency.symbol.upper() == self.native.symbol.upper()
                and currency.decimals == self.native.decimals
            ):
                return Resolved(NATIVE, self.native)
            raise CatalogError(
                UNKNOWN_CURRENCY,
                {
                    "symbol": currency.symbol[:64],
                    "decimals": currency.decimals,
                    "reason": f"not the native {self.native.symbol} and no"
                    " metadata.contractAddress",
                },
            )
        address = parse_address(contract)
        if address is None:
            raise CatalogError(
                UNKNOWN_CURRENCY,
                {"contractAddress": str(contract)[:100], "reason": "not a 20-byte 0x-hex address"},
            )
        if not 0 <= currency.decimals <= 77:
            raise CatalogError(UNKNOWN_CURRENCY, {"decimals": currency.decimals})
        tracked = self.tokens.get(address)
        if tracked is not None:
            return Resolved(address, tracked)
        # Untracked tokens still answer: the caller names symbol and decimals.
        return Resolved(address, token_currency(address, currency.symbol, currency.decimals))
