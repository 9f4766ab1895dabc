"""Block lookups for one network: headers, block identifiers and raw block data.

Everything read here is pinned to a block hash as soon as one is known, and everything keyed
by hash is cached (a hash names immutable data). Only the head is looked up by tag, and it is
cached for a fraction of a second at most.

Number -> hash is cached only for blocks at or below the node's ``finalized`` block: those
cannot be reorged, so the mapping is as immutable as a hash (web3.py's rule likewise: never
cache ``latest``, key by hash). Above finalized every lookup asks the node. A read by index of
a deep block is then one round trip (the state batch pinned by the cached hash) instead of two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from cachetools import LRUCache
from eth_hash.auto import keccak

from ..cache import ChainCache
from ..errors import (
    BLOCK_BEFORE_HISTORY,
    BLOCK_MISMATCH,
    BLOCK_NOT_FOUND,
    BLOCK_NOT_YET_AVAILABLE,
    DATA_NOT_YET_AVAILABLE,
    NODE_ERROR,
    CatalogError,
)
from ..types import PartialBlockIdentifier
from .block_data import complete_block
from .forks import ChainRules
from .headers import (
    BlockData,
    Header,
    check_hash,
    check_index,
    hex_int,
    parse_header,
)
from .node_client import Call, NodeClient, NodeError
from .node_errors import state_error

__all__ = [
    "BlockData",
    "Chain",
    "Header",
    "check_hash",
    "check_index",
    "hex_int",
    "parse_header",
    "state_error",
]

log = logging.getLogger(__name__)

# How often the node's finalized block is looked at while requests come in. Finality is
# permanent on a real chain; these two bounds only matter on devnets, where anvil's
# "finalized" (head - 64) can be rewound (evm_revert, anvil_rollback): a rewind is noticed by
# the next look (see _refresh_finalized), and a cache not checked for FINALIZED_MAX_AGE is not
# used at all until it has been.
FINALIZED_REFRESH = 1.0  # seconds
# A block missing this close below the head is a reorg in progress, not pruned history.
REORG_WINDOW = 128
FINALIZED_MAX_AGE = 5.0  # seconds
# Tries of a proven account read (account_at) while the head stays put; 75 ms in all.
PROOF_ATTEMPTS = 4


class Chain:
    def __init__(self, node: NodeClient, cache: ChainCache, trace_timeout: float = 60.0) -> None:
        self.node = node
        self.cache = cache
        self.trace_timeout = trace_timeout
        self._finalized: Header | None = None  # the node's last answer to "finalized"
        self._finalized_at = -FINALIZED_MAX_AGE  # monotonic time that answer was asked for
        self._generation = 0  # bumped when the canonical cache is dropped
        self._refresh: asyncio.Task[None] | None = None
        # Set from the node's client version (see NetworkEngine.probe) or the configuration.
        self.confirm_head_reads = False
        self._head_number = -1  # the newest head number seen
        self._rootless: LRUCache[str, bool] = LRUCache(256)  # see account_at
        self.rules = ChainRules(source="none (post-merge rules)")  # set once the node is known

    def remember(self, raw: Any) -> Header:
        header = parse_header(raw)
        self.cache.headers[header.hash] = header
        return header

    async def head(self) -> Header:
        cached = self.cache.head.get("head")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        raw = await self.node.one(NodeClient.block("latest"))
        header = self.remember(raw)
        self.cache.head["head"] = header
        self._head_number = header.number  # (lower after a rewind: more checks, never fewer)
        return header

    async def _newest(self) -> int:
        self._head_number = hex_int(await self.node.one(NodeClient.block_number()), "block number")
        return self._head_number

    async def near_head(self, header: Header) -> bool:
        """True where a state read at ``header`` may race the next block (see read_state).

        Two blocks below the head is settled: the node counted the next block (and so moved
        its reads of this one to the block's own state) before it began the one after. The
        head number is asked only when what is known of it does not settle ``header``.
        """
        if not self.confirm_head_reads or header.number <= self._head_number - 2:
            return False
        return header.number > await self._newest() - 2

    async def read_state(
        self, header: Header, calls: list[Call], *, near: bool | None = None
    ) -> list[Any]:
        """State reads pinned to ``header`` in one batch; a failed element is a NodeError.

        anvil serves its head block's state from its live database, so a read racing the next
        block's commit answers with the *next* block's state under the head's hash (measured:
        4% of head reads while a block is mined every 10 ms; geth, reth and erigon read the
        block's own state root). With ``confirm_head_reads``, a read near the head is followed
        by a look at the head number, and made again if a block landed meanwhile. That leaves
        anvil's moment between committing a block's state and counting the block, which a
        starved CPU can stretch; balances and nonces near the head are proven (account_at).
        ``near``: what near_head said of ``header`` just before, if the caller asked.
        """
        if not calls:
            return []
        if near is None:
            near = await self.near_head(header)
        if not near:
            return await self.node.batch(calls)
        before = self._head_number
        results = await self.node.batch(calls)
        if await self._newest() != before:
            results = await self.node.batch(calls)  # now from the block's own state
        return results

    async def account_at(self, header: Header, address: str) -> tuple[int, int]:
        """(balance, nonce) of ``address`` at ``header``, for a block that may be the head.

        From ``eth_getProof``, the proof's root checked against the block's state root: an
        answer from another state (read_state's race) is refused and asked again. A mismatch
        ends when the node counts the racing block; then ``header`` is settled and its own
        state is served. A mismatch that outlasts the retries with the head unmoved is no race
        but a node whose header root does not describe its state (anvil's genesis header
        carries the empty root): the plain reads then, confirmed as read_state does.
        """
        for attempt in range(0 if header.hash in self._rootless else PROOF_ATTEMPTS):
            try:
                proof = await self.node.one(NodeClient.proof(address, header.pin()))
            except NodeError as exc:
                raise state_error(exc, header) from None
            try:
                top = bytes.fromhex(proof["accountProof"][0][2:])
                balance, nonce = hex_int(proof["balance"]), hex_int(proof["nonce"], "nonce")
            except (KeyError, IndexError, TypeError, ValueError):
                reason = {"reason": "malformed eth_getProof answer"}
                raise CatalogError(NODE_ERROR, reason) from None
            if "0x" + keccak(top).hex() == header.state_root:
                return balance, nonce
            if await self._newest() != header.number:
                break  # a block landed: this one's own state is served from now on
            await asyncio.sleep(0.005 * 2**attempt)
        else:
            self._rootless[header.hash] = True  # (once a block: not 75 ms a request)
        pin = header.pin()
        answers = await self.read_state(
            header,
            [NodeClient.balance(address, pin), NodeClient.nonce(address, pin)],
            near=True,
        )
        for answer in answers:
            if isinstance(answer, NodeError):
                raise state_error(answer, header)
        return hex_int(answers[0], "balance"), hex_int(answers[1], "nonce")

    async def _lookup(self, call: Call) -> Any:
        """One block lookup; where head reads are checked, the head number rides along (in
        the same POST), so near_head rarely has to ask for it alone."""
        if not self.confirm_head_reads:
            return await self.node.one(call)
        answer, newest = await self.node.batch([call, NodeClient.block_number()])
        if not isinstance(newest, NodeError):
            self._head_number = hex_int(newest, "block number")
        if isinstance(answer, NodeError):
            raise answer
        return answer

    async def _raw_by_hash(self, block_hash: str, full: bool) -> dict[str, Any]:
        try:
            raw = await self._lookup(NodeClient.block_by_hash(block_hash, full))
        except NodeError as exc:
            raise CatalogError(
                BLOCK_NOT_FOUND, {"hash": block_hash, "node_error": exc.message}
            ) from None
        if raw is None:
            raise CatalogError(BLOCK_NOT_FOUND, {"hash": block_hash})
        return raw  # type: ignore[no-any-return]

    async def _raw_by_number(self, number: int, full: bool) -> dict[str, Any]:
        try:
            raw = await self._lookup(NodeClient.block(number, full))
        except NodeError:
            raw = None  # nodes answer a future number with an error or with null
        if raw is None:
            raise await self._missing_number(number)
        return raw  # type: ignore[no-any-return]

    async def by_hash(self, block_hash: str) -> Header:
        cached = self.cache.headers.get(block_hash)
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        return self.remember(await self._raw_by_hash(block_hash, False))

    async def by_number(self, number: int) -> Header:
        block_hash = self._canonical(number)
        if block_hash is not None:
            header = self.cache.headers.get(block_hash)
            if header is not None:
                return header  # type: ignore[no-any-return]
            return await self.by_hash(block_hash)
        header, _ = await self._canonical_lookup(number, False)
        return header

    async def _canonical_lookup(self, number: int, full: bool) -> tuple[Header, dict[str, Any]]:
        """Block ``number`` from the node, its number -> hash learnt where final."""
        # Decide cacheability before asking: only a block already final when the question
        # is sent is sure to be the block the answer describes, whatever happens meanwhile.
        limit, generation = self._finality(), self._generation
        block = await self._raw_by_number(number, full)
        header = self.remember(block)
        self._learn_canonical(header, limit, generation)
        return header, block

    def _canonical(self, number: int) -> str | None:
        """The cached hash of finalized block ``number``, or None (not final, not known)."""
        if number > self._finality():
            return None
        return self.cache.canonical.get(number)  # type: ignore[no-any-return]

    def _learn_canonical(self, header: Header, limit: int, generation: int) -> None:
        if header.number <= limit and generation == self._generation:
            self.cache.canonical[header.number] = header.hash

    def _finality(self) -> int:
        """The highest block number whose number -> hash may be cached now; -1 for none.

        Looks at the node's finalized block again (in the background: the caller never
        waits for it) when the last look is older than FINALIZED_REFRESH.
        """
        age = time.monotonic() - self._finalized_at
        if age >= FINALIZED_REFRESH and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self._refresh_finalized())
        if self._finalized is None or age >= FINALIZED_MAX_AGE:
            return -1
        return self._finalized.number

    async def _refresh_finalized(self) -> None:
        asked = time.monotonic()
        previous = self._finalized
        calls = [NodeClient.block("finalized")]
        if previous is not None:  # is the last finalized block still canonical?
            calls.append(NodeClient.block(previous.number))
        try:
            answers = await self.node.batch(calls)
            final = None
            if answers[0] is not None and not isinstance(answers[0], NodeError):
                final = parse_header(answers[0])
        except CatalogError as exc:
            log.debug("finalized block not read: %s", exc)
            return  # the cache ages out (FINALIZED_MAX_AGE) if this goes on
        if final is None:  # a node without finality (or not yet): cache nothing by number
            self._drop_canonical(None if previous is None else "the node has no finalized block")
            self._finalized, self._finalized_at = None, asked
            return
        rewound = None
        if previous is not None:
            again = answers[1]
            if final.number < previous.number:
                rewound = f"finalized block went back from {previous.number} to {final.number}"
            elif not isinstance(again, dict) or str(again.get("hash", "")).lower() != previous.hash:
                rewound = f"finalized block {previous.number} is no longer canonical"
        if rewound is None:
            known = self.cache.canonical.get(final.number)
            if known is not None and known != final.hash:
                rewound = f"finalized block {final.number} changed hash"
        if rewound is not None:
            self._drop_canonical(rewound)
        self.cache.headers[final.hash] = final
        self.cache.canonical[final.number] = final.hash
        self._finalized, self._finalized_at = final, asked

    def _drop_canonical(self, reason: str | None) -> None:
        if reason is not None:
            # Finality broken: only a devnet does that (anvil's finalized is head - 64).
            log.warning("dropping cached block numbers: %s", reason)
        self.cache.canonical.clear()
        self._generation += 1

    async def _missing_number(self, number: int) -> CatalogError:
        head = await self.head()
        if number > head.number:
            return CatalogError(BLOCK_NOT_YET_AVAILABLE, {"index": number, "head": head.number})
        if head.number - number < REORG_WINDOW:
            # A recent number the node has no block for, below its head: the chain is being
            # reorganised under us (anvil answers null mid-reorg). Ask again, never "not found".
            return CatalogError(
                DATA_NOT_YET_AVAILABLE,
                {"index": number, "head": head.number, "reason": "chain reorganising"},
            )
        return CatalogError(BLOCK_NOT_FOUND, {"index": number})

    def served(self, number: int) -> int:
        """``number``, if the network serves that block (not before the Bedrock block)."""
        first = self.rules.bedrock_block
        if number < first:
            raise CatalogError(
                BLOCK_BEFORE_HISTORY,
                {
                    "index": number,
                    "oldest_index": first,
                    "reason": "a legacy block from before the Bedrock upgrade",
                },
            )
        return number

    async def resolve(self, partial: PartialBlockIdentifier | None) -> Header:
        """The header named by a partial identifier; neither index nor hash means the head."""
        if partial is None or (partial.index is None and partial.hash is None):
            return await self.head()
        index = None if partial.index is None else self.served(check_index(partial.index))
        if partial.hash is not None:
            header = await self.by_hash(check_hash(partial.hash))
            if index is not None and index != header.number:
                raise CatalogError(
                    BLOCK_MISMATCH,
                    {"index": index, "hash": header.hash, "index_of_hash": header.number},
                )
            self.served(header.number)
            return header
        assert index is not None
        return await self.by_number(index)

    async def block_data(self, partial: PartialBlockIdentifier) -> BlockData:
        """Block, receipts and traces of one block hash; cached by that hash."""
        if partial.hash is not None:
            block_hash = check_hash(partial.hash)
            cached = self.cache.blocks.get(block_hash)
            if cached is None:
                cached = await self._fetch_by_hash(block_hash)
        elif partial.index is not None:
            cached = await self._fetch_by_number(self.served(check_index(partial.index)))
        else:
            head = await self.head()
            cached = self.cache.blocks.get(head.hash) or await self._fetch_by_hash(head.hash)
        if partial.index is not None and partial.index != cached.header.number:
            raise CatalogError(
                BLOCK_MISMATCH,
                {
                    "index": partial.index,
                    "hash": cached.header.hash,
                    "index_of_hash": cached.header.number,
                },
            )
        return cached

    async def _fetch_by_number(self, number: int) -> BlockData:
        block_hash = self._canonical(number)
        if block_hash is not None:
            return self.cache.blocks.get(block_hash) or await self._fetch_by_hash(block_hash)
        header, block = await self._canonical_lookup(number, True)
        cached = self.cache.blocks.get(header.hash)
        if cached is not None:
            return cached
        return await self._complete(header, block)

    async def _fetch_by_hash(self, block_hash: str) -> BlockData:
        block = await self._raw_by_hash(block_hash, True)
        return await self._complete(self.remember(block), block)

    async def _complete(self, header: Header, block: dict[str, Any]) -> BlockData:
        self.served(header.number)
        data = await complete_block(self.node, self.rules, header, block, self.trace_timeout)
        self.cache.blocks[header.hash] = data
        return data
