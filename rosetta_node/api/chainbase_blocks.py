"""Chainbase block and transaction routes: ``/v1/block/number/latest``, ``/v1/block/detail``,
``/v1/tx/detail``; and the TxDetail shape ``/v1/account/txs`` shares.

From the engine's block data (the block with its receipts, one block hash: cached by hash),
not the history: these answer from the node alone. Every answer names its block: the head,
the block asked for, the transaction's block. Records (:mod:`~rosetta_node.engine.records`)
are reshaped here only: vendor field names, ISO 8601 UTC times, decimal ``value`` strings.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.responses import Response

from ..engine.node import NetworkEngine
from ..engine.records import (
    BlockRecord,
    TxRecord,
    block_record,
    iso_time,
    locate_transaction,
    transaction_count,
    tx_record,
)
from ..index.service import TokenService
from ..types import PartialBlockIdentifier
from .chainbase import Params, ok
from .chainbase_wire import ApiError

MAX_TX_INDEX = 2**31 - 1


def block_json(record: BlockRecord) -> dict[str, Any]:
    out = dataclasses.asdict(record)
    out["timestamp"] = iso_time(record.timestamp)
    out["difficulty"] = str(record.difficulty)
    return out


def tx_json(record: TxRecord) -> dict[str, Any]:
    out = dataclasses.asdict(record)
    del out["block_hash"]  # the envelope's block_hash names it
    out["block_timestamp"] = iso_time(record.block_timestamp)
    out["value"] = str(record.value)
    return out


class ChainbaseBlocks:
    def __init__(self, tokens: TokenService) -> None:
        self.tokens = tokens

    async def latest(self, engine: NetworkEngine, params: Params) -> Response:
        header = await self.tokens.block(engine, None)
        return ok({"number": header.number, "hash": header.hash}, header)

    async def block_detail(self, engine: NetworkEngine, params: Params) -> Response:
        number = params.block("number", required=True)
        assert number is not None
        engine.require_ready()
        data = await engine.chain.block_data(PartialBlockIdentifier(index=number))
        return ok(block_json(block_record(data)), data.header)

    async def tx_detail(self, engine: NetworkEngine, params: Params) -> Response:
        """By ``hash``, else by ``block_number`` and ``tx_index`` (the vendor: hash wins)."""
        tx_hash = params.tx_hash("hash")
        if tx_hash is not None:
            engine.require_ready()
            found = await locate_transaction(engine.chain, tx_hash)
            if found is None:
                raise ApiError(404, f"hash: no mined transaction {tx_hash} on this chain")
            where, index = PartialBlockIdentifier(hash=found[0]), found[1]
        else:
            if params.query.get("block_number") in (None, "") or (
                params.query.get("tx_index") in (None, "")
            ):
                raise ApiError(422, "hash: give hash, or block_number and tx_index")
            number = params.block("block_number", required=True)
            index = params.integer("tx_index", 0, 0, MAX_TX_INDEX)
            engine.require_ready()
            where = PartialBlockIdentifier(index=number)
        data = await engine.chain.block_data(where)
        count = transaction_count(data)
        if index >= count:
            raise ApiError(
                404,
                f"tx_index: block {data.header.number} holds {count} transactions, no {index}",
            )
        return ok(tx_json(tx_record(data, index)), data.header)
