"""The indexer's node reads: headers, the head, and Transfer logs pinned to one chain.

:class:`LogSource` turns every node failure into one of the kinds in :mod:`.errors`:
``TooLarge`` when ``eth_getLogs`` refuses a range (``classify_logs_error`` reads the many
ways nodes and providers say so, ``suggested_range`` the size some of them suggest),
``Transient`` when the node did not answer, ``Inconsistent`` when answers do not fit
together (a reorg while we read).

A range is pinned to one chain: the range's end header is read before and after the logs and
must not change, and every log's ``blockHash`` must be the canonical hash of its number (one
batch of ``eth_getBlockByNumber`` for the distinct numbers).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.chain import Header, parse_header
from ..engine.node_client import NodeClient, NodeError
from ..engine.node_errors import is_missing_history
from ..errors import NODE_TIMEOUT, CatalogError
from .errors import Inconsistent, IndexerError, TooLarge, Transient
from .model import BlockLogs, Cursor
from .transfers import TRANSFER_TOPIC, group_transfer_logs

# Markers in eth_getLogs error messages (geth, erigon, reth, nethermind, Infura, Alchemy,
# QuickNode, Ankr, ...). Rate limits first: Infura also says -32005 for them.
_RATE_LIMITED = (
    "rate limit",
    "too many requests",
    "capacity",
    "throughput",
    "requests per second",
    "daily request",
)
_TOO_LARGE = (
    "more than",
    "too many",
    "limit exceeded",
    "exceed",
    "response size",
    "response is too big",
    "too large",
    "too big",
    "too wide",
    "block range",
    "max results",
    "range limit",
    "range is too",
    "limited to",
    "query timeout",
    "timeout",
    "timed out",
)
_TOO_LARGE_CODES = (-32005,)
_HINT = re.compile(r"\[\s*(0x[0-9a-fA-F]+)\s*,\s*(0x[0-9a-fA-F]+)\s*\]")


def classify_logs_error(exc: NodeError) -> str:
    """'rate_limited', 'too_large' (shrink the range) or 'other' for a node's getLogs error."""
    text = exc.message.lower()
    if any(marker in text for marker in _RATE_LIMITED):
        return "rate_limited"
    if exc.code in _TOO_LARGE_CODES or any(marker in text for marker in _TOO_LARGE):
        return "too_large"
    return "other"


def suggested_range(exc: NodeError) -> int | None:
    """The range size a node suggests ("this block range should work: [0x1, 0x2]")."""
    for text in (exc.message, str(exc.data or "")):
        match = _HINT.search(text)
        if match:
            start, end = int(match.group(1), 16), int(match.group(2), 16)
            if end >= start:
                return end - start + 1
    return None


def _logs_error(answer: NodeError, start: int, end: int) -> Exception:
    """What to raise for a getLogs error of blocks ``start..end``."""
    if classify_logs_error(answer) == "too_large":
        return TooLarge(answer.message, suggested_range(answer))
    if is_missing_history(answer):  # never comes back: say so instead of retrying
        return IndexerError(
            f"the node no longer has the logs of blocks {start}-{end} "
            f"({answer.message[:200]}); index from an archive node or set "
            "index_start_block above its pruned history"
        )
    return Transient(str(answer))  # "eth_getLogs: code message"


@dataclass(slots=True)
class FetchedRange:
    """The Transfer logs of blocks ``start..end``, read and checked, ready to commit."""

    start: int
    end: int
    blocks: list[BlockLogs]
    prev_hash: str | None  # canonical hash of start - 1 when read (None for block 0)
    logs: int
    seconds: float

    @property
    def cursor(self) -> Cursor:
        last = self.blocks[-1]
        return Cursor(last.number, last.hash)


class LogSource:
    """Reads headers and Transfer logs from one node for the indexer."""

    def __init__(self, node: NodeClient, log_timeout: float = 30.0) -> None:
        self.node = node
        self.log_timeout = log_timeout
        self.head: int | None = None  # the last head the node reported

    async def header(self, tag: int | str) -> Header | None:
        """The header of a block number or tag ("latest"); None if the node has none."""
        param = hex(tag) if isinstance(tag, int) else tag
        try:
            raw = await self.node.one(NodeClient.block(tag))
        except NodeError as exc:  # (before CatalogError: a NodeError is one)
            raise Transient(f"{exc.method}({param}): {exc.message}") from None
        except CatalogError as exc:
            raise Transient(str(exc)) from None
        if raw is None:
            return None
        return self.parse_header(raw)

    @staticmethod
    def parse_header(raw: Any) -> Header:
        try:
            return parse_header(raw)
        except CatalogError as exc:
            raise Inconsistent(str(exc)) from None

    async def headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        """The headers of ``numbers`` in one batch (None for blocks the node does not have)."""
        try:
            answers = await self.node.batch([NodeClient.block(n) for n in numbers])
        except CatalogError as exc:
            raise Transient(str(exc)) from None
        headers: dict[int, Header | None] = {}
        for number, raw in zip(numbers, answers, strict=True):
            if isinstance(raw, NodeError):
                raise Transient(f"{raw.method}({number}): {raw.message}")
            header = None if raw is None else self.parse_header(raw)
            if header is not None and header.number != number:
                raise Inconsistent(f"asked for block {number}, got {header.number}")
            headers[number] = header
        return headers

    async def latest(self) -> Header:
        """The node's head."""
        head = await self.header("latest")
        if head is None:
            raise Transient("node has no latest block")
        self.head = head.number
        return head

    async def latest_and(self, number: int | None) -> tuple[Header, Header | None]:
        """The head and (one batch) the header of block ``number``, if one is asked for."""
        calls = [NodeClient.block("latest")]
        if number is not None:
            calls.append(NodeClient.block(number))
        try:
            answers = await self.node.batch(calls)
        except CatalogError as exc:
            raise Transient(str(exc)) from None
        if isinstance(answers[0], NodeError) or answers[0] is None:
            raise Transient("node has no latest block")
        head = self.parse_header(answers[0])
        self.head = head.number
        if number is None or answers[1] is None:
            return head, None
        if isinstance(answers[1], NodeError):
            raise Transient(f"{answers[1].method}({number}): {answers[1].message}")
        return head, self.parse_header(answers[1])

    async def fetch_range(self, start: int, end: int) -> FetchedRange:
        """The Transfer logs of blocks ``start..end``, all of one chain (see the module doc)."""
        end_before, answer, seconds = await self._range_logs(start, end)
        groups, count = group_transfer_logs(answer, start, end)
        wanted = set(groups) | {end}
        if start > 0:
            wanted.add(start - 1)
        headers = await self.headers(sorted(wanted))
        end_header = headers[end]
        if end_header is None or end_header.hash != end_before.hash:
            raise Inconsistent(f"block {end} changed while its range was read")
        blocks: list[BlockLogs] = []
        for number in sorted(set(groups) | {end}):
            header = headers[number]
            if header is None:
                raise Inconsistent(f"block {number} vanished while its range was read")
            group = groups.get(number)
            if group is not None and group[0] != header.hash:
                raise Inconsistent(f"logs of block {number} are from an orphaned block")
            transfers = [] if group is None else group[1]
            blocks.append(BlockLogs(number, header.hash, header.parent_hash, transfers))
        prev = headers.get(start - 1) if start > 0 else None
        return FetchedRange(start, end, blocks, None if prev is None else prev.hash, count, seconds)

    async def _range_logs(self, start: int, end: int) -> tuple[Header, Any, float]:
        """The end header, the raw getLogs answer and the seconds the node took."""
        began = time.monotonic()
        log_filter = {"fromBlock": hex(start), "toBlock": hex(end), "topics": [TRANSFER_TOPIC]}
        try:
            # Our deadline, not the client's: the client would retry a timed-out read, and a
            # range too big to answer in time should be split instead. Its own timeout is
            # set later so that it never races ours (and swallows the cancellation).
            async with asyncio.timeout(self.log_timeout):
                before, answer = await self.node.batch(
                    [NodeClient.block(end), NodeClient.logs(log_filter)],
                    timeout=self.log_timeout * 2 + 1,
                )
        except TimeoutError:
            raise TooLarge(f"eth_getLogs timed out after {self.log_timeout} s") from None
        except CatalogError as exc:
            if exc.error is NODE_TIMEOUT:
                raise TooLarge(f"eth_getLogs timed out: {exc}") from None
            raise Transient(str(exc)) from None
        seconds = time.monotonic() - began
        if isinstance(answer, NodeError):
            raise _logs_error(answer, start, end)
        if isinstance(before, NodeError) or before is None:
            raise Transient(f"block {end} not available yet")
        return self.parse_header(before), answer, seconds

    async def block_logs(self, chain: Sequence[Header]) -> tuple[list[BlockLogs], int]:
        """The Transfer logs of each block of ``chain`` read by its hash, and their count.

        Stops at the first block the node cannot answer for (orphaned meanwhile?), so the
        blocks before it are still indexed; raises if that is the first one.
        """
        try:
            answers = await self.node.batch(
                [NodeClient.logs({"blockHash": h.hash, "topics": [TRANSFER_TOPIC]}) for h in chain],
                timeout=self.log_timeout,
            )
        except CatalogError as exc:
            raise Transient(str(exc)) from None
        blocks: list[BlockLogs] = []
        count = 0
        for header, answer in zip(chain, answers, strict=True):
            if isinstance(answer, NodeError):
                if not blocks:
                    raise Transient(f"{answer.method}(block {header.hash}): {answer.message}")
                break
            groups, n = group_transfer_logs(
                answer, header.number, header.number, pinned=header.hash
            )
            transfers = groups[header.number][1] if groups else []
            blocks.append(BlockLogs(header.number, header.hash, header.parent_hash, transfers))
            count += n
        return blocks, count
