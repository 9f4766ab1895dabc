"""The Block API group: a block's balance changes as operations, and single transactions."""

from __future__ import annotations

from ..errors import TRANSACTION_NOT_FOUND, CatalogError
from ..types import (
    Block,
    BlockRequest,
    BlockResponse,
    BlockTransactionRequest,
    BlockTransactionResponse,
    PartialBlockIdentifier,
    Transaction,
)
from .chain import BlockData, check_hash, check_index
from .node import NetworkEngine, Networks
from .operations import block_transactions


class BlockService:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    async def block(self, request: BlockRequest) -> BlockResponse:
        engine = self.networks.get(request.network_identifier)
        data = await engine.chain.block_data(request.block_identifier)
        header = data.header
        return BlockResponse(
            block=Block(
                block_identifier=header.identifier,
                parent_block_identifier=header.parent_identifier,
                timestamp=header.timestamp * 1000,
                transactions=self.transactions(engine, data),
            )
        )

    async def transaction(self, request: BlockTransactionRequest) -> BlockTransactionResponse:
        engine = self.networks.get(request.network_identifier)
        ident = request.block_identifier
        data = await engine.chain.block_data(
            PartialBlockIdentifier(index=check_index(ident.index), hash=check_hash(ident.hash))
        )
        wanted = request.transaction_identifier.hash.lower()
        for tx in self.transactions(engine, data):
            if tx.transaction_identifier.hash == wanted:
                return BlockTransactionResponse(transaction=tx)
        raise CatalogError(
            TRANSACTION_NOT_FOUND,
            {"transaction": request.transaction_identifier.hash[:100], "block": data.header.number},
        )

    @staticmethod
    def transactions(engine: NetworkEngine, data: BlockData) -> list[Transaction]:
        # Operations are derived once per block hash; the BlockData object carries them.
        cached = data.operations
        if cached is None:
            cached = block_transactions(
                data, engine.currencies.native, engine.currencies.tokens, engine.chain.rules
            )
            data.operations = cached
        return cached
