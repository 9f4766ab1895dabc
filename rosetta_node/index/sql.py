"""The SQL both index stores run, written once in PostgreSQL's spelling.

``{s}.`` stands before every table and view: the store's schema in PostgreSQL, nothing in
SQLite. Parameters are ``$1``, ``$2``...: SQLite reads them as ``?1``, ``?2``...
(:func:`for_sqlite` rewrites both). The tables differ by column types, so each store keeps
its own ``CREATE TABLE``; the views and the query indexes are here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from .model import AccountToken, Change, Cursor, Holder

Rows = Iterable[Sequence[Any]]

# The logical views over the compact tables (see :mod:`.model`): "CREATE ... VIEW " + these.
VIEWS = (
    """{s}.holdings(contract, account, first_block, last_block, last_hash) AS
    SELECT c.address, a.address, h.first_block, h.last_block, b.hash
    FROM {s}.holding h
    JOIN {s}.addresses c ON c.id = h.contract
    JOIN {s}.addresses a ON a.id = h.account
    JOIN {s}.blocks b ON b.number = h.last_block""",
    """{s}.changes(contract, account, block_number, block_hash, prev_block) AS
    SELECT c.address, a.address, j.block_number, b.hash, j.prev_block
    FROM {s}.journal j
    JOIN {s}.addresses c ON c.id = j.contract
    JOIN {s}.addresses a ON a.id = j.account
    JOIN {s}.blocks b ON b.number = j.block_number""",
)

# The query indexes: left out during a bulk load (see SqliteIndex.set_bulk), built after.
INDEXES = {
    "holding_by_account": "CREATE INDEX IF NOT EXISTS holding_by_account ON {s}.holding(account)",
    "holding_by_change": (
        "CREATE INDEX IF NOT EXISTS holding_by_change ON {s}.holding(contract, last_block)"
    ),
}
DROP_INDEX = "DROP INDEX IF EXISTS {s}.{name}"

META = "SELECT value FROM {s}.meta WHERE key = $1"
SET_META = (
    "INSERT INTO {s}.meta(key, value) VALUES ($1, $2) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)
END_BULK = "DELETE FROM {s}.meta WHERE key = 'bulk'"

CURSOR = "SELECT number, hash FROM {s}.cursor WHERE network = $1"
OTHER_NETWORKS = "SELECT network FROM {s}.cursor WHERE network <> $1"
SET_CURSOR = (
    "INSERT INTO {s}.cursor(network, number, hash) VALUES ($1, $2, $3) "
    "ON CONFLICT(network) DO UPDATE SET number = excluded.number, hash = excluded.hash"
)
MOVE_CURSOR = "UPDATE {s}.cursor SET number = $1, hash = $2 WHERE network = $3"

BLOCK_HASH = "SELECT hash FROM {s}.blocks WHERE number = $1"
RECENT_BLOCKS = (
    "SELECT number, hash FROM {s}.blocks WHERE number < $1 ORDER BY number DESC LIMIT $2"
)
ADDRESS_ID = "SELECT id FROM {s}.addresses WHERE address = $1"

# Reads for the API; ``$n`` numbered as the stores pass them.
ACCOUNT_TOKENS = (  # account, upto
    "SELECT c.address, h.first_block, h.last_block, b.hash FROM {s}.addresses a "
    "JOIN {s}.holding h ON h.account = a.id "
    "JOIN {s}.addresses c ON c.id = h.contract "
    "JOIN {s}.blocks b ON b.number = h.last_block "
    "WHERE a.address = $1 AND h.first_block <= $2 ORDER BY c.address"
)
# Mints come from and burns go to the zero address: the index keeps its side of each
# Transfer (reorgs roll it back like any other), but it is never a holder of anything.
_NOT_ZERO = "a.address <> '0x0000000000000000000000000000000000000000' "
_HOLDINGS = (
    "SELECT {columns} FROM {{s}}.holding h "
    "JOIN {{s}}.addresses a ON a.id = h.account "
    "JOIN {{s}}.blocks b ON b.number = h.last_block "
)
HOLDERS = (  # contract id, after account id, upto, limit
    _HOLDINGS.format(columns="a.address, h.first_block, h.last_block, b.hash")
    + "WHERE h.contract = $1 AND h.account > $2 AND h.first_block <= $3 AND "
    + _NOT_ZERO
    + "ORDER BY h.account LIMIT $4"
)
CHANGED_SINCE = (  # contract id, after block, page block, page account id, limit
    _HOLDINGS.format(columns="a.address, h.last_block, b.hash")
    + "WHERE h.contract = $1 AND h.last_block > $2 AND (h.last_block, h.account) > ($3, $4) "
    + "AND "
    + _NOT_ZERO
    + "ORDER BY h.last_block, h.account LIMIT $5"
)
HOLDER_COUNT = (
    "SELECT count(*) FROM {s}.holding h JOIN {s}.addresses a ON a.id = h.account "
    "WHERE h.contract = $1 AND h.first_block <= $2 AND " + _NOT_ZERO
)

# Writes of apply (beside each store's bulk inserts) and of rollback_to.
PRUNE_JOURNAL = "DELETE FROM {s}.journal WHERE block_number <= $1"
# Blocks without logs below the old floor are gone already: look above it only.
PRUNE_BLOCKS = "DELETE FROM {s}.blocks WHERE number < $1 AND number >= $2 AND transfers = 0"
UNDO_JOURNAL = (
    "SELECT contract, account, prev_block FROM {s}.journal "
    "WHERE block_number > $1 ORDER BY block_number DESC"
)
DROP_JOURNAL_ABOVE = "DELETE FROM {s}.journal WHERE block_number > $1"
DROP_BLOCKS_ABOVE = "DELETE FROM {s}.blocks WHERE number > $1"

# The whole index, for IndexDump.from_rows (tests and tools).
DUMP_HOLDINGS = (
    "SELECT contract, account, first_block, last_block, last_hash "
    "FROM {s}.holdings ORDER BY contract, account"
)
DUMP_CHANGES = (
    "SELECT block_number, contract, account, block_hash, prev_block "
    "FROM {s}.changes ORDER BY block_number, contract, account"
)
DUMP_BLOCKS = "SELECT number, hash, parent_hash FROM {s}.blocks ORDER BY number"


# The rows of the queries above as the model's types.


def cursor(row: Sequence[Any] | None) -> Cursor | None:
    """A ``CURSOR`` row (None: nothing indexed yet)."""
    return None if row is None else Cursor(int(row[0]), str(row[1]))


def cursors(rows: Rows) -> list[Cursor]:
    """``RECENT_BLOCKS`` rows."""
    return [Cursor(int(n), str(h)) for n, h in rows]


def account_tokens(rows: Rows) -> list[AccountToken]:
    """``ACCOUNT_TOKENS`` rows."""
    return [AccountToken(c, int(f), int(n), h) for c, f, n, h in rows]


def holders(rows: Rows) -> list[Holder]:
    """``HOLDERS`` rows."""
    return [Holder(a, int(f), int(n), h) for a, f, n, h in rows]


def changes(rows: Rows) -> list[Change]:
    """``CHANGED_SINCE`` rows."""
    return [Change(a, int(n), h) for a, n, h in rows]


def upto(at_block: int | None) -> int:
    """The highest block number a read includes: ``at_block``, or all (a bigint's largest)."""
    return 2**63 - 1 if at_block is None else at_block


@lru_cache(maxsize=256)
def for_sqlite(text: str) -> str:
    """``text`` as SQLite reads it: no schema before names, ``?n`` for ``$n``."""
    return re.sub(r"\$(\d+)", r"?\1", text.replace("{s}.", ""))
