"""Operator routes: /healthz, /readyz, /metrics and the served OpenAPI document."""

from __future__ import annotations

import asyncio
import functools
from importlib.resources import files
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine import Engine
from ..index.follower_task import Lag
from ..index.history_service import HistoryService
from ..index.service import TokenService
from ..metrics import REGISTRY


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    tokens: TokenService = request.app.state.tokens
    max_age = engine.settings.server.ready_max_head_age
    nets = engine.networks.all()
    problems = await asyncio.gather(*(n.readiness(max_age) for n in nets))
    statuses = await asyncio.gather(*(tokens.index_of(n).status() for n in nets))
    histories = await _histories(request.app.state.history)
    problems = [
        p + s.problems + ([] if h is None else h.problems)
        for p, s, h in zip(problems, statuses, histories, strict=True)
    ]
    networks: list[dict[str, Any]] = [
        {"network": n.name, "ready": not p, "problems": p}
        for n, p in zip(nets, problems, strict=True)
    ]
    for entry, status in zip(networks, statuses, strict=True):
        if status.configured:
            entry["index"] = {
                "block": None if status.cursor is None else status.cursor.number,
                "hash": None if status.cursor is None else status.cursor.hash,
                "head": status.head,
                "lag": status.lag,
            }
    for entry, history in zip(networks, histories, strict=True):
        if history is not None:
            entry["history"] = {
                "block": None if history.cursor is None else history.cursor.number,
                "hash": None if history.cursor is None else history.cursor.hash,
                "head": history.head,
                "lag": history.lag,
            }
    ready = all(not p for p in problems)
    return JSONResponse({"ready": ready, "networks": networks}, status_code=200 if ready else 503)


async def _histories(history: HistoryService) -> list[Lag | None]:
    """Each network's history lag, in network order (None where the history is off)."""
    tasks = list(history.histories.values())
    lags = await asyncio.gather(*(t.lag() for t in tasks if t.configured))
    found = iter(lags)
    return [next(found) if t.configured else None for t in tasks]


async def metrics(request: Request) -> Response:
    tokens: TokenService = request.app.state.tokens
    for index in tokens.indexes.values():
        if index.configured:
            await index.status()  # sets the index head and lag gauges
    await _histories(request.app.state.history)  # and the history's
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@functools.cache
def _openapi() -> bytes:
    # Bundled from specs/ by scripts/build_openapi.py and shipped inside the package.
    return (files("rosetta_node") / "openapi.json").read_bytes()


async def openapi(request: Request) -> Response:
    return Response(_openapi(), media_type="application/json")


def ops_routes() -> list[Route]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
