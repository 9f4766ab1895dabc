"""Chainbase history routes: ``/v1/account/txs`` and ``/v1/token/transfers``, from the
history index.

- ``/v1/account/txs``: the transactions with an operation on the address (what
  ``/search/transactions`` finds for it: sent, received, ERC-20 transfers, fees), without a
  block's block-level entry (genesis allocations, withdrawals: no transaction of the chain),
  newest first; each as the vendor's TxDetail, read from the engine's block data of the page's
  blocks (all at once).
- ``/v1/token/transfers``: ERC-20 transfers (one per Transfer log of a tracked token, mints and
  burns included) of ``contract_address`` and/or from or to ``address``, newest first (block,
  transaction, log); paged by transfer in the store.
- ``from_block`` / ``to_block`` bound both (inclusive); without ``to_block`` the answer is read
  at the history's newest block, which ``block_number`` / ``block_hash`` name: send it as
  ``to_block`` with the later pages to page through one snapshot.
- ``from_timestamp`` / ``end_timestamp`` (Unix seconds, inclusive) bound the blocks by their
  time (found on the chain: :mod:`..engine.block_time`), together with the block bounds.
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response

from ..engine.block_time import blocks_between
from ..engine.node import NetworkEngine
from ..engine.records import iso_time, tx_record
from ..index.history_model import HistoryQuery, TransferQuery
from ..index.history_service import HistoryService, transaction_of
from ..index.history_transfers import transfers_of
from ..types import PartialBlockIdentifier
from .chainbase import Paging, Params, ok
from .chainbase_blocks import tx_json
from .chainbase_wire import ApiError

MAX_TIMESTAMP = 2**63 - 1


async def _range(engine: NetworkEngine, params: Params) -> tuple[int | None, int | None]:
    """The inclusive block range of the block and time bounds together."""
    first, last = params.block("from_block"), params.block("to_block")
    if first is not None and last is not None and first > last:
        raise ApiError(422, f"from_block: {first} is above to_block {last}")
    start = params.optional_integer("from_timestamp", 0, MAX_TIMESTAMP)
    end = params.optional_integer("end_timestamp", 0, MAX_TIMESTAMP)
    if start is not None and end is not None and start > end:
        raise ApiError(422, f"from_timestamp: {start} is above end_timestamp {end}")
    if start is None and end is None:
        return first, last
    head = (await engine.chain.head()).number
    after, before = await blocks_between(engine.chain, start, end, head)
    first = after if first is None or (after is not None and after > first) else first
    last = before if last is None or (before is not None and before < last) else last
    # Times no block meets (between two blocks, before the first) give an empty range, which
    # the store answers with no rows.
    if last is not None and last < 0:
        return 1, 0
    return first, last


class ChainbaseHistory:
    def __init__(self, history: HistoryService) -> None:
        self.history = history

    async def account_txs(self, engine: NetworkEngine, params: Params) -> Response:
        address = params.address("address").lower()
        first, last = await _range(engine, params)
        paging = Paging.parse(params)
        query = HistoryQuery(
            max_block=last,
            min_block=first,
            offset=paging.offset,
            limit=paging.limit,
            account=address,
            chain_only=True,
        )
        page = await self.history.search(engine, query)
        assert page.cursor is not None, "the service answers with a cursor"
        hashes = list(dict.fromkeys(t.block_hash for t in page.transactions))
        blocks = await asyncio.gather(
            *(engine.chain.block_data(PartialBlockIdentifier(hash=h)) for h in hashes)
        )
        by_hash = dict(zip(hashes, blocks, strict=True))
        data = [tx_json(tx_record(by_hash[t.block_hash], t.tx_index)) for t in page.transactions]
        count = page.total_count
        return ok(data, page.cursor, count=count, next_page=paging.next_page(count))

    async def token_transfers(self, engine: NetworkEngine, params: Params) -> Response:
        contract = params.optional_address("contract_address")
        address = params.optional_address("address")
        first, last = await _range(engine, params)
        paging = Paging.parse(params)
        query = TransferQuery(
            max_block=last,
            min_block=first,
            offset=paging.offset,
            limit=paging.limit,
            address=address and address.lower(),
            contract=contract and contract.lower(),
        )
        page = await self.history.transfers(engine, query)
        assert page.cursor is not None, "the service answers with a cursor"
        found = [f.transaction for f in page.transfers]
        headers = await self.history.headers(engine, [t.block_hash for t in found])
        moved = {t.hash: {m.op_index: m for m in transfers_of(transaction_of(t))} for t in found}
        data = []
        for row in page.transfers:
            tx = row.transaction
            transfer = moved[tx.hash][row.op_index]
            data.append(
                {
                    "block_number": tx.block_number,
                    "block_timestamp": iso_time(headers[tx.block_hash].timestamp),
                    "transaction_index": tx.tx_index,
                    "log_index": -1 if transfer.log_index is None else transfer.log_index,
                    "transaction_hash": tx.hash,
                    "from_address": transfer.sender,
                    "to_address": transfer.recipient,
                    "value": str(transfer.amount),
                    "contract_address": transfer.contract,
                }
            )
        count = page.total_count
        return ok(data, page.cursor, count=count, next_page=paging.next_page(count))
