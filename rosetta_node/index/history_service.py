"""The history at run time: one follower per network, and the query service over it.

:class:`HistoryService` is what the API calls: the Rosetta indexer routes
(:meth:`~HistoryService.events_blocks`, :meth:`~HistoryService.search_transactions`) and, for
the translators, :meth:`~HistoryService.search` and :meth:`~HistoryService.account_history`
with plain query objects. Every answer comes from one read snapshot of the store and names
the history's block it is consistent with. The store alone answers: a node outage does not
stop history answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import msgspec

from ..engine.headers import Header
from ..engine.node import NetworkEngine, Networks
from ..errors import HISTORY_BEHIND, HISTORY_NOT_CONFIGURED, INVALID_REQUEST, CatalogError
from ..metrics import HISTORY_HEAD, HISTORY_LAG
from ..types import (
    BlockEvent,
    BlockIdentifier,
    BlockTransaction,
    EventsBlocksRequest,
    EventsBlocksResponse,
    SearchTransactionsRequest,
    SearchTransactionsResponse,
    Transaction,
)
from . import history_query
from .follower_task import FollowerTask
from .history_follower import HistoryFollower
from .history_model import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    EventPage,
    FoundTransaction,
    HistoryPage,
    HistoryQuery,
    HistoryStore,
    TransferPage,
    TransferQuery,
)
from .model import Cursor
from .open import open_history_store

log = logging.getLogger(__name__)

_decode_tx = msgspec.json.Decoder(Transaction).decode


def transaction_of(found: FoundTransaction) -> Transaction:
    """The transaction as /block gave it."""
    return _decode_tx(found.body)


def _identifier(cursor: Cursor | None) -> BlockIdentifier | None:
    return None if cursor is None else BlockIdentifier(index=cursor.number, hash=cursor.hash)


def _check_reached(engine: NetworkEngine, cursor: Cursor | None, max_block: int | None) -> None:
    """HISTORY_BEHIND when nothing is indexed yet or ``max_block`` is above the cursor."""
    if cursor is None:
        raise CatalogError(HISTORY_BEHIND, {"network": engine.name, "indexed": None})
    if max_block is not None and max_block > cursor.number:
        raise CatalogError(
            HISTORY_BEHIND, {"network": engine.name, "block": max_block, "indexed": cursor.number}
        )


class NetworkHistory(FollowerTask[HistoryStore, HistoryFollower]):
    """One network's history: its store and the follower task keeping it at the head."""

    what = "history"
    head_gauge = HISTORY_HEAD
    lag_gauge = HISTORY_LAG

    def __init__(self, engine: NetworkEngine) -> None:
        super().__init__(engine, engine.settings.history)

    async def _open(self) -> HistoryStore:
        return open_history_store(self.settings, self.engine.name)

    def _follower(self, store: HistoryStore) -> HistoryFollower:
        return HistoryFollower(
            self.engine,
            store,
            self.settings.history_start_block,
            self.settings.index_confirmations,
        )


class HistoryService:
    """History answers for every configured network."""

    def __init__(self, networks: Networks) -> None:
        self.networks = networks
        self.histories = {id(e): NetworkHistory(e) for e in networks.all()}

    def start(self) -> None:
        for history in self.histories.values():
            history.start()

    async def stop(self) -> None:
        for history in self.histories.values():
            await history.stop()

    def _store(self, engine: NetworkEngine) -> HistoryStore:
        history = self.histories[id(engine)]
        if not history.configured:
            raise CatalogError(HISTORY_NOT_CONFIGURED, {"network": engine.name})
        if history.store is None:
            raise CatalogError(
                HISTORY_BEHIND, {"network": engine.name, "reason": history.problem or "opening"}
            )
        return history.store

    # -- for the translators -------------------------------------------------------------------

    async def search(self, engine: NetworkEngine, query: HistoryQuery) -> HistoryPage:
        """One page of the transactions ``query`` matches, newest first, with the history's
        cursor it was read at. HISTORY_BEHIND when nothing is indexed yet or ``max_block`` is
        above the cursor."""
        page = await self._store(engine).search(query)
        _check_reached(engine, page.cursor, query.max_block)
        return page

    async def transfers(self, engine: NetworkEngine, query: TransferQuery) -> TransferPage:
        """One page of the ERC-20 transfers ``query`` matches, newest first (block,
        transaction, log), with the cursor it was read at; HISTORY_BEHIND as search."""
        page = await self._store(engine).transfers(query)
        _check_reached(engine, page.cursor, query.max_block)
        return page

    async def account_history(
        self,
        engine: NetworkEngine,
        account: str,
        *,
        currency: str | None = None,
        max_block: int | None = None,
        offset: int = 0,
        limit: int = DEFAULT_LIMIT,
    ) -> HistoryPage:
        """Transactions with an operation on ``account`` (any case), of ``currency`` when
        given ("" the native coin, else a contract address), newest first."""
        if not 0 <= limit <= MAX_LIMIT or offset < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "bad offset or limit"})
        query = HistoryQuery(
            max_block=history_query.number(max_block, "max_block"),
            offset=offset,
            limit=limit,
            account=history_query.address(account, "account"),
            currency=currency and history_query.address(currency, "currency"),
        )
        return await self.search(engine, query)

    async def headers(self, engine: NetworkEngine, hashes: Iterable[str]) -> dict[str, Header]:
        """The headers of blocks the history named (timestamps: the history keeps none), from
        the node through the engine's cache by hash."""
        distinct = list(dict.fromkeys(hashes))
        found = await asyncio.gather(*(engine.chain.by_hash(h) for h in distinct))
        return dict(zip(distinct, found, strict=True))

    async def events(self, engine: NetworkEngine, offset: int | None, limit: int) -> EventPage:
        page = await self._store(engine).events(offset, limit)
        if page.max_sequence is None:
            raise CatalogError(HISTORY_BEHIND, {"network": engine.name, "indexed": None})
        return page

    # -- the Rosetta indexer routes ------------------------------------------------------------

    async def events_blocks(self, request: EventsBlocksRequest) -> EventsBlocksResponse:
        engine = self.networks.get(request.network_identifier, ready=False)
        offset, limit = history_query.events_window(request)
        page = await self.events(engine, offset, limit)
        assert page.max_sequence is not None
        return EventsBlocksResponse(
            max_sequence=page.max_sequence,
            events=[
                BlockEvent(
                    sequence=e.sequence,
                    block_identifier=BlockIdentifier(index=e.number, hash=e.hash),
                    type=e.type,
                )
                for e in page.events
            ],
            block_identifier=_identifier(page.cursor),
        )

    async def search_transactions(
        self, request: SearchTransactionsRequest
    ) -> SearchTransactionsResponse:
        engine = self.networks.get(request.network_identifier, ready=False)
        page = await self.search(engine, history_query.search_query(request, engine.currencies))
        return SearchTransactionsResponse(
            transactions=[
                BlockTransaction(
                    block_identifier=BlockIdentifier(index=t.block_number, hash=t.block_hash),
                    transaction=msgspec.Raw(t.body),
                )
                for t in page.transactions
            ],
            total_count=page.total_count,
            next_offset=page.next_offset,
            block_identifier=_identifier(page.cursor),
        )
