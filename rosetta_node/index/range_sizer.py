"""The adaptive ``eth_getLogs`` range size of a backfill (:class:`RangeSizer`)."""

from __future__ import annotations


class RangeSizer:
    """The adaptive eth_getLogs range, in blocks.

    A range the node refuses (or that times out) is halved, or cut to the size the node
    suggests; that size becomes a ceiling that growth stays under until ``probe_after`` ranges
    in a row succeed (so a dense stretch does not make us fail at the same size over and over).
    A range that comes back quickly with few logs doubles the size, up to ``maximum``.
    """

    def __init__(
        self,
        initial: int = 100,
        maximum: int = 10_000,
        *,
        target_logs: int = 10_000,
        target_seconds: float = 2.0,
        probe_after: int = 32,
    ) -> None:
        if not 1 <= initial <= maximum:
            raise ValueError("need 1 <= initial range <= maximum range")
        self.size = initial
        self.maximum = maximum
        self.target_logs = target_logs
        self.target_seconds = target_seconds
        self.probe_after = probe_after
        self.ceiling: int | None = None  # smallest range size that failed recently
        self.shrinks = 0
        self._streak = 0

    def shrink(self, failed: int, hint: int | None = None) -> None:
        """A range of ``failed`` blocks was refused or timed out."""
        if hint is not None and 1 <= hint < failed:
            new, ceiling = hint, hint + 1  # the node told us what works
        else:
            new, ceiling = failed // 2, failed
        self.ceiling = ceiling if self.ceiling is None else min(self.ceiling, ceiling)
        self.size = max(1, min(self.size, new))
        self.shrinks += 1
        self._streak = 0

    def record(self, blocks: int, logs: int, seconds: float) -> None:
        """Adjust after a successful range of ``blocks`` blocks."""
        if seconds > 2 * self.target_seconds or logs > 2 * self.target_logs:
            self.size = max(1, min(self.size, blocks // 2))
            self._streak = 0
            return
        self._streak += 1
        if self.ceiling is not None and self._streak >= self.probe_after:
            self.ceiling = None
        if (
            blocks >= self.size
            and logs < self.target_logs // 2
            and seconds < self.target_seconds / 2
        ):
            limit = self.maximum if self.ceiling is None else min(self.maximum, self.ceiling - 1)
            self.size = max(self.size, min(self.size * 2, limit))
