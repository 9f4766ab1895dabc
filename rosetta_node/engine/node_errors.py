"""The one place where a node's error answer becomes a catalog error.

:class:`NodeError` is what the node client (``node_client.py``) makes of every JSON-RPC error
object: already a catalog error (NODE_ERROR, ``{method, node_code, node_message}``), so one
that no service maps to something narrower reaches the API's error edge as is. The functions
below are the narrower mappings: missing history (final), not yet (retry), a reverted call.

geth, reth, erigon and anvil word these differently; the markers below are theirs. State or
history a pruned node dropped never comes back, so it is a non-retriable answer whose details
say that an archive node is needed; anything else about a known block is "not yet".
"""

from __future__ import annotations

from typing import Any

from ..errors import (
    CALL_REVERTED,
    DATA_NOT_YET_AVAILABLE,
    NODE_ERROR,
    STATE_UNAVAILABLE,
    CatalogError,
)
from .headers import Header

MISSING_HISTORY = (
    "missing trie node",  # geth (hash scheme), erigon
    "historical state",  # geth: "... is not available", "required historical state unavailable"
    "state not available",
    "state unavailable",
    "state is not available",
    "pruned",  # geth "pruned history unavailable", reth "... pruned", erigon "... pruned"
    "history is not available",
    "not available in path scheme",
)
# Passing conditions of a node that is still catching up: ask again later.
NOT_YET = ("transaction indexing is in progress", "indexing")

# The EVM ran the call and it failed: fixed at a given block, so no retry changes it
# (geth, reth, erigon: "execution reverted", "out of gas", "invalid opcode: ...", "stack
# underflow", "invalid jump destination"; anvil: "EVM error OutOfGas", "... MemoryOOG",
# "... InvalidFEOpcode").
OUT_OF_GAS = ("out of gas", "outofgas", "oog")
EXECUTION_FAILED = (
    "revert",
    "invalid opcode",
    "opcode",
    "stack underflow",
    "stack overflow",
    "stackunderflow",
    "stackoverflow",
    "invalid jump",
    "invalidjump",
    "precompile",
    "write protection",
    "statechangeduringstaticcall",
)

ARCHIVE_NEEDED = "the node no longer has this block's state or history; use an archive node"


class NodeError(CatalogError):
    """The node's error answer to one call: NODE_ERROR with the details the API edge shows,
    and the answer itself (method, code, message, data) for the narrower mappings."""

    def __init__(self, method: str, code: int, message: str, data: Any = None) -> None:
        details = {"method": method, "node_code": code, "node_message": message[:300]}
        super().__init__(NODE_ERROR, details)
        self.method = method
        self.code = code
        self.message = message
        self.data = data

    def __str__(self) -> str:  # as the node said it, for logs and the indexer's messages
        return f"{self.method}: {self.code} {self.message}"


def is_missing_history(exc: NodeError) -> bool:
    text = exc.message.lower()
    if any(marker in text for marker in NOT_YET):
        return False
    return any(marker in text for marker in MISSING_HISTORY)


def execution_failure(exc: NodeError) -> str | None:
    """ "out of gas" or "failed" when the node says the EVM ran the call and it failed (an
    answer fixed at its block); None for anything else (node trouble)."""
    text = exc.message.lower()
    if any(marker in text for marker in OUT_OF_GAS):
        return "out of gas"
    if any(marker in text for marker in EXECUTION_FAILED):
        return "failed"
    return None


def missing_history(exc: NodeError, context: dict[str, Any]) -> CatalogError:
    return CatalogError(
        STATE_UNAVAILABLE, {**context, "node_error": exc.message[:200], "reason": ARCHIVE_NEEDED}
    )


def block_data_error(exc: NodeError, context: dict[str, Any]) -> CatalogError:
    """A failed receipts, trace, uncle or balance read of a block the node knows."""
    if is_missing_history(exc):
        return missing_history(exc, context)
    return CatalogError(DATA_NOT_YET_AVAILABLE, {**context, "node_error": exc.message[:200]})


def state_error(exc: NodeError, header: Header) -> CatalogError:
    """A failed state read at ``header``."""
    text = exc.message.lower()
    context = {"block": header.number, "node_error": exc.message[:200]}
    if is_missing_history(exc):
        return missing_history(exc, {"block": header.number})
    if "not found" in text or exc.code == -32001:
        # The block was known a moment ago: it was reorged away meanwhile.
        return CatalogError(DATA_NOT_YET_AVAILABLE, context)
    return CatalogError(NODE_ERROR, context)


def call_error(exc: NodeError, method: str) -> CatalogError:
    """A failed /call: missing history, else the node's refusal as it answered it."""
    if is_missing_history(exc):
        return missing_history(exc, {"method": method})
    return CatalogError(
        CALL_REVERTED,
        {
            "method": method,
            "node_code": exc.code,
            "node_message": exc.message[:500],
            "node_data": exc.data if isinstance(exc.data, str) else None,
        },
    )
