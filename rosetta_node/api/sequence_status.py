"""Sequence gateway service methods: ``GetChains``, ``Ping``, ``Version``, ``RuntimeStatus``."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from .. import __version__
from ..index.service import TokenService
from .sequence_answers import (
    BackendStatus,
    ChainInfo,
    ChainsAnswer,
    GatewayBackendResponseTime,
    PingAnswer,
    RuntimeStatus,
    RuntimeStatusAnswer,
    Version,
    VersionAnswer,
)
from .sequence_fanout import chain_id_of
from .sequence_wire import GetChainsRequest, NoArguments

# Upstream schema this translator follows (go-sequence services/indexer, sequence-indexer).
WEBRPC_VERSION = "v1"
SCHEMA_VERSION = "v0.4.0"
# The schema of @0xsequence/indexer 3.0.13 (its indexergw.gen.ts WebrpcSchemaHash), whose
# generated types tests/test_sequence_client.py checks every answer against.
SCHEMA_HASH = "212120aad9a46e88ead9a2183c5717e9902d8c2b"
# Upstream measures each backend's response times; we proxy no backends: none measured.
NO_RESPONSE_TIMES = GatewayBackendResponseTime(percentiles={}, average=0)


async def chains(tokens: TokenService, request: GetChainsRequest) -> ChainsAnswer:
    return ChainsAnswer(
        chains=[
            ChainInfo(chainId=e.chain_id, chainName=e.identifier.network)
            for e in tokens.all()
            if e.chain_id is not None and e.identifier is not None
        ]
    )


async def ping(request: NoArguments) -> PingAnswer:
    return PingAnswer(status=True)


async def version(request: NoArguments) -> VersionAnswer:
    return VersionAnswer(
        version=Version(
            webrpcVersion=WEBRPC_VERSION,
            schemaVersion=SCHEMA_VERSION,
            schemaHash=SCHEMA_HASH,
            appVersion=f"rosetta-node {__version__}",
        )
    )


async def runtime_status(
    tokens: TokenService, started: float, request: NoArguments
) -> RuntimeStatusAnswer:
    """Healthy when no chain has a problem; ``started``: the gateway's start (epoch seconds)."""
    engines = tokens.all()
    statuses = await asyncio.gather(*(tokens.index_of(e).status() for e in engines))
    backends = []
    for engine, status in zip(engines, statuses, strict=True):
        cursor = status.cursor
        backends.append(
            BackendStatus(
                name=engine.name,
                chainId=chain_id_of(engine),
                responseTime=NO_RESPONSE_TIMES,
                connected=engine.connected,
                problems=([] if engine.connected else ["node not connected"]) + status.problems,
                indexedBlockNumber=None if cursor is None else cursor.number,
                indexedBlockHash=None if cursor is None else cursor.hash.lower(),
            )
        )
    start = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    return RuntimeStatusAnswer(
        status=RuntimeStatus(
            healthOK=all(not b.problems for b in backends),
            startTime=start.replace("+00:00", "Z"),
            uptime=int(time.time() - started),
            ver=__version__,
            branch="",
            commitHash="",
            backends=backends,
        )
    )
