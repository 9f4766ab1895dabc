"""The Network API group: list, status, options."""

from __future__ import annotations

from .. import ROSETTA_VERSION, __version__
from ..errors import CATALOG, NODE_ERROR, NODE_NOT_READY, CatalogError
from ..types import (
    Allow,
    ErrorBody,
    NetworkListResponse,
    NetworkOptionsResponse,
    NetworkRequest,
    NetworkStatusResponse,
    OperationStatus,
    SyncStatus,
    Version,
)
from .call import CALL_METHODS
from .node import Networks
from .node_client import NodeClient, NodeError
from .oplist import OPERATION_STATUSES, OPERATION_TYPES

# The Indexer API routes, served where the history index is on (``history``).
INDEXER_ROUTES = ("/events/blocks", "/search/transactions")

# /network/status must report a head timestamp after 2000-01-01 (what rosetta-cli checks).
MIN_TIMESTAMP_S = 946_684_800

ALLOWED_ERRORS = [
    ErrorBody(code=e.code, message=e.message, retriable=e.retriable, description=e.description)
    for e in CATALOG
]


class NetworkService:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    def list(self) -> NetworkListResponse:
        return NetworkListResponse(
            network_identifiers=[
                e.identifier for e in self.networks.all() if e.identifier is not None
            ]
        )

    async def status(self, request: NetworkRequest) -> NetworkStatusResponse:
        engine = self.networks.get(request.network_identifier)
        head_raw, syncing = await engine.node.batch(
            [NodeClient.block("latest"), NodeClient.syncing()]
        )
        if isinstance(head_raw, NodeError) or head_raw is None:
            raise CatalogError(NODE_ERROR, {"reason": "node did not return its head block"})
        head = engine.chain.remember(head_raw)
        if head.timestamp < MIN_TIMESTAMP_S:
            raise CatalogError(
                NODE_NOT_READY,
                {"reason": "head block has no real timestamp yet", "index": head.number},
            )
        assert engine.genesis is not None  # set by a successful probe
        sync = SyncStatus(current_index=head.number, synced=syncing is False)
        if isinstance(syncing, dict):
            target = syncing.get("highestBlock")
            if isinstance(target, str) and target.startswith("0x"):
                sync.target_index = int(target, 16)
            sync.stage = "syncing"
        first = engine.chain.rules.bedrock_block
        # OP Mainnet: every block from Bedrock on can be fetched, not the legacy ones below.
        oldest = (await engine.chain.by_number(first)).identifier if first else None
        return NetworkStatusResponse(
            current_block_identifier=head.identifier,
            oldest_block_identifier=oldest,
            current_block_timestamp=head.timestamp * 1000,
            genesis_block_identifier=engine.genesis.identifier,
            sync_status=sync,
            peers=[],
        )

    def options(self, request: NetworkRequest) -> NetworkOptionsResponse:
        # Served while the node is still unreachable: clients need the error catalog then most.
        engine = self.networks.get(request.network_identifier, ready=False)
        genesis = engine.genesis
        start_index = 1 if genesis is not None and genesis.timestamp < MIN_TIMESTAMP_S else None
        return NetworkOptionsResponse(
            version=Version(
                rosetta_version=ROSETTA_VERSION,
                node_version=engine.node_version or "unknown",
                middleware_version=__version__,
                # Mesh's Allow has no field for the optional Indexer API: say it here.
                metadata={"indexer_routes": list(INDEXER_ROUTES)}
                if engine.settings.history
                else None,
            ),
            allow=Allow(
                operation_statuses=[
                    OperationStatus(status=s, successful=ok) for s, ok in OPERATION_STATUSES
                ],
                operation_types=list(OPERATION_TYPES),
                errors=ALLOWED_ERRORS,
                historical_balance_lookup=True,
                call_methods=sorted(CALL_METHODS),
                balance_exemptions=[],
                mempool_coins=False,
                timestamp_start_index=start_index,
                # Hashes are answered, stored and searched (/search/transactions) lower-case.
                block_hash_case="lower_case",
                transaction_hash_case="lower_case",
            ),
        )
