"""Token answers from the index and the node: what the translator routes call.

The index says which (token, account) pairs can hold a balance; the balances themselves come
from ``balanceOf`` at one pinned block (so tokens that move balances without logs still
answer right). Every answer carries the block it was read at. Rows and the pinned block come
from one snapshot of the index, so they agree with each other.

Wire formats are not this module's business: it returns plain objects and raises
:class:`CatalogError`; the translators reshape both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..addresses import checksum, parse_address
from ..engine.balances import Want, erc20_balance, read_account, token_values
from ..engine.chain import Header
from ..engine.node import NetworkEngine, Networks
from ..engine.token_check import require_tokens
from ..errors import (
    BLOCK_MISMATCH,
    INDEX_BEHIND,
    INDEX_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_REQUEST,
    CatalogError,
)
from .model import IndexStore, Snapshot
from .network_choice import NetworkChoice
from .network_index import IndexStatus, NetworkIndex
from .token_info import TokenInfo, TokenInfos, total_supply

__all__ = [
    "MAX_HOLDERS_SCAN",
    "Answer",
    "HolderBalance",
    "IndexStatus",
    "NetworkIndex",
    "TokenBalance",
    "TokenInfo",
    "TokenService",
    "require_address",
]


T = TypeVar("T")

_Row = tuple[str, int, str]  # account, block of its last change, that block's hash
MAX_HOLDERS_SCAN = 100_000  # holders read for one ranked answer (top holders)


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """What an answer holds, and the block (number and hash) it was read at."""

    block: Header
    items: T


@dataclass(frozen=True, slots=True)
class TokenBalance:
    token: TokenInfo
    account: str  # checksummed
    balance: int
    last_block: int  # the block of the pair's last Transfer log (index)
    last_hash: str


@dataclass(frozen=True, slots=True)
class HolderBalance:
    account: str  # checksummed
    balance: int
    last_block: int
    last_hash: str


def require_address(value: str, field: str) -> str:
    address = parse_address(value)
    if address is None:
        raise CatalogError(
            INVALID_ADDRESS,
            {"field": field, "address": value[:100], "reason": "not 20 bytes of 0x-hex"},
        )
    return address


class TokenService(NetworkChoice):
    """Token balances, holders and balance updates for every configured network."""

    def __init__(self, networks: Networks) -> None:
        super().__init__(networks)
        self.indexes = {id(e): NetworkIndex(e) for e in networks.all()}
        self.infos = TokenInfos()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for index in self.indexes.values():
            index.start()

    async def stop(self) -> None:
        for index in self.indexes.values():
            await index.stop()

    def index_of(self, engine: NetworkEngine) -> NetworkIndex:
        return self.indexes[id(engine)]

    # -- blocks ------------------------------------------------------------------------------

    async def block(self, engine: NetworkEngine, number: int | None) -> Header:
        """The header at ``number`` (None: the head) from the node."""
        engine.require_ready()
        if number is None:
            return await engine.chain.head()
        if number < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "block number must not be negative"})
        return await engine.chain.by_number(number)

    async def _pinned(
        self, engine: NetworkEngine, snapshot: Snapshot[Any], at_block: int | None
    ) -> Header:
        """The block an index answer is read at: the snapshot's cursor, or ``at_block``."""
        cursor = snapshot.cursor
        if cursor is None:
            raise CatalogError(INDEX_BEHIND, {"network": engine.name, "indexed": None})
        if at_block is None or at_block == cursor.number:
            # The index's own block, cached by hash: no lookup by number (a page loop pins
            # every page to the block of the first one).
            return await engine.chain.by_hash(cursor.hash)
        if at_block > cursor.number:
            raise CatalogError(
                INDEX_BEHIND,
                {"network": engine.name, "block": at_block, "indexed": cursor.number},
            )
        return await self.block(engine, at_block)

    def _store(self, engine: NetworkEngine) -> IndexStore:
        engine.require_ready()
        index = self.index_of(engine)
        if not index.configured:
            raise CatalogError(INDEX_NOT_CONFIGURED, {"network": engine.name})
        if index.store is None:
            raise CatalogError(INDEX_BEHIND, {"network": engine.name, "reason": "opening"})
        return index.store

    # -- node reads (engine/balances.py, shared with /account/balance; token_info.py) -------

    async def balances(
        self, engine: NetworkEngine, header: Header, pairs: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        """``balanceOf`` of each (contract, account) at ``header``; None: no ERC-20 answer.

        A contract that reverts or answers garbage is not an ERC-20 at that block (the index
        holds whatever logged a Transfer): its rows are left out, not failed.
        """
        return [erc20_balance(v) for v in await token_values(engine, header, pairs)]

    async def require_tokens(
        self, engine: NetworkEngine, header: Header, contracts: Iterable[str]
    ) -> None:
        """NOT_A_TOKEN (a catalog error) for a named contract that is not an ERC-20 at
        ``header`` (engine/token_check.py decides, for every API)."""
        await require_tokens(engine, header, contracts)

    async def native_balance(self, engine: NetworkEngine, account: str, header: Header) -> int:
        # Always asked of the node (fresh): an answer at the head then also proves the node
        # still serves our chain (the RPC client's chain guard).
        state = await read_account(engine, header, account, Want(native=True), fresh=True)
        assert state.native is not None
        return state.native

    async def token_info(self, engine: NetworkEngine, contract: str, header: Header) -> TokenInfo:
        return await self.infos.info(engine, contract, header)

    async def token_infos(
        self, engine: NetworkEngine, contracts: Iterable[str], header: Header
    ) -> dict[str, TokenInfo]:
        return await self.infos.infos(engine, contracts, header)

    async def total_supply(
        self, engine: NetworkEngine, contract: str, header: Header
    ) -> int | None:
        return await total_supply(engine, contract, header)

    # -- index answers -----------------------------------------------------------------------

    async def account_tokens(
        self,
        engine: NetworkEngine,
        account: str,
        at_block: int | None = None,
        *,
        read_tokens: bool = True,
    ) -> Answer[list[TokenBalance]]:
        """Every token ``account`` ever sent or received, with its balance at the pinned block.

        Zero balances included (the caller filters); contracts that do not answer
        ``balanceOf`` like an ERC-20 are left out. ``read_tokens=False``: only the pinned
        block, for a caller that wants no token (no balance or metadata is read).
        """
        account = require_address(account, "account")
        snapshot = await self._store(engine).account_tokens(account, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        if not read_tokens:
            return Answer(header, [])
        rows = snapshot.rows
        values = await self.balances(
            engine, header, [(checksum(r.contract), account) for r in rows]
        )
        infos = await self.token_infos(engine, (r.contract for r in rows), header)
        out = [
            TokenBalance(infos[checksum(r.contract)], account, value, r.last_block, r.last_hash)
            for r, value in zip(rows, values, strict=True)
            if value is not None
        ]
        return Answer(header, out)

    async def _holder_rows(
        self, engine: NetworkEngine, contract: str, header: Header, rows: Sequence[_Row]
    ) -> list[HolderBalance]:
        """Balances at ``header`` of (account, last block, last hash) rows of one contract."""
        accounts = [checksum(account) for account, _, _ in rows]
        values = await self.balances(engine, header, [(contract, a) for a in accounts])
        return [
            HolderBalance(account, value, number, block_hash)
            for account, (_, number, block_hash), value in zip(accounts, rows, values, strict=True)
            if value is not None
        ]

    async def holders(
        self,
        engine: NetworkEngine,
        contract: str,
        *,
        after: str | None = None,
        limit: int = 100,
        at_block: int | None = None,
    ) -> Answer[list[HolderBalance]]:
        """One page of a contract's holders (accounts that ever held it), in a stable order.

        The next page starts ``after`` the last row's account. Zero balances included.
        """
        contract = require_address(contract, "contract")
        if after is not None:
            after = require_address(after, "after")
        snapshot = await self._store(engine).contract_holders(contract, after, limit, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        rows = [(h.account, h.last_block, h.last_hash) for h in snapshot.rows]
        return Answer(header, await self._holder_rows(engine, contract, header, rows))

    async def holder_count(
        self, engine: NetworkEngine, contract: str, at_block: int | None = None
    ) -> int:
        contract = require_address(contract, "contract")
        return (await self._store(engine).holder_count(contract, at_block)).rows

    async def all_holders(
        self, engine: NetworkEngine, contract: str, at_block: int | None = None
    ) -> Answer[list[HolderBalance]]:
        """Every holder with a non-zero balance at one block (for ranked answers)."""
        contract = require_address(contract, "contract")
        store = self._store(engine)
        snapshot = await store.contract_holders(contract, None, MAX_HOLDERS_SCAN + 1, at_block)
        if len(snapshot.rows) > MAX_HOLDERS_SCAN:
            raise CatalogError(
                INVALID_REQUEST,
                {"reason": f"more than {MAX_HOLDERS_SCAN} holders; page through holders instead"},
            )
        header = await self._pinned(engine, snapshot, at_block)
        rows = [(h.account, h.last_block, h.last_hash) for h in snapshot.rows]
        held = await self._holder_rows(engine, contract, header, rows)
        return Answer(header, [r for r in held if r.balance > 0])

    async def balance_updates(
        self,
        engine: NetworkEngine,
        contract: str,
        last_block: int,
        last_hash: str | None,
        *,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Answer[list[HolderBalance]]:
        """Holders of ``contract`` whose balance changed after ``last_block``, with balances.

        ``(last_block, last_hash)`` is a reorg-safe resume cursor: a non-zero block needs its
        hash, and the hash must still be the canonical one at that number. Ordered by the
        block of the last change, then account; ``page_after`` is the last row's
        ``(last_block, account)``.
        """
        contract = require_address(contract, "contract")
        await self._check_resume(engine, last_block, last_hash)
        store = self._store(engine)
        snapshot = await store.balance_changes(contract, last_block, page_after, limit)
        if snapshot.cursor is not None and last_block > snapshot.cursor.number:
            raise CatalogError(
                INDEX_BEHIND,
                {"network": engine.name, "block": last_block, "indexed": snapshot.cursor.number},
            )
        header = await self._pinned(engine, snapshot, None)
        rows = [(c.account, c.block_number, c.block_hash) for c in snapshot.rows]
        return Answer(header, await self._holder_rows(engine, contract, header, rows))

    async def _check_resume(
        self, engine: NetworkEngine, last_block: int, last_hash: str | None
    ) -> None:
        """A balance-updates cursor must name a canonical block (0 needs no hash)."""
        if last_block < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "lastBlockNumber must not be negative"})
        if last_block == 0:
            return
        if not last_hash:
            raise CatalogError(
                INVALID_REQUEST,
                {"reason": "lastBlockHash is required when lastBlockNumber is not 0"},
            )
        canonical = await self.block(engine, last_block)
        if canonical.hash != last_hash.lower():
            raise CatalogError(
                BLOCK_MISMATCH,
                {
                    "reason": "lastBlockHash is not the canonical block at lastBlockNumber"
                    " (a reorg replaced it; resume from an earlier cursor)",
                    "index": last_block,
                    "hash": last_hash[:80],
                    "canonical_hash": canonical.hash,
                },
            )

    async def holder_accounts(
        self,
        engine: NetworkEngine,
        contract: str,
        *,
        offset: int = 0,
        limit: int = 100,
        at_block: int | None = None,
    ) -> Answer[list[str]]:
        """Holders ``offset .. offset + limit`` in :meth:`holders`' order, without balances.

        For page-number APIs: one snapshot read of ``offset + limit`` rows (at most
        MAX_HOLDERS_SCAN), so the page and its pinned block agree. Zero balances included.
        """
        contract = require_address(contract, "contract")
        if offset < 0 or limit < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "offset and limit must not be negative"})
        if offset + limit > MAX_HOLDERS_SCAN:
            raise CatalogError(
                INVALID_REQUEST, {"reason": f"pages reach at most {MAX_HOLDERS_SCAN} holders deep"}
            )
        store = self._store(engine)
        snapshot = await store.contract_holders(contract, None, offset + limit, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        return Answer(header, [checksum(h.account) for h in snapshot.rows[offset:]])

    async def accounts_tokens(
        self,
        engine: NetworkEngine,
        accounts: Sequence[str],
        at_block: int | None = None,
        *,
        read_tokens: bool = True,
    ) -> Answer[list[TokenBalance]]:
        """:meth:`account_tokens` of several accounts, all read at one block.

        The first account pins the block (the index cursor, or ``at_block``); the others are
        read at that block number. A reorg between the reads (another hash at that number)
        is a retriable error rather than a mixed answer.
        """
        if not accounts:
            raise CatalogError(INVALID_REQUEST, {"reason": "no accounts"})
        first = await self.account_tokens(engine, accounts[0], at_block, read_tokens=read_tokens)
        rest = await asyncio.gather(
            *(
                self.account_tokens(engine, a, first.block.number, read_tokens=read_tokens)
                for a in accounts[1:]
            )
        )
        if any(answer.block.hash != first.block.hash for answer in rest):
            raise CatalogError(
                INDEX_BEHIND, {"network": engine.name, "reason": "reorg while reading; ask again"}
            )
        return Answer(first.block, [item for a in (first, *rest) for item in a.items])
