"""What both index stores refuse before they write: the preconditions of ``apply`` and
``rollback_to``, over values each store reads in its write transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from . import batch
from .model import ChainMismatch, Cursor, IndexStoreError, ReorgTooDeep


class Linked(Protocol):
    """A block as both indexes hand it to their store (Transfer logs or history rows)."""

    @property
    def number(self) -> int: ...

    @property
    def hash(self) -> str: ...

    @property
    def parent_hash(self) -> str: ...


def check_batch(blocks: Sequence[Linked], cursor: Cursor) -> None:
    """``cursor`` must name the last of ``blocks`` (checked before any transaction)."""
    if not blocks or blocks[-1].number != cursor.number or blocks[-1].hash != cursor.hash:
        raise ValueError("cursor must name the last block of `blocks`")


def check_extends(
    current: Cursor | None, blocks: Sequence[Linked], *, contiguous: bool = False
) -> None:
    """Raise :class:`ChainMismatch` unless ``blocks`` extend the indexed chain at ``current``.

    Numbers must ascend past the cursor; consecutive numbers must link by parent hash (a
    Transfer backfill batch is sparse, so only neighbours can be checked; the history's
    blocks are ``contiguous``: each must be the next number).
    """
    prev_number = -1 if current is None else current.number
    prev_hash = None if current is None else current.hash
    for block in blocks:
        if contiguous and prev_hash is not None and block.number != prev_number + 1:
            raise ChainMismatch(f"block {block.number} does not follow block {prev_number}")
        if block.number <= prev_number:
            raise ChainMismatch(
                f"block {block.number} does not come after indexed block {prev_number}"
            )
        linked = prev_hash is None or block.parent_hash == prev_hash
        if block.number == prev_number + 1 and not linked:
            raise ChainMismatch(
                f"block {block.number} ({block.hash}) has parent {block.parent_hash}, "
                f"indexed block {prev_number} is {prev_hash}"
            )
        prev_number, prev_hash = block.number, block.hash


def apply_floor(
    current: Cursor | None,
    stored_floor: int | None,
    blocks: Sequence[Linked],
    cursor: Cursor,
    head: int | None,
    retention: int,
) -> int:
    """Check ``blocks`` extend the chain at ``current``; the journal floor after them.

    ``stored_floor`` is ignored on an empty index (a floor left behind starts afresh).
    """
    check_extends(current, blocks)
    old_floor = None if current is None else stored_floor
    return batch.next_floor(old_floor, blocks[0].number, cursor.number, head, retention)


def rollback_done(current: Cursor | None, floor: int | None, number: int) -> Cursor | None:
    """Check a rollback to ``number`` may go on: the cursor when it is at ``number`` already
    (nothing to do), else None (then :func:`rollback_target` with the block's stored hash)."""
    if current is None:
        raise IndexStoreError("nothing indexed yet")
    if number >= current.number:
        if number == current.number:
            return current
        raise IndexStoreError(f"block {number} is above the cursor {current.number}")
    if floor is not None and number < floor:
        raise ReorgTooDeep(
            f"rollback to block {number} is below the journal floor {floor}; re-index"
        )
    return None


def rollback_target(number: int, block_hash: str | None) -> Cursor:
    """The cursor after rolling back to ``number``, whose stored hash is ``block_hash``."""
    if block_hash is None:
        raise IndexStoreError(f"block {number} is not a stored block; cannot roll back to it")
    return Cursor(number, block_hash)
