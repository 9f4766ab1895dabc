"""The Mempool API group: pending transaction hashes and their expected value moves."""

from __future__ import annotations

from typing import Any

from ..addresses import is_hash
from ..errors import INVALID_REQUEST, MEMPOOL_TX_NOT_FOUND, NODE_ERROR, CatalogError
from ..types import (
    MempoolResponse,
    MempoolTransactionRequest,
    MempoolTransactionResponse,
    NetworkRequest,
    Transaction,
    TransactionIdentifier,
)
from .chain import hex_int
from .node import Networks
from .node_client import NodeClient
from .oplist import CALL, CREATE, OperationList


def _pending_hashes(content: Any) -> list[str]:
    if not isinstance(content, dict):
        raise CatalogError(NODE_ERROR, {"reason": "txpool_content is not an object"})
    hashes: list[str] = []
    for section in ("pending", "queued"):
        for by_nonce in (content.get(section) or {}).values():
            for tx in by_nonce.values():
                if isinstance(tx, dict) and isinstance(tx.get("hash"), str):
                    hashes.append(tx["hash"].lower())
    return sorted(set(hashes))


class MempoolService:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    async def mempool(self, request: NetworkRequest) -> MempoolResponse:
        engine = self.networks.get(request.network_identifier)
        content = await engine.node.one(NodeClient.txpool_content())
        return MempoolResponse(
            transaction_identifiers=[
                TransactionIdentifier(hash=h) for h in _pending_hashes(content)
            ]
        )

    async def transaction(self, request: MempoolTransactionRequest) -> MempoolTransactionResponse:
        engine = self.networks.get(request.network_identifier)
        tx_hash = request.transaction_identifier.hash
        if not is_hash(tx_hash):
            raise CatalogError(
                INVALID_REQUEST,
                {"field": "transaction_identifier.hash", "reason": "not 32 bytes of 0x-hex"},
            )
        tx = await engine.node.one(NodeClient.transaction(tx_hash.lower()))
        if not isinstance(tx, dict) or tx.get("blockHash"):
            raise CatalogError(MEMPOOL_TX_NOT_FOUND, {"transaction": tx_hash})
        ops = OperationList()
        value = hex_int(tx.get("value", "0x0"), "value")
        if value:
            # Only the top-level value move can be predicted before execution; no status yet.
            op_type = CALL if tx.get("to") else CREATE
            ops.transfer(
                op_type, tx["from"], tx.get("to"), value, engine.currencies.native, status=None
            )
        return MempoolTransactionResponse(
            transaction=Transaction(
                transaction_identifier=TransactionIdentifier(hash=tx_hash.lower()),
                operations=ops.items,
                metadata={
                    "nonce": hex_int(tx.get("nonce", "0x0"), "nonce"),
                    "gas": str(hex_int(tx.get("gas", "0x0"), "gas")),
                },
            )
        )
