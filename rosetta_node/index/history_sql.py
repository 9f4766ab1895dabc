"""The SQL both history stores run, in :mod:`.sql`'s spelling (``{s}.`` and ``$n``; SQLite
reads it through :func:`.sql.for_sqlite`), and the search built from a :class:`HistoryQuery`.
Each store keeps its own ``CREATE TABLE`` (column types differ); the query indexes are here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..addresses import ZERO_ADDRESS
from ..engine.oplist import ERC20_BURN, ERC20_MINT, ERC20_TRANSFER, SUCCESS
from .history_model import (
    ADDED,
    AND,
    EVENT_TYPES,
    BlockEvent,
    FoundTransaction,
    FoundTransfer,
    HistoryQuery,
    TransferQuery,
)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS history_op_by_account "
    "ON {s}.history_ops(account, block_number, tx_index, currency)",
    "CREATE INDEX IF NOT EXISTS history_tx_by_hash ON {s}.history_txs(hash)",
    # A token's transfers (/v1/token/transfers by contract) without reading every operation.
    "CREATE INDEX IF NOT EXISTS history_op_by_currency "
    "ON {s}.history_ops(currency, block_number, tx_index)",
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


def found_transactions(rows: Iterable[Any]) -> list[FoundTransaction]:
    """A :class:`Search` page's rows."""
    return [
        FoundTransaction(int(n), str(b), int(i), str(h), bytes(body)) for n, i, b, h, body in rows
    ]


def found_transfers(rows: Iterable[Any]) -> list[FoundTransfer]:
    """A :class:`TransferSearch` page's rows."""
    return [
        FoundTransfer(FoundTransaction(int(n), str(b), int(i), str(h), bytes(body)), int(o))
        for n, i, o, b, h, body in rows
    ]


def next_offset(offset: int, rows: int, total: int) -> int | None:
    end = offset + rows
    return end if end < total else None


class _Paged:
    """``count`` and ``page`` statements over a ``matches`` query of keys, with parameters:
    the page's keys first (from the index, in its order), then only their bodies."""

    def __init__(self) -> None:
        self.params: list[Any] = []
        self.count = self.page = ""
        self.count_params: list[Any] = []

    def _p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def _paged(self, matches: str, keys: tuple[str, ...], limit: int, offset: int) -> None:
        self.count = f"SELECT count(*) FROM ({matches}) m"
        self.count_params = list(self.params)
        order = ", ".join(f"{k} DESC" for k in keys)
        inner = (
            f"SELECT {', '.join(keys)} FROM ({matches}) k ORDER BY {order} "
            f"LIMIT {self._p(limit)} OFFSET {self._p(offset)}"
        )
        self.page = (
            f"SELECT {', '.join('m.' + k for k in keys)}, b.hash, t.hash, t.body "
            f"FROM ({inner}) m "
            "JOIN {s}.history_txs t ON t.block_number = m.block_number AND t.tx_index = m.tx_index "
            "JOIN {s}.history_blocks b ON b.number = m.block_number "
            f"ORDER BY {', '.join('m.' + k + ' DESC' for k in keys)}"
        )


class Search(_Paged):
    """The SQL of one :class:`HistoryQuery`: ``count`` and ``page`` with their parameters.

    ``ids`` maps an address to its id in ``addresses`` (None: unknown, so it matches
    nothing); ``page`` selects ``block_number, tx_index, block hash, tx hash, body``.
    """

    def __init__(self, query: HistoryQuery, upto: int, ids: Callable[[str], int | None]) -> None:
        super().__init__()
        matches = self._matches(query, upto, ids)
        if query.chain_only:  # the block-level entry is the one named by its block's hash
            matches = (
                f"SELECT c.block_number, c.tx_index FROM ({matches}) c "
                "JOIN {s}.history_txs ct ON ct.block_number = c.block_number "
                "AND ct.tx_index = c.tx_index "
                "JOIN {s}.history_blocks cb ON cb.number = c.block_number WHERE ct.hash <> cb.hash"
            )
        self._paged(matches, ("block_number", "tx_index"), query.limit, query.offset)

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


class TransferSearch(_Paged):
    """The SQL of one :class:`TransferQuery`; ``page`` selects ``block_number, tx_index,
    op_index, block hash, tx hash, body``.

    A transfer is named by its first operation (/block writes a Transfer log as a debit
    followed at once by its credit; a mint as a credit alone): the debits of ERC20_TRANSFER
    and ERC20_BURN and the credits of ERC20_MINT. A recipient finds it through its credit,
    one operation after the debit. A transfer to oneself is found once (UNION).
    """

    def __init__(self, query: TransferQuery, upto: int, ids: Callable[[str], int | None]) -> None:
        super().__init__()
        self._paged(
            self._matches(query, upto, ids),
            ("block_number", "tx_index", "op_index"),
            query.limit,
            query.offset,
        )

    def _matches(self, query: TransferQuery, upto: int, ids: Callable[[str], int | None]) -> str:
        where = f"block_number <= {self._p(upto)} AND status = {self._p(SUCCESS)}"
        if query.min_block is not None:
            where += f" AND block_number >= {self._p(query.min_block)}"
        if query.contract is not None:
            found = ids(query.contract)
            where += " AND 1 = 0" if found is None else f" AND currency = {self._p(found)}"
        if query.address == ZERO_ADDRESS:  # the other side of every mint and burn
            kinds = f"type IN ({self._p(ERC20_MINT)}, {self._p(ERC20_BURN)})"
            return "SELECT block_number, tx_index, op_index FROM {s}.history_ops " + (
                f"WHERE {where} AND {kinds}"
            )
        account = None if query.address is None else ids(query.address)
        if query.address is not None and account is None:
            where += " AND 1 = 0"  # an address no operation names
        ops = "FROM {s}.history_ops WHERE " + where
        first = (
            f"(type = {self._p(ERC20_MINT)} OR (type IN ({self._p(ERC20_TRANSFER)}, "
            f"{self._p(ERC20_BURN)}) AND amount LIKE '-%'))"
        )
        if account is None:
            return f"SELECT block_number, tx_index, op_index {ops} AND {first}"
        who = f"account = {self._p(account)}"
        credit = f"type = {self._p(ERC20_TRANSFER)} AND amount NOT LIKE '-%'"
        return (
            f"SELECT block_number, tx_index, op_index {ops} AND {first} AND {who} UNION "
            f"SELECT block_number, tx_index, op_index - 1 {ops} AND {credit} AND {who}"
        )
