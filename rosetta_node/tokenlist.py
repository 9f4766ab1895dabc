"""Tracked ERC-20 tokens, read from a Uniswap token-list JSON file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from .addresses import parse_address
from .settings import ConfigError


@dataclass(frozen=True, slots=True)
class Token:
    address: str  # checksummed
    symbol: str
    decimals: int
    name: str
    logo_uri: str | None = None


class _ListedToken(msgspec.Struct):
    chainId: int
    address: str
    symbol: str
    decimals: int
    name: str = ""
    logoURI: str | None = None


class _TokenList(msgspec.Struct):
    tokens: list[_ListedToken]


def load_token_list(path: str, chain_id: int) -> list[Token]:
    """The tokens of ``chain_id`` in the list, in list order, one per contract address."""
    try:
        parsed = msgspec.json.decode(Path(path).read_bytes(), type=_TokenList)
    except (OSError, msgspec.DecodeError) as exc:
        raise ConfigError(f"token_list {path!r}: {exc}") from None
    tokens: dict[str, Token] = {}
    for i, entry in enumerate(parsed.tokens):
        if entry.chainId != chain_id:
            continue
        address = parse_address(entry.address)
        if address is None:
            raise ConfigError(f"token_list {path!r}: tokens[{i}].address is not an address")
        if not 0 <= entry.decimals <= 77:
            raise ConfigError(f"token_list {path!r}: tokens[{i}].decimals out of range")
        tokens.setdefault(
            address, Token(address, entry.symbol, entry.decimals, entry.name, entry.logoURI)
        )
    return list(tokens.values())
