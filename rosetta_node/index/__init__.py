"""The ERC-20 Transfer-log index: which accounts ever held which token, and when last changed.

``store`` keeps it (SQLite), ``follower`` fills it from a node (backfill, then follow the
head through reorgs), ``progress`` reports a run, ``cli`` runs it (``python -m
rosetta_node.index``). May import rpc, errors, settings, addresses and engine.chain; never
Starlette or the api package.
"""

from .follower import (
    TRANSFER_TOPIC,
    Indexer,
    IndexerError,
    RangeSizer,
    group_transfer_logs,
    parse_transfer,
)
from .progress import ProgressBar, ProgressEvent
from .store import (
    AccountToken,
    BlockLogs,
    ChainMismatch,
    Change,
    Cursor,
    Holder,
    IndexStore,
    IndexStoreError,
    ReorgTooDeep,
    Snapshot,
    SqliteIndex,
    SqliteStore,
    TokenHolding,
    Transfer,
)

__all__ = [
    "TRANSFER_TOPIC",
    "AccountToken",
    "BlockLogs",
    "ChainMismatch",
    "Change",
    "Cursor",
    "Holder",
    "IndexStore",
    "IndexStoreError",
    "Indexer",
    "IndexerError",
    "ProgressBar",
    "ProgressEvent",
    "RangeSizer",
    "ReorgTooDeep",
    "SqliteIndex",
    "Snapshot",
    "SqliteStore",
    "TokenHolding",
    "Transfer",
    "group_transfer_logs",
    "parse_transfer",
]
