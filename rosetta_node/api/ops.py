"""Operator routes (/healthz, /readyz, /metrics) and the request middleware behind metrics
and request ids."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from importlib.resources import files
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import Engine
from ..index.service import TokenService
from ..logs import request_id
from ..metrics import LATENCY, REGISTRY, REQUESTS

log = logging.getLogger("rosetta_node.access")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    tokens: TokenService = request.app.state.tokens
    max_age = engine.settings.server.ready_max_head_age
    nets = engine.networks.all()
    problems = await asyncio.gather(*(n.readiness(max_age) for n in nets))
    statuses = await asyncio.gather(*(tokens.index_of(n).status() for n in nets))
    problems = [p + s.problems for p, s in zip(problems, statuses, strict=True)]
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
    ready = all(not p for p in problems)
    return JSONResponse({"ready": ready, "networks": networks}, status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    tokens: TokenService = request.app.state.tokens
    for index in tokens.indexes.values():
        if index.configured:
            await index.status()  # sets the index head and lag gauges
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


_NODE_CODES = frozenset({*range(20, 30), 32})  # Rosetta catalog: node and index trouble


def _outcome(path: str, status: int, code: Any) -> str:
    if status < 400:
        return "ok"
    if path.startswith(("/rpc/", "/v1/")):  # translators: the HTTP status says it
        if status in (408, 502, 503, 504):
            return "node_error"
        return "internal_error" if status >= 500 else "client_error"
    # Rosetta answers every error with HTTP 500: the catalog code says what it was.
    if code in _NODE_CODES:
        return "node_error"
    if code == 30 or not isinstance(code, int):
        return "internal_error"
    return "client_error"


class RequestMiddleware:
    """Request id (from X-Request-Id or new), latency and outcome metrics, one access line."""

    def __init__(self, app: ASGIApp, routes: set[str]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in self.routes else "other"
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        body_code: list[Any] = [None]

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            elif message["type"] == "http.response.body" and status >= 400 and body_code[0] is None:
                body = message.get("body", b"")
                marker = body.find(b'"code":')
                if marker >= 0:
                    digits = body[marker + 7 : marker + 14].split(b",")[0].strip()
                    body_code[0] = int(digits) if digits.lstrip(b"-").isdigit() else None
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            REQUESTS.labels(route, _outcome(path, status, body_code[0])).inc()
            LATENCY.labels(route).observe(elapsed)
            if route not in ("/metrics", "/healthz", "/readyz", "/openapi.json"):
                log.info(
                    "%s %s %d %.1fms",
                    scope.get("method"),
                    path,
                    status,
                    elapsed * 1000,
                    extra={"status": status, "route": route, "ms": round(elapsed * 1000, 2)},
                )
            request_id.reset(token)
