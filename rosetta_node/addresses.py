"""Address and hash parsing, EIP-55 checksums (cached: the same addresses recur in every block)."""

from __future__ import annotations

import re
from functools import lru_cache

from eth_hash.auto import keccak

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@lru_cache(maxsize=1 << 16)
def checksum(address: str) -> str:
    """EIP-55 form of a 0x-prefixed 20-byte hex address (any case).

    Written out (eth_utils' to_checksum_address validates and converts several times over,
    and showed up in profiles of /account/balance): a letter is upper case where the nibble
    at its place in keccak(lower-case hex) is 8 or more.
    """
    lower = address[2:].lower()
    digest = keccak(lower.encode("ascii")).hex()[:40]
    return "0x" + "".join(c.upper() if d >= "8" else c for c, d in zip(lower, digest, strict=True))


def parse_address(text: object) -> str | None:
    """The checksummed address, or None when ``text`` is not 20 bytes of 0x-hex.

    Mixed-case input is accepted whatever its case: a wrong checksum is a typo we cannot
    detect reliably, and clients send lower-case addresses as often as checksummed ones.
    """
    if not isinstance(text, str) or not _ADDRESS.fullmatch(text):
        return None
    return checksum(text)


def is_hash(text: object) -> bool:
    """True for 32 bytes of 0x-prefixed hex (a block or transaction hash), any case."""
    return isinstance(text, str) and _HASH.fullmatch(text) is not None
