"""Chainbase Web3 API routes (``GET /v1/...``): a thin translator."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..engine import Engine
from ..index.service import TokenService


def chainbase_routes(engine: Engine, tokens: TokenService) -> list[BaseRoute]:
    return []
