"""ERC-20 view calls by hand: calldata and result decoding (no web3 contract objects).

Hand-built calldata costs well under a microsecond; a web3 contract object costs hundreds
(see NOTES.md), and a translator answer may need thousands of calls.
"""

from __future__ import annotations

from typing import Any

BALANCE_OF = "0x70a08231"  # balanceOf(address)
TOTAL_SUPPLY = "0x18160ddd"  # totalSupply()
NAME = "0x06fdde03"  # name()
SYMBOL = "0x95d89b41"  # symbol()
DECIMALS = "0x313ce567"  # decimals()

MAX_TEXT = 256  # longest name/symbol we pass on


def address_word(address: str) -> str:
    """A 0x-prefixed address as one ABI word (64 hex digits, no prefix)."""
    return "0" * 24 + address[2:].lower()


def balance_of_data(account: str) -> str:
    return BALANCE_OF + address_word(account)


def decode_uint(result: Any) -> int | None:
    """One uint256 word, or None when the answer is not exactly one word."""
    if not isinstance(result, str) or len(result) != 66 or not result.startswith("0x"):
        return None
    try:
        return int(result, 16)
    except ValueError:
        return None


def decode_text(result: Any) -> str | None:
    """An ABI ``string`` (or the legacy ``bytes32`` some old tokens return), else None."""
    if not isinstance(result, str) or not result.startswith("0x"):
        return None
    try:
        raw = bytes.fromhex(result[2:])
    except ValueError:
        return None
    if len(raw) == 32:  # bytes32, zero padded (e.g. MKR)
        text = raw.rstrip(b"\0")
    elif len(raw) >= 64:
        offset = int.from_bytes(raw[:32], "big")
        if offset + 32 > len(raw):
            return None
        length = int.from_bytes(raw[offset : offset + 32], "big")
        if offset + 32 + length > len(raw):
            return None
        text = raw[offset + 32 : offset + 32 + length]
    else:
        return None
    decoded = text.decode("utf-8", errors="replace").replace("\0", "")
    return decoded[:MAX_TEXT] if decoded.isprintable() else None
