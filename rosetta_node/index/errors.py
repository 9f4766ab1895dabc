"""Why an index run failed: :class:`IndexerError` ends the run, the others are retried.

Shared by the log source (which classifies the node's answers), the fetch window (which
retries or splits a range) and the indexer (which retries a pass or gives up).
"""

from __future__ import annotations


class IndexerError(Exception):
    """The indexer cannot go on (node keeps failing, another chain in the database, ...)."""


class TooLarge(Exception):
    """The node refused a getLogs range as too big (or timed out on it): split the range."""

    def __init__(self, reason: str, hint: int | None = None) -> None:
        super().__init__(reason)
        self.hint = hint  # the range size the node suggested, if it did


class Inconsistent(Exception):
    """An answer that does not fit together (a reorg while we read, a malformed log): retry."""


class Transient(Exception):
    """The node failed to answer; retry after a pause."""
