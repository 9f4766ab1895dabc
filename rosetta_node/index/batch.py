"""The storage-independent steps of an index write, shared by the SQLite and PostgreSQL stores.

Pure functions over plain Python values (and the writer's address-id cache): each store reads
what they need, calls them, and keeps only its SQL, so both stores move the floor, fold logs
and plan rollbacks the same way (their answers are compared row for row in the tests). What
both refuse is in :mod:`.checks`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from operator import itemgetter

from .model import BlockLogs

Pair = tuple[str, str]  # (contract address, account address)
IdPair = tuple[int, int]  # (contract id, account id)
HoldingRow = tuple[int, int, int, int]  # contract id, account id, first block, last block
JournalRow = tuple[int, int, int, int | None]  # block, contract id, account id, prev block


def next_floor(
    old_floor: int | None, first: int, cursor: int, head: int | None, retention: int
) -> int:
    """The journal floor after indexing blocks ``first``..``cursor``.

    It trails the head (or the cursor, when the head is unknown or behind) by ``retention``
    blocks, never passes the cursor and never moves down. ``old_floor`` None (an empty index,
    or no floor yet) starts it just below the batch.
    """
    if old_floor is None:
        old_floor = first - 1
    horizon = max(head if head is not None else cursor, cursor) - retention
    return max(old_floor, min(horizon, cursor))


class AddressIds:
    """address -> id for the writer: two generations of dicts, a cheap approximate LRU.

    ``lookup`` leaves every address of a batch in ``young``, so the caller maps the whole
    batch through that one dict.
    """

    def __init__(self, capacity: int) -> None:
        self.half = max(1, capacity // 2)
        self.young: dict[str, int] = {}
        self.old: dict[str, int] = {}

    def lookup(self, addresses: set[str]) -> list[str]:
        """Move the known ones of ``addresses`` into ``young``; returns the unknown ones."""
        if len(self.young) + len(addresses) > self.half:
            self.old, self.young = self.young, {}
        young, old = self.young, self.old
        missing = []
        for address in addresses - young.keys():
            found = old.get(address)
            if found is None:
                missing.append(address)
            else:
                young[address] = found
        return missing

    def clear(self) -> None:
        self.young.clear()
        self.old.clear()


def fold_transfers(blocks: Sequence[BlockLogs]) -> tuple[dict[Pair, int], dict[Pair, int]]:
    """``(first, last)``: each (contract, account) pair's first and last block in the batch.

    A batch becomes one holding row per pair. This loop runs twice per log and is most of a
    backfill's Python time: plain dict stores and local bindings, keep it that way.
    """
    last: dict[Pair, int] = {}
    first: dict[Pair, int] = {}
    first_seen = first.setdefault
    for block in blocks:
        number = block.number
        for contract, sender, recipient in block.transfers:
            out_key = (contract, sender)
            in_key = (contract, recipient)
            last[out_key] = number
            last[in_key] = number
            first_seen(out_key, number)
            first_seen(in_key, number)
    return first, last


def pair_addresses(pairs: Collection[Pair]) -> set[str]:
    """Every address in ``pairs`` (contracts and accounts): the ones to resolve to ids."""
    addresses = {contract for contract, _ in pairs}
    addresses.update([account for _, account in pairs])
    return addresses


def holding_rows(
    first: dict[Pair, int], last: dict[Pair, int], ids: dict[str, int]
) -> list[HoldingRow]:
    """``(contract id, account id, first, last)`` rows of a fold, in the fold's order.

    Built by C-level maps (this is per pair); the caller sorts them when key order pays.
    """
    id_of = ids.__getitem__
    keys = list(last)
    return list(
        zip(
            map(id_of, map(itemgetter(0), keys)),
            map(id_of, map(itemgetter(1), keys)),
            map(first.__getitem__, keys),
            last.values(),
            strict=True,
        )
    )


def kept_blocks(blocks: Sequence[BlockLogs], floor: int, cursor: int) -> list[BlockLogs]:
    """The blocks to store: those with logs (holdings point at them), those at or above the
    floor (reorg checks), and the cursor's."""
    return [b for b in blocks if b.transfers or b.number >= floor or b.number == cursor]


BlockPairs = list[tuple[int, set[IdPair]]]


def pairs_by_block(
    blocks: Sequence[BlockLogs], floor: int, ids: dict[str, int]
) -> tuple[BlockPairs, set[IdPair]]:
    """The id pairs each block touched, and those touched above ``floor``: the pairs whose
    holding before the batch the journal needs (the store reads them, then :func:`undo_rows`)."""
    touched_in: BlockPairs = []
    for block in blocks:
        pairs: set[IdPair] = set()
        for contract, sender, recipient in block.transfers:
            c = ids[contract]
            pairs.add((c, ids[sender]))
            pairs.add((c, ids[recipient]))
        touched_in.append((block.number, pairs))
    wanted = {pair for number, pairs in touched_in if number > floor for pair in pairs}
    return touched_in, wanted


def undo_rows(
    touched_in: BlockPairs,
    floor: int,
    wanted: set[IdPair],
    stored: Iterable[tuple[int, int, int]],
) -> list[JournalRow]:
    """Journal rows for the blocks above ``floor``: each pair a block touched, with the pair's
    last change before that block (None: no holding yet), so a rollback can restore it.

    ``stored``: ``(contract id, account id, last_block)`` of the ``wanted`` pairs' holdings
    before the batch (the pairs without a holding left out).
    """
    state: dict[IdPair, int | None] = dict.fromkeys(wanted)
    for contract, account, last_block in stored:
        state[(contract, account)] = int(last_block)
    rows: list[JournalRow] = []
    for number, pairs in touched_in:
        if number > floor:
            rows.extend((number, c, a, state[(c, a)]) for c, a in pairs)
        for pair in pairs:
            if pair in state:
                state[pair] = number
    return rows


def restore_plan(
    newest_first: Iterable[tuple[int, int, int | None]],
) -> tuple[list[IdPair], list[tuple[int, int, int]]]:
    """What a rollback does to holdings, from the undone journal rows
    ``(contract id, account id, prev_block)`` ordered by block, newest first.

    Returns ``(gone, back)``: the pairs whose holding to delete (no change before), and
    ``(contract id, account id, prev_block)`` to set ``last_block`` back to. The earliest
    undone change of a pair holds its state before them all, so it wins.
    """
    restore: dict[IdPair, int | None] = {}
    for contract, account, prev_block in newest_first:
        restore[(contract, account)] = prev_block
    gone = [pair for pair, prev in restore.items() if prev is None]
    back = [(c, a, prev) for (c, a), prev in restore.items() if prev is not None]
    return gone, back
