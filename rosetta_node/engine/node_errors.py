"""What a node's error answer means for us: missing history (final) or not yet (retry).

geth, reth, erigon and anvil word these differently; the markers below are theirs. State or
history a pruned node dropped never comes back, so it is a non-retriable answer whose details
say that an archive node is needed; anything else about a known block is "not yet".
"""

from __future__ import annotations

from typing import Any

from ..errors import DATA_NOT_YET_AVAILABLE, STATE_UNAVAILABLE, CatalogError
from ..rpc import RpcError

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

ARCHIVE_NEEDED = "the node no longer has this block's state or history; use an archive node"


def is_missing_history(exc: RpcError) -> bool:
    text = exc.message.lower()
    if any(marker in text for marker in NOT_YET):
        return False
    return any(marker in text for marker in MISSING_HISTORY)


def missing_history(exc: RpcError, context: dict[str, Any]) -> CatalogError:
    return CatalogError(
        STATE_UNAVAILABLE, {**context, "node_error": exc.message[:200], "reason": ARCHIVE_NEEDED}
    )


def block_data_error(exc: RpcError, context: dict[str, Any]) -> CatalogError:
    """A failed receipts, trace, uncle or balance read of a block the node knows."""
    if is_missing_history(exc):
        return missing_history(exc, context)
    return CatalogError(DATA_NOT_YET_AVAILABLE, {**context, "node_error": exc.message[:200]})
