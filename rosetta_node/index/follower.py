"""Fill the Transfer-log index from a node: a backfill in adaptive ranges, then follow the head.

Backfill: ``eth_getLogs`` over block ranges for the ERC-20 ``Transfer`` topic (any contract;
logs with exactly three topics: ERC-721 has four). The range adapts: it is halved (or cut to
the range the node suggests) when the node answers "too many results", "limit exceeded",
"response size", -32005 and the like, or times out; it doubles, up to a cap, when a range
comes back with few logs quickly. Up to ``concurrency`` ranges are fetched at once and
committed in order. Each range is pinned to one chain: the range's end header is read before
and after the logs and must not change, every log's ``blockHash`` must be the canonical hash
of its number (one batch of ``eth_getBlockByNumber`` for the distinct numbers), and the block
before the range must be the block we indexed last; else the range is fetched again, or (the
indexed chain was orphaned) the index is rolled back to the fork point first.

Follow: poll the head; new blocks are read by number, must link by ``parentHash`` to the
indexed tip and to each other, and their logs are read by ``eth_getLogs({blockHash})`` so one
commit never mixes two branches. A tip that is no longer canonical (also when the new branch
is shorter) makes us walk back over the stored hashes to the fork point, roll back to it,
and index the canonical blocks from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..engine.chain import Header, parse_header
from ..engine.node_errors import is_missing_history
from ..errors import NODE_TIMEOUT, CatalogError
from ..rpc import RpcClient, RpcError
from .progress import ProgressCallback, ProgressEvent
from .store import BlockLogs, ChainMismatch, Cursor, IndexStore, ReorgTooDeep, Transfer

log = logging.getLogger(__name__)

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_ADDRESS_PAD = "0" * 24
_UNSET: Any = object()

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


class IndexerError(Exception):
    """The indexer cannot go on (node keeps failing, another chain in the database, ...)."""


def classify_logs_error(exc: RpcError) -> str:
    """'rate_limited', 'too_large' (shrink the range) or 'other' for a node's getLogs error."""
    text = exc.message.lower()
    if any(marker in text for marker in _RATE_LIMITED):
        return "rate_limited"
    if exc.code in _TOO_LARGE_CODES or any(marker in text for marker in _TOO_LARGE):
        return "too_large"
    return "other"


def suggested_range(exc: RpcError) -> int | None:
    """The range size a node suggests ("this block range should work: [0x1, 0x2]")."""
    for text in (exc.message, str(exc.data or "")):
        match = _HINT.search(text)
        if match:
            start, end = int(match.group(1), 16), int(match.group(2), 16)
            if end >= start:
                return end - start + 1
    return None


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


def parse_transfer(raw: dict[str, Any]) -> Transfer | None:
    """The (contract, from, to) of an ERC-20 Transfer log; None for other logs.

    ERC-721 Transfer logs (4 topics) and logs whose topics are not addresses are not ERC-20
    transfers. Runs once per log of a backfill, hence the plain style.
    """
    topics = raw.get("topics")
    if type(topics) is not list or len(topics) != 3:
        return None
    topic0, t1, t2 = topics
    if topic0 != TRANSFER_TOPIC and (type(topic0) is not str or topic0.lower() != TRANSFER_TOPIC):
        return None
    if (
        type(t1) is not str
        or type(t2) is not str
        or len(t1) != 66
        or len(t2) != 66
        or not t1.startswith(_ADDRESS_PAD, 2)
        or not t2.startswith(_ADDRESS_PAD, 2)
    ):
        return None
    contract = raw.get("address")
    if type(contract) is not str or len(contract) != 42:
        raise _Inconsistent("log without a contract address")
    return Transfer(contract.lower(), "0x" + t1[26:].lower(), "0x" + t2[26:].lower())


class _TooLarge(Exception):
    def __init__(self, reason: str, hint: int | None = None) -> None:
        super().__init__(reason)
        self.hint = hint


class _Inconsistent(Exception):
    """An answer that does not fit together (a reorg while we read, a malformed log): retry."""


class _Transient(Exception):
    """The node failed to answer; retry after a pause."""


class _Orphaned(Exception):
    """The block before the next range is not the block we indexed: our tip was orphaned."""


@dataclass(slots=True)
class _Range:
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


@dataclass(slots=True)
class _Slot:
    start: int
    end: int
    task: asyncio.Task[_Range] | None = None
    failures: int = 0


def group_transfer_logs(
    answer: Any, start: int, end: int, pinned: str | None = None
) -> tuple[dict[int, tuple[str, list[Transfer]]], int]:
    """``({number: (blockHash, transfers)}, transfer count)`` of an eth_getLogs answer.

    Raises when the answer does not fit together: a log outside ``start..end``, two hashes
    for one number, a hash other than ``pinned``, a removed or malformed log.
    """
    if type(answer) is not list:
        raise _Inconsistent("eth_getLogs answer is not a list")
    groups: dict[int, tuple[str, list[Transfer]]] = {}
    count = 0
    number_text: Any = _UNSET
    hash_text: Any = _UNSET
    transfers: list[Transfer] = []
    for raw in answer:
        if type(raw) is not dict:
            raise _Inconsistent("a log is not an object")
        if raw.get("removed"):
            raise _Inconsistent("a log is marked removed")
        # Logs come ordered by block: parse the block fields only when they change.
        if raw.get("blockNumber") != number_text or raw.get("blockHash") != hash_text:
            number_text, hash_text = raw.get("blockNumber"), raw.get("blockHash")
            try:
                number = int(number_text, 16)
                block_hash = hash_text.lower()
            except (AttributeError, TypeError, ValueError):
                raise _Inconsistent("a log lacks blockNumber/blockHash") from None
            if not start <= number <= end:
                raise _Inconsistent(f"log of block {number} outside {start}..{end}")
            if pinned is not None and block_hash != pinned:
                raise _Inconsistent(f"log of block {block_hash}, asked for {pinned}")
            group = groups.get(number)
            if group is None:
                group = groups[number] = (block_hash, [])
            elif group[0] != block_hash:
                raise _Inconsistent(f"logs of block {number} from two branches")
            transfers = group[1]
        transfer = parse_transfer(raw)
        if transfer is not None:
            transfers.append(transfer)
            count += 1
    return groups, count


class Indexer:
    """Keeps an :class:`IndexStore` in step with the canonical chain of one node."""

    def __init__(
        self,
        rpc: RpcClient,
        store: IndexStore,
        start_block: int = 0,
        confirmations: int = 0,
        *,
        initial_range: int = 100,
        max_range: int = 10_000,
        target_logs: int = 10_000,
        log_timeout: float = 30.0,
        concurrency: int = 4,
        commit_logs: int = 50_000,
        bulk_threshold: int = 100_000,
        follow_batch: int = 64,
        catchup_threshold: int = 256,
        max_failures: int = 8,
        retry_delay: float = 0.5,
    ) -> None:
        if start_block < 0 or confirmations < 0:
            raise ValueError("start_block and confirmations must not be negative")
        self.rpc = rpc
        self.store = store
        self.start_block = start_block
        self.confirmations = confirmations
        self.sizer = RangeSizer(min(initial_range, max_range), max_range, target_logs=target_logs)
        self.log_timeout = log_timeout
        self.concurrency = max(1, concurrency)
        self.commit_logs = max(1, commit_logs)
        self.bulk_threshold = bulk_threshold
        self.follow_batch = max(1, follow_batch)
        self.catchup_threshold = max(self.follow_batch, catchup_threshold)
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self.head: int | None = None  # the last head the node reported
        self.reorgs = 0
        self.ranges = 0
        self.logs = 0
        self._prepared = False
        self._failure_mark: int | None = None

    # -- node reads --------------------------------------------------------------------------

    async def _header(self, tag: int | str) -> Header | None:
        param = hex(tag) if isinstance(tag, int) else tag
        try:
            raw = await self.rpc.call("eth_getBlockByNumber", [param, False])
        except RpcError as exc:
            raise _Transient(f"eth_getBlockByNumber({param}): {exc.message}") from None
        except CatalogError as exc:
            raise _Transient(str(exc)) from None
        if raw is None:
            return None
        return self._parse_header(raw)

    @staticmethod
    def _parse_header(raw: Any) -> Header:
        try:
            return parse_header(raw)
        except CatalogError as exc:
            raise _Inconsistent(str(exc)) from None

    async def _headers(self, numbers: Sequence[int]) -> dict[int, Header | None]:
        try:
            answers = await self.rpc.batch(
                [("eth_getBlockByNumber", [hex(n), False]) for n in numbers]
            )
        except CatalogError as exc:
            raise _Transient(str(exc)) from None
        headers: dict[int, Header | None] = {}
        for number, raw in zip(numbers, answers, strict=True):
            if isinstance(raw, RpcError):
                raise _Transient(f"eth_getBlockByNumber({number}): {raw.message}")
            header = None if raw is None else self._parse_header(raw)
            if header is not None and header.number != number:
                raise _Inconsistent(f"asked for block {number}, got {header.number}")
            headers[number] = header
        return headers

    async def _latest(self) -> Header:
        head = await self._header("latest")
        if head is None:
            raise _Transient("node has no latest block")
        self.head = head.number
        return head

    # -- setup -------------------------------------------------------------------------------

    async def _prepare(self) -> Cursor | None:
        """Check the database belongs to this chain; start the cursor at start_block - 1."""
        cursor = await self.store.cursor()
        if self._prepared:
            return cursor
        genesis = await self._header(0)
        if genesis is None:
            raise IndexerError("node has no genesis block")
        known = await self.store.get_meta("genesis_hash")
        if known is None:
            await self.store.set_meta("genesis_hash", genesis.hash)
        elif known != genesis.hash:
            raise IndexerError(
                f"the index database belongs to the chain with genesis {known}, "
                f"the node serves genesis {genesis.hash}"
            )
        if cursor is None and self.start_block > 0:
            before = await self._header(self.start_block - 1)
            if before is None:
                raise IndexerError(f"start block {self.start_block} is above the node's head")
            block = BlockLogs(before.number, before.hash, before.parent_hash, [])
            await self.store.apply([block], Cursor(before.number, before.hash), head=self.head)
            await self.store.set_meta("start_block", str(self.start_block))
            cursor = Cursor(before.number, before.hash)
        elif cursor is not None:
            started = await self.store.get_meta("start_block")
            if started is not None and int(started) != self.start_block:
                log.info(
                    "index already started at block %s; resuming after block %s",
                    started,
                    cursor.number,
                )
        self._prepared = True
        return cursor

    # -- reorgs ------------------------------------------------------------------------------

    async def find_fork(self) -> int:
        """The highest stored block the node still has on its canonical chain."""
        below: int | None = None
        floor = await self.store.floor()
        while True:
            stored = await self.store.recent_blocks(below, 64)
            if floor is not None:
                stored = [c for c in stored if c.number >= floor]  # older ones cannot be undone
            if not stored:
                raise ReorgTooDeep(
                    f"no indexed block down to the floor {floor} is on the node's chain; the "
                    "reorg is deeper than the retention: re-index"
                )
            headers = await self._headers([c.number for c in stored])
            for candidate in stored:
                header = headers[candidate.number]
                if header is not None and header.hash == candidate.hash:
                    return candidate.number
            below = stored[-1].number

    async def recover(self) -> Cursor:
        """Roll the index back to the fork point with the node's canonical chain."""
        before = await self.store.cursor()
        fork = await self.find_fork()
        cursor = await self.store.rollback_to(fork)
        if before is not None and before.number != cursor.number:
            self.reorgs += 1
            log.warning(
                "reorg: indexed tip %s (%s) orphaned; rolled back to block %s",
                before.number,
                before.hash,
                fork,
            )
        return cursor

    # -- backfill ----------------------------------------------------------------------------

    async def backfill(
        self,
        to_block: int | None = None,
        progress: ProgressCallback | None = None,
        *,
        bulk: bool | None = None,
    ) -> Cursor | None:
        """Index up to ``to_block`` (default: head - confirmations); returns the cursor.

        ``bulk`` (default: when more than ``bulk_threshold`` blocks are left) drops the
        store's query indexes for the run and builds them at the end; a run that is killed
        stays in bulk mode until a later backfill finishes.
        """
        failures = recoveries = 0
        while True:
            try:
                head = await self._latest()
                tip = await self._prepare()
                if tip is not None:
                    at_tip = await self._header(tip.number)
                    if at_tip is None or at_tip.hash != tip.hash:
                        raise _Orphaned(f"indexed block {tip.number} is no longer canonical")
                target = head.number - self.confirmations
                if to_block is not None:
                    if to_block > head.number:
                        log.warning("block %s is above the head %s", to_block, head.number)
                    target = min(to_block, target)
                after = self.start_block - 1 if tip is None else tip.number
                use_bulk = target - after >= self.bulk_threshold if bulk is None else bulk
                if use_bulk and not await self.store.bulk():
                    log.info("bulk load: query indexes are built when the backfill ends")
                    await self.store.set_bulk(True)
                cursor = await self._backfill_pass(tip, target, head.number, progress)
                if await self.store.bulk():
                    log.info("building the query indexes")
                    await self.store.set_bulk(False)
                return cursor
            except (_Orphaned, ChainMismatch) as exc:
                log.info("backfill: %s; looking for the fork point", exc)
                recoveries += 1
                if recoveries > 100:
                    raise IndexerError(f"the chain keeps reorganizing under us: {exc}") from exc
                try:
                    await self.recover()
                except (_Transient, _Inconsistent) as again:
                    failures = await self._failed(failures, again)
            except (_Transient, _Inconsistent) as exc:
                failures = await self._failed(failures, exc)

    async def _failed(self, failures: int, exc: Exception) -> int:
        cursor = await self.store.cursor()
        if cursor is not None and cursor.number != self._failure_mark:
            self._failure_mark = cursor.number  # progress since the last failure
            failures = 0
        failures += 1
        if failures > self.max_failures:
            raise IndexerError(f"giving up after {failures} failures: {exc}") from exc
        log.warning("index: %s (attempt %s)", exc, failures)
        await asyncio.sleep(self.retry_delay * min(failures, 10))
        return failures

    async def _backfill_pass(
        self,
        tip: Cursor | None,
        target: int,
        head: int,
        progress: ProgressCallback | None,
    ) -> Cursor | None:
        next_start = self.start_block if tip is None else tip.number + 1
        first = next_start
        slots: deque[_Slot] = deque()
        commit: asyncio.Task[None] | None = None
        ready: list[_Range] = []  # fetched, checked, waiting for the writer
        ready_logs = ready_blocks = 0

        def fill() -> None:
            nonlocal next_start
            running = 0
            for slot in slots:
                if slot.task is None and running < self.concurrency:
                    slot.task = asyncio.ensure_future(self._fetch_range(slot.start, slot.end))
                if slot.task is not None:
                    running += 1
            while running < self.concurrency and next_start <= target:
                end = min(target, next_start + self.sizer.size - 1)
                slot = _Slot(next_start, end)
                slot.task = asyncio.ensure_future(self._fetch_range(next_start, end))
                slots.append(slot)
                running += 1
                next_start = end + 1

        try:
            fill()
            while slots:
                slot = slots[0]
                assert slot.task is not None
                try:
                    result = await slot.task
                except _TooLarge as exc:
                    slots.popleft()
                    self.sizer.shrink(slot.end - slot.start + 1, exc.hint)
                    if slot.start == slot.end:
                        slot.failures += 1
                        if slot.failures > self.max_failures:
                            raise IndexerError(
                                f"eth_getLogs fails even for block {slot.start} alone: {exc}"
                            ) from exc
                        await asyncio.sleep(self.retry_delay * slot.failures)
                    log.debug(
                        "blocks %s..%s: %s; range now %s",
                        slot.start,
                        slot.end,
                        exc,
                        self.sizer.size,
                    )
                    pieces = []
                    start = slot.start
                    while start <= slot.end:
                        end = min(slot.end, start + self.sizer.size - 1)
                        pieces.append(_Slot(start, end, failures=slot.failures))
                        start = end + 1
                    slots.extendleft(reversed(pieces))
                    fill()
                    continue
                except (_Transient, _Inconsistent) as exc:
                    slot.failures += 1
                    if slot.failures > self.max_failures:
                        raise IndexerError(
                            f"blocks {slot.start}..{slot.end}: giving up after "
                            f"{slot.failures} failures: {exc}"
                        ) from exc
                    log.warning("blocks %s..%s: %s; retrying", slot.start, slot.end, exc)
                    await asyncio.sleep(self.retry_delay * slot.failures)
                    slot.task = None
                    fill()
                    continue
                slots.popleft()
                if tip is not None and result.prev_hash not in (None, tip.hash):
                    raise _Orphaned(
                        f"block {tip.number} is now {result.prev_hash}, we indexed {tip.hash}"
                    )
                self.sizer.record(result.end - result.start + 1, result.logs, result.seconds)
                tip = result.cursor
                # Ranges that arrive while a commit runs go into the next one, together: big
                # commits are much cheaper per log, and the writer sets the pace.
                ready.append(result)
                ready_logs += result.logs
                ready_blocks += len(result.blocks)
                busy = commit is not None and not commit.done()
                if not busy or ready_logs >= self.commit_logs or ready_blocks >= 10_000:
                    if commit is not None:
                        await commit
                    commit = asyncio.ensure_future(
                        self._commit(ready, head, first, target, progress)
                    )
                    ready, ready_logs, ready_blocks = [], 0, 0
                fill()
            if commit is not None:
                last_commit, commit = commit, None
                await last_commit
            if ready:
                await self._commit(ready, head, first, target, progress)
            return tip
        finally:
            pending = [slot.task for slot in slots if slot.task is not None]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            if commit is not None:
                # Something else failed: still let the queued (valid) commit finish.
                with contextlib.suppress(Exception):
                    await commit

    async def _commit(
        self,
        ranges: list[_Range],
        head: int,
        first: int,
        target: int,
        progress: ProgressCallback | None,
    ) -> None:
        blocks = [block for r in ranges for block in r.blocks]
        cursor = ranges[-1].cursor
        await self.store.apply(blocks, cursor, head=max(head, self.head or 0))
        logs = sum(r.logs for r in ranges)
        self.ranges += len(ranges)
        self.logs += logs
        if progress is not None:
            progress(
                ProgressEvent(
                    first_block=first,
                    target_block=target,
                    range_start=ranges[0].start,
                    range_end=ranges[-1].end,
                    logs=logs,
                    range_size=self.sizer.size,
                )
            )

    async def _fetch_range(self, start: int, end: int) -> _Range:
        began = time.monotonic()
        log_filter = {"fromBlock": hex(start), "toBlock": hex(end), "topics": [TRANSFER_TOPIC]}
        try:
            # Our deadline, not the client's: the client would retry a timed-out read, and a
            # range too big to answer in time should be split instead. Its own timeout is
            # set later so that it never races ours (and swallows the cancellation).
            async with asyncio.timeout(self.log_timeout):
                before, answer = await self.rpc.batch(
                    [
                        ("eth_getBlockByNumber", [hex(end), False]),
                        ("eth_getLogs", [log_filter]),
                    ],
                    timeout=self.log_timeout * 2 + 1,
                )
        except TimeoutError:
            raise _TooLarge(f"eth_getLogs timed out after {self.log_timeout} s") from None
        except CatalogError as exc:
            if exc.error is NODE_TIMEOUT:
                raise _TooLarge(f"eth_getLogs timed out: {exc}") from None
            raise _Transient(str(exc)) from None
        seconds = time.monotonic() - began
        if isinstance(answer, RpcError):
            kind = classify_logs_error(answer)
            if kind == "too_large":
                raise _TooLarge(answer.message, suggested_range(answer))
            if is_missing_history(answer):  # never comes back: say so instead of retrying
                raise IndexerError(
                    f"the node no longer has the logs of blocks {start}-{end} "
                    f"({answer.message[:200]}); index from an archive node or set "
                    "index_start_block above its pruned history"
                )
            raise _Transient(f"eth_getLogs: {answer.code} {answer.message}")
        if isinstance(before, RpcError) or before is None:
            raise _Transient(f"block {end} not available yet")
        end_before = self._parse_header(before)
        groups, count = group_transfer_logs(answer, start, end)
        wanted = set(groups) | {end}
        if start > 0:
            wanted.add(start - 1)
        headers = await self._headers(sorted(wanted))
        end_header = headers[end]
        if end_header is None or end_header.hash != end_before.hash:
            raise _Inconsistent(f"block {end} changed while its range was read")
        blocks: list[BlockLogs] = []
        for number in sorted(set(groups) | {end}):
            header = headers[number]
            if header is None:
                raise _Inconsistent(f"block {number} vanished while its range was read")
            group = groups.get(number)
            if group is not None and group[0] != header.hash:
                raise _Inconsistent(f"logs of block {number} are from an orphaned block")
            blocks.append(
                BlockLogs(
                    number, header.hash, header.parent_hash, [] if group is None else group[1]
                )
            )
        prev = headers.get(start - 1) if start > 0 else None
        return _Range(start, end, blocks, None if prev is None else prev.hash, count, seconds)

    # -- follow ------------------------------------------------------------------------------

    async def poll(self, progress: ProgressCallback | None = None) -> int:
        """One step at the head: handle a reorg, index new blocks; returns blocks indexed."""
        tip = await self._prepare()
        calls: list[tuple[str, list[Any]]] = [("eth_getBlockByNumber", ["latest", False])]
        if tip is not None:
            calls.append(("eth_getBlockByNumber", [hex(tip.number), False]))
        try:
            answers = await self.rpc.batch(calls)
        except CatalogError as exc:
            raise _Transient(str(exc)) from None
        if isinstance(answers[0], RpcError) or answers[0] is None:
            raise _Transient("node has no latest block")
        head = self._parse_header(answers[0])
        self.head = head.number
        if tip is not None:
            at_tip = answers[1]
            if isinstance(at_tip, RpcError):
                raise _Transient(f"eth_getBlockByNumber({tip.number}): {at_tip.message}")
            if at_tip is None or self._parse_header(at_tip).hash != tip.hash:
                tip = await self.recover()
        target = head.number - self.confirmations
        next_number = self.start_block if tip is None else tip.number + 1
        if target < next_number:
            return 0
        if target - next_number + 1 > self.catchup_threshold:
            after = await self._backfill_pass(tip, target, head.number, progress)
            return 0 if after is None else after.number - next_number + 1
        numbers = list(range(next_number, min(target, next_number + self.follow_batch - 1) + 1))
        headers = await self._headers(numbers)
        chain: list[Header] = []
        parent = None if tip is None else tip.hash
        for number in numbers:
            header = headers[number]
            if header is None:
                break
            if parent is not None and header.parent_hash != parent:
                if not chain:
                    await self.recover()  # the tip was orphaned just now
                    return 0
                break  # a reorg while we read: index the linked part, the rest next time
            chain.append(header)
            parent = header.hash
        if not chain:
            return 0
        try:
            answers = await self.rpc.batch(
                [
                    ("eth_getLogs", [{"blockHash": h.hash, "topics": [TRANSFER_TOPIC]}])
                    for h in chain
                ],
                timeout=self.log_timeout,
            )
        except CatalogError as exc:
            raise _Transient(str(exc)) from None
        blocks: list[BlockLogs] = []
        count = 0
        for header, answer in zip(chain, answers, strict=True):
            if isinstance(answer, RpcError):
                if not blocks:
                    raise _Transient(f"eth_getLogs(block {header.hash}): {answer.message}")
                break  # orphaned meanwhile (unknown block)? index up to it, retry the rest
            groups, n = group_transfer_logs(
                answer, header.number, header.number, pinned=header.hash
            )
            transfers = groups[header.number][1] if groups else []
            blocks.append(BlockLogs(header.number, header.hash, header.parent_hash, transfers))
            count += n
        if not blocks:
            return 0
        last = blocks[-1]
        await self.store.apply(blocks, Cursor(last.number, last.hash), head=head.number)
        self.logs += count
        if progress is not None:
            progress(
                ProgressEvent(
                    first_block=next_number,
                    target_block=target,
                    range_start=blocks[0].number,
                    range_end=last.number,
                    logs=count,
                    range_size=len(blocks),
                )
            )
        return len(blocks)

    async def follow(
        self,
        poll_interval: float = 1.0,
        stop: asyncio.Event | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Backfill to the head, then keep up with it until ``stop`` is set (or cancelled)."""
        stop = stop or asyncio.Event()
        await self.backfill(progress=progress)
        failures = 0
        while not stop.is_set():
            try:
                indexed = await self.poll(progress)
                failures = 0
            except (_Transient, _Inconsistent, _Orphaned, ChainMismatch) as exc:
                failures += 1
                log.warning("index follow: %s (attempt %s)", exc, failures)
                indexed = 0
                await asyncio.sleep(min(self.retry_delay * failures, 30.0))
                continue
            if indexed:
                continue  # maybe more blocks waiting
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_interval)
