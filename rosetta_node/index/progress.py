"""Progress of an index run: events from the indexer, and a terminal progress bar for them."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One range (backfill) or batch of blocks (follow) committed to the index."""

    first_block: int  # first block of this run
    target_block: int  # the block the run is heading for
    range_start: int
    range_end: int  # committed up to here, inclusive
    logs: int  # Transfer logs in the range
    range_size: int  # the adaptive eth_getLogs range in blocks, after this range

    @property
    def blocks(self) -> int:
        return self.range_end - self.range_start + 1


ProgressCallback = Callable[[ProgressEvent], None]


def format_duration(seconds: float) -> str:
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative, inf
        return "--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def _rate(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:,.0f}k"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}"


class ProgressBar:
    """Renders :class:`ProgressEvent`s: blocks/s, logs/s (recent, smoothed), percent, ETA.

    On a terminal it redraws one line; elsewhere (logs, CI) it prints a line at most every
    ``interval`` seconds. Call it as the indexer's progress callback; ``close()`` at the end.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interval: float = 2.0,
        smoothing: float = 0.3,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
        label: str = "index",
        unit: str = "logs",
        noun: str = "Transfer logs",
    ) -> None:
        # The history's bar counts operations where the Transfer index's counts logs.
        self.label, self.unit, self.noun = label, unit, noun
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if not self.tty else 0.1
        self.smoothing = smoothing
        self.width = width
        self.clock = clock
        self.started = clock()
        self.blocks = 0
        self.logs = 0
        self.last: ProgressEvent | None = None
        self.blocks_per_s = 0.0
        self.logs_per_s = 0.0
        self._last_time = self.started
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, event: ProgressEvent) -> None:
        now = self.clock()
        dt = max(now - self._last_time, 1e-6)
        self._last_time = now
        self.blocks += event.blocks
        self.logs += event.logs
        a = self.smoothing if self.last is not None else 1.0
        self.blocks_per_s += a * (event.blocks / dt - self.blocks_per_s)
        self.logs_per_s += a * (event.logs / dt - self.logs_per_s)
        self.last = event
        if now - self._last_draw >= self.interval or event.range_end >= event.target_block:
            self._last_draw = now
            self._draw(self.line())

    def eta(self) -> float:
        if self.last is None:
            return float("nan")
        remaining = self.last.target_block - self.last.range_end
        if remaining <= 0:
            return 0.0
        elapsed = max(self.clock() - self.started, 1e-6)
        rate = self.blocks_per_s or self.blocks / elapsed
        return remaining / rate if rate > 0 else float("inf")

    def line(self) -> str:
        event = self.last
        if event is None:
            return f"{self.label}: starting"
        total = max(event.target_block - event.first_block + 1, 1)
        done = min(max(event.range_end - event.first_block + 1, 0), total)
        fraction = done / total
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        return (
            f"{self.label} [{bar}] {fraction * 100:5.1f}% block {event.range_end:,}/"
            f"{event.target_block:,}  {_rate(self.blocks_per_s)} blk/s  "
            f"{_rate(self.logs_per_s)} {self.unit}/s  {self.logs:,} {self.unit}  "
            f"range {event.range_size:,}  ETA {format_duration(self.eta())}"
        )

    def summary(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-6)
        return (
            f"{self.label}: {self.blocks:,} blocks, {self.logs:,} {self.noun} in "
            f"{format_duration(elapsed)} ({_rate(self.blocks / elapsed)} blk/s, "
            f"{_rate(self.logs / elapsed)} {self.unit}/s)"
        )

    def _draw(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
        self.stream.write(self.summary() + "\n")
        self.stream.flush()
