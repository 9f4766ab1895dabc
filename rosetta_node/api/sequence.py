"""Sequence Indexer Gateway routes (``POST /rpc/IndexerGateway/<Method>``): a thin translator."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..engine import Engine
from ..index.service import TokenService


def sequence_routes(engine: Engine, tokens: TokenService) -> list[BaseRoute]:
    return []
