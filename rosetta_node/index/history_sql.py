"""The SQL both history stores run, in :mod:`.sql`'s spelling (``{s}.`` and ``$n``; SQLite
reads it through :func:`.sql.for_sqlite`), and the search built from a :class:`HistoryQuery`.
Each store keeps its own ``CREATE TABLE`` (column types differ); the query indexes are here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .history_model import ADDED, AND, EVENT_TYPES, BlockEvent, HistoryQuery

INDEXES = (
    "CREATE INDEX IF NOT EXISTS history_op_by_account "
    "ON {s}.history_ops(account, block_number, tx_index, currency)",
    "CREATE INDEX IF NOT EXISTS history_tx_by_hash ON {s}.history_txs(hash)",
)

CURSOR = "SELECT number, hash FROM {s}.history_cursor WHERE network = $1"
SET_CURSOR = (
    "INSERT INTO {s}.history_cursor(network, number, hash) VALUES ($1, $2, $3) "
    "ON CONFLICT(network) DO UPDATE SET number = excluded.number, hash = excluded.hash"
)
OTHER_NETWORKS = "SELECT network FROM {s}.history_cursor WHERE network <> $1"
BLOCK_HASH = "SELECT hash FROM {s}.history_blocks WHERE number = $1"
RECENT_BLOCKS = (
    "SELECT number, hash FROM {s}.history_blocks WHERE number < $1 ORDER BY number DESC LIMIT $2"
)
BLOCKS_ABOVE = "SELECT number, hash FROM {s}.history_blocks WHERE number > $1 ORDER BY number DESC"
DROP_ABOVE = tuple(
    f"DELETE FROM {{s}}.{table} WHERE {column} > $1"
    for table, column in (
        ("history_ops", "block_number"),
        ("history_txs", "block_number"),
        ("history_blocks", "number"),
    )
)
LAST_SEQUENCE = "SELECT max(sequence) FROM {s}.history_events"
EVENTS = (
    "SELECT sequence, kind, number, hash FROM {s}.history_events "
    "WHERE sequence >= $1 ORDER BY sequence LIMIT $2"
)
ADDRESS_ID = "SELECT id FROM {s}.addresses WHERE address = $1"

DUMP_BLOCKS = "SELECT number, hash, parent_hash FROM {s}.history_blocks ORDER BY number"
DUMP_TXS = (
    "SELECT block_number, tx_index, hash, body FROM {s}.history_txs ORDER BY block_number, tx_index"
)
DUMP_OPS = (
    "SELECT a.address, o.block_number, o.tx_index, o.op_index, coalesce(c.address, ''), "
    "o.type, o.status, o.amount FROM {s}.history_ops o "
    "JOIN {s}.addresses a ON a.id = o.account "
    "LEFT JOIN {s}.addresses c ON c.id = o.currency "
    "ORDER BY o.block_number, o.tx_index, o.op_index"
)

UPTO_ALL = 2**63 - 1


def event(row: Any) -> BlockEvent:
    """An ``EVENTS`` row."""
    sequence, kind, number, block_hash = row
    return BlockEvent(int(sequence), int(number), str(block_hash), EVENT_TYPES[int(kind)])


def added_events(first_sequence: int, blocks: list[tuple[int, str]]) -> list[tuple[Any, ...]]:
    """``history_events`` rows for applied blocks ``(number, hash)``, in order."""
    return [(first_sequence + i, ADDED, n, h) for i, (n, h) in enumerate(blocks)]


class Search:
    """The SQL of one :class:`HistoryQuery`: ``count`` and ``page`` with their parameters.

    ``ids`` maps an address to its id in ``addresses`` (None: unknown, so it matches
    nothing); the statements select ``(block_number, tx_index)`` of matching transactions.
    """

    def __init__(self, query: HistoryQuery, upto: int, ids: Callable[[str], int | None]) -> None:
        self.params: list[Any] = []
        matches = self._matches(query, upto, ids)
        self.count = f"SELECT count(*) FROM ({matches}) m"
        limit, offset = self._p(query.limit), self._p(query.offset)
        # The page's keys first (from the index, in its order), then only their bodies.
        order = "ORDER BY block_number DESC, tx_index DESC"
        keys = (
            f"SELECT block_number, tx_index FROM ({matches}) k {order} "
            f"LIMIT {limit} OFFSET {offset}"
        )
        self.page = (
            "SELECT m.block_number, b.hash, m.tx_index, t.hash, t.body "
            f"FROM ({keys}) m "
            "JOIN {s}.history_txs t ON t.block_number = m.block_number AND t.tx_index = m.tx_index "
            "JOIN {s}.history_blocks b ON b.number = m.block_number "
            "ORDER BY m.block_number DESC, m.tx_index DESC"
        )
        self.count_params = self.params[:-2]

    def _p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def _op_conditions(self, query: HistoryQuery, ids: Callable[[str], int | None]) -> list[str]:
        conditions = []
        if query.account is not None:  # a sub-account: no operation of ours names one
            found = None if query.nothing else ids(query.account)
            conditions.append("1 = 0" if found is None else f"account = {self._p(found)}")
        if query.address is not None:
            found = ids(query.address)
            conditions.append("1 = 0" if found is None else f"account = {self._p(found)}")
        if query.currency is not None:
            found = 0 if query.currency == "" else ids(query.currency)
            conditions.append("1 = 0" if found is None else f"currency = {self._p(found)}")
        if query.currencies is not None:
            known = [0 if c == "" else ids(c) for c in query.currencies]
            listed = ", ".join(self._p(i) for i in known if i is not None)
            conditions.append(f"currency IN ({listed})" if listed else "1 = 0")
        if query.status is not None:
            conditions.append(f"status = {self._p(query.status)}")
        if query.type is not None:
            conditions.append(f"type = {self._p(query.type)}")
        if query.success is not None:
            statuses = query.statuses()
            listed = ", ".join(self._p(s) for s in statuses) if statuses else "NULL"
            conditions.append(f"status IN ({listed})")
        return conditions

    def _hash_conditions(self, query: HistoryQuery) -> list[str]:
        conditions = []
        if query.tx_hash is not None:
            conditions.append(f"hash = {self._p(query.tx_hash)}")
        if query.tx_hashes is not None:
            listed = ", ".join(self._p(h) for h in query.tx_hashes)
            conditions.append(f"hash IN ({listed})" if listed else "1 = 0")
        return conditions

    def _matches(self, query: HistoryQuery, upto: int, ids: Callable[[str], int | None]) -> str:
        ops = self._op_conditions(query, ids)
        blocks = f"block_number <= {self._p(upto)}"
        if query.min_block is not None:
            blocks += f" AND block_number >= {self._p(query.min_block)}"
        hashes = self._hash_conditions(query)
        txs = "SELECT block_number, tx_index FROM {s}.history_txs WHERE " + blocks
        if query.operator == AND:
            by_hash = " AND ".join(hashes) if hashes else None
            if not ops:
                return txs if by_hash is None else f"{txs} AND {by_hash}"
            found = (
                "SELECT DISTINCT block_number, tx_index FROM {s}.history_ops "
                f"WHERE {blocks} AND " + " AND ".join(ops)
            )
            if by_hash is not None:
                found += f" AND (block_number, tx_index) IN ({txs} AND {by_hash})"
            return found
        parts = []
        if ops:
            parts.append(
                "SELECT DISTINCT block_number, tx_index FROM {s}.history_ops "
                f"WHERE {blocks} AND (" + " OR ".join(ops) + ")"
            )
        if hashes:
            parts.append(f"{txs} AND (" + " OR ".join(hashes) + ")")
        return " UNION ".join(parts) if parts else txs
