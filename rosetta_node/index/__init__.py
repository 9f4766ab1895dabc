"""The ERC-20 Transfer-log index: which accounts ever held which token, and when last changed.

``model`` says what it holds, ``sqlite`` and ``postgres`` keep it, ``follower`` fills it
from a node (backfill, then follow the head through reorgs) with ``log_source`` (the node
reads), ``range_sizer``, ``fetch_window`` and ``commit_queue``; ``transfers`` parses Transfer
logs, ``progress`` reports a run, ``cli`` runs it (``python -m rosetta_node.index``). The
history index (every /block operation, for the Rosetta indexer routes) lives beside it in the
same store: ``history_model`` (what it holds and why it has its own cursor), ``history_rows``,
``history_sql``, ``history_sqlite``, ``postgres_history``, ``history_follower``,
``history_query`` and ``history_service`` (the query service), ``history_cli``. May
import rpc, errors, settings, addresses, engine.chain and engine.node_client (the only code
that names node methods); never Starlette or the api package.
"""

from .errors import IndexerError
from .follower import Indexer
from .model import (
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
    TokenHolding,
    Transfer,
)
from .progress import ProgressBar, ProgressEvent
from .range_sizer import RangeSizer
from .sqlite import SqliteIndex, SqliteStore
from .transfers import TRANSFER_TOPIC, group_transfer_logs, parse_transfer

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
