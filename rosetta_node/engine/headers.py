"""Block headers and a block's raw data as the engine reads them, and input checks of both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..addresses import is_hash
from ..errors import INVALID_BLOCK_IDENTIFIER, NODE_ERROR, CatalogError
from ..types import BlockIdentifier


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int  # seconds
    miner: str
    base_fee: int | None
    state_root: str = ""
    difficulty: int = 0

    @property
    def identifier(self) -> BlockIdentifier:
        return BlockIdentifier(index=self.number, hash=self.hash)

    @property
    def parent_identifier(self) -> BlockIdentifier:
        if self.number == 0:  # Rosetta: genesis is its own parent
            return self.identifier
        return BlockIdentifier(index=self.number - 1, hash=self.parent_hash)

    def pin(self) -> dict[str, str]:
        """EIP-1898 block parameter: state at exactly this block."""
        return {"blockHash": self.hash}


@dataclass(slots=True)
class BlockData:
    """A block with its transactions, receipts and call traces, all of one block hash."""

    header: Header
    block: dict[str, Any]
    receipts: list[dict[str, Any]]
    traces: list[Any]
    uncles: list[dict[str, Any]] = field(default_factory=list)  # ethash blocks' uncle headers
    # The DAO fork block: each drained account's balance at the parent block.
    dao_balances: dict[str, int] = field(default_factory=dict)
    operations: list[Any] | None = None  # Rosetta transactions, derived once and kept


def hex_int(value: Any, field: str = "value") -> int:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise CatalogError(NODE_ERROR, {"reason": f"node sent a bad {field}: {value!r}"[:200]})


def parse_header(raw: Any) -> Header:
    if not isinstance(raw, dict):
        raise CatalogError(NODE_ERROR, {"reason": "block is not an object"})
    try:
        base_fee = raw.get("baseFeePerGas")
        return Header(
            number=hex_int(raw["number"], "block number"),
            hash=str(raw["hash"]).lower(),
            parent_hash=str(raw["parentHash"]).lower(),
            timestamp=hex_int(raw["timestamp"], "timestamp"),
            miner=str(raw.get("miner") or "0x" + "0" * 40),
            base_fee=None if base_fee is None else hex_int(base_fee, "baseFeePerGas"),
            state_root=str(raw.get("stateRoot") or "").lower(),
            difficulty=hex_int(raw.get("difficulty") or "0x0", "difficulty"),
        )
    except KeyError as exc:
        raise CatalogError(NODE_ERROR, {"reason": f"block lacks {exc.args[0]}"}) from None


def check_hash(value: str) -> str:
    if not is_hash(value):
        raise CatalogError(
            INVALID_BLOCK_IDENTIFIER, {"hash": value[:100], "reason": "not 32 bytes of 0x-hex"}
        )
    return value.lower()


MAX_INDEX = 2**63 - 1  # Rosetta indexes are int64


def check_index(value: int) -> int:
    if value < 0:
        raise CatalogError(INVALID_BLOCK_IDENTIFIER, {"index": value, "reason": "negative"})
    if value > MAX_INDEX:
        raise CatalogError(
            INVALID_BLOCK_IDENTIFIER, {"index": str(value)[:40], "reason": "above 2^63-1"}
        )
    return value
