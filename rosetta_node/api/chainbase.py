"""Chainbase Web3 API routes (``GET /v1/...``): a thin translator.

Query parameters in, the vendor envelope ``{code: 0, message: "ok", data, next_page?,
count?}`` out, plus ``block_number`` and ``block_hash``: the block every answer was read at.
Every answer comes from :class:`TokenService`; this module only checks parameters and
reshapes (hex amounts, lower-case addresses, page-number paging). Failures are
``{code, message, retriable}`` with the HTTP status as ``code`` (:mod:`.chainbase_wire`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..addresses import checksum
from ..engine import Engine
from ..engine.chain import Header
from ..engine.headers import MAX_INDEX
from ..engine.node import NetworkEngine
from ..index.history_service import HistoryService
from ..index.model import Cursor
from ..index.service import MAX_HOLDERS_SCAN, TokenInfo, TokenService
from .access import Access
from .chainbase_wire import ApiError, error_response, from_failure, refused_error
from .guard import Failure, Origin, guard

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

ADDRESS = re.compile(r"0[xX][a-fA-F0-9]{40}")
HASH = re.compile(r"0[xX][a-fA-F0-9]{64}")
MAX_CONTRACTS = 100
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
MAX_PAGE = 10**11


# -- parameters ----------------------------------------------------------------------------


class Params:
    """The query parameters of one request, parsed by the upstream rules (422 otherwise)."""

    def __init__(self, request: Request) -> None:
        self.query = request.query_params
        self.chain: int | None = None  # the chain id, once parsed (error messages name it)

    def _raw(self, name: str, required: bool) -> str | None:
        value = self.query.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(422, f"{name}: required query parameter is missing")
            return None
        return value

    def chain_id(self) -> int:
        raw = self._raw("chain_id", True)
        assert raw is not None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
            raise ApiError(422, f"chain_id: {raw[:40]!r} is not a chain id (a decimal integer)")
        self.chain = int(raw)
        return self.chain

    @staticmethod
    def _address(name: str, raw: str) -> str:
        if not ADDRESS.fullmatch(raw):
            raise ApiError(
                422, f"{name}: {raw[:60]!r} does not match ^0[xX][a-fA-F0-9]{{40}}$ (an address)"
            )
        return checksum("0x" + raw[2:])

    def address(self, name: str) -> str:
        raw = self._raw(name, True)
        assert raw is not None
        return self._address(name, raw)

    def optional_address(self, name: str) -> str | None:
        raw = self._raw(name, False)
        return None if raw is None else self._address(name, raw)

    def addresses(self, name: str) -> list[str] | None:
        """A comma-separated list of at most MAX_CONTRACTS addresses (repeats allowed too)."""
        values = self.query.getlist(name)
        if not values or values == [""]:
            return None
        parts = [p.strip() for v in values for p in v.split(",")]
        if len(parts) > MAX_CONTRACTS:
            raise ApiError(
                422, f"{name}: {len(parts)} addresses given, at most {MAX_CONTRACTS} allowed"
            )
        return list(dict.fromkeys(self._address(name, p) for p in parts))

    def integer(self, name: str, default: int, low: int, high: int | None = None) -> int:
        value = self.optional_integer(name, low, high)
        return default if value is None else value

    def optional_integer(self, name: str, low: int, high: int | None = None) -> int | None:
        raw = self._raw(name, False)
        if raw is None:
            return None
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 18:
            raise ApiError(422, f"{name}: {raw[:40]!r} is not an integer ({bound})")
        value = int(raw)
        if value < low or (high is not None and value > high):
            raise ApiError(422, f"{name}: {value} is out of range ({bound})")
        return value

    def block(self, name: str = "to_block", *, required: bool = False) -> int | None:
        """A decimal or 0x-hex block number, or ``latest`` (None) where the name allows it."""
        raw = self._raw(name, required)
        if raw is None or (name == "to_block" and raw.lower() == "latest"):
            return None
        text = raw.strip()
        try:
            if not text.isascii() or len(text) > 20:
                raise ValueError
            if text[:2] in ("0x", "0X"):
                number = int(text[2:], 16)
            elif text.isdigit():
                number = int(text)
            else:
                raise ValueError
            if number > MAX_INDEX:  # int64, as every block number (the index stores them so)
                raise ValueError
            return number
        except ValueError:
            forms = "decimal, 0x-hex or 'latest'" if name == "to_block" else "decimal or 0x-hex"
            raise ApiError(422, f"{name}: {raw[:40]!r} is not a block number ({forms})") from None

    def tx_hash(self, name: str) -> str | None:
        raw = self._raw(name, False)
        if raw is not None and not HASH.fullmatch(raw):
            raise ApiError(422, f"{name}: {raw[:80]!r} is not a transaction hash (0x + 64 hex)")
        return None if raw is None else "0x" + raw[2:].lower()



# -- reshaping -----------------------------------------------------------------------------


def _hex(value: int) -> str:
    return hex(value)


def _scaled(value: int, decimals: int | None) -> str | None:
    """``value`` in whole tokens as an exact decimal string (None without decimals)."""
    if decimals is None:
        return None
    if decimals == 0:
        return str(value)
    whole, frac = divmod(value, 10**decimals)
    digits = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


def _token_base(info: TokenInfo, total_supply: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "contract_address": info.address.lower(),
        "name": info.name or "",
        "symbol": info.symbol or "",
        "decimals": info.decimals if info.decimals is not None else 0,
    }
    if total_supply is not None:
        out["total_supply"] = _hex(total_supply)
    return out


def ok(
    data: Any, header: Header | Cursor, *, count: int | None = None, next_page: int | None = None
) -> Response:
    body: dict[str, Any] = {"code": 0, "message": "ok", "data": data}
    if next_page is not None:
        body["next_page"] = next_page
    if count is not None:
        body["count"] = count
    body["block_number"] = header.number
    body["block_hash"] = header.hash
    return Response(_encode(body), media_type="application/json")


@dataclass(frozen=True, slots=True)
class Paging:
    page: int
    limit: int

    @classmethod
    def parse(cls, params: Params) -> Paging:
        return cls(
            page=params.integer("page", 1, 1, MAX_PAGE),
            limit=params.integer("limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        )

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def next_page(self, count: int) -> int | None:
        return self.page + 1 if self.page * self.limit < count else None


# -- routes --------------------------------------------------------------------------------

Handler = Callable[[NetworkEngine, Params], Awaitable[Response]]


class Chainbase:
    """The token routes over one TokenService, with API keys and rate limits in front."""

    def __init__(self, tokens: TokenService, access: Access) -> None:
        self.tokens = tokens
        self.access = access

    def route(self, path: str, handler: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            params = Params(request)
            limit: float = request.app.state.request_timeout
            try:
                answer = self.answer(request, params, handler)
                outcome = await guard(answer, path, limit, keep=(ApiError,))
            except ApiError as exc:
                return error_response(exc)
            if not isinstance(outcome, Failure):
                return outcome
            if outcome.origin is Origin.NODE:  # a node error no service mapped
                details = outcome.details or {}
                log.warning(
                    "%s: node error %s on %s", path, details["node_code"], details["method"]
                )
            return error_response(from_failure(outcome, params.chain, limit))

        return Route(path, endpoint, methods=["GET"], name="chainbase " + path)

    async def answer(self, request: Request, params: Params, handler: Handler) -> Response:
        """API key (401) and rate limit (429) first; the key is never echoed nor kept in clear."""
        client = request.client.host if request.client else None
        refused = self.access.admit(request.headers.get("x-api-key"), client)
        if refused is not None:
            raise refused_error(refused, self.access.limiter.per_minute)
        engine = self.tokens.by_chain_id(params.chain_id())
        return await handler(engine, params)

    # -- handlers ------------------------------------------------------------------------

    async def account_tokens(self, engine: NetworkEngine, params: Params) -> Response:
        account = params.address("address")
        contracts = params.addresses("contract_address")
        paging = Paging.parse(params)
        at_block = params.block()
        answer = await self.tokens.account_tokens(engine, account, at_block)
        header = answer.block
        rows = [(t.token, t.balance) for t in answer.items]
        if contracts is not None:
            # Upstream: a contract given by address is asked even if the index never saw the
            # account receive it (non-standard tokens); only ERC-20-like answers are listed.
            # A contract that is not an ERC-20 is the 404 of every token route; a token whose
            # balanceOf fails for this account (reverts, runs out of gas) is left out.
            seen = {info.address: (info, balance) for info, balance in rows}
            asked = [c for c in contracts if c not in seen]
            await self.tokens.require_tokens(engine, header, asked)
            values = await self.tokens.balances(engine, header, [(c, account) for c in asked])
            found = {c: v for c, v in zip(asked, values, strict=True) if v is not None}
            infos = await self.tokens.token_infos(engine, found, header)
            seen.update({c: (infos[c], v) for c, v in found.items()})
            rows = [seen[c] for c in contracts if c in seen]
        rows.sort(key=lambda row: row[0].address.lower())
        page = rows[paging.offset : paging.offset + paging.limit]
        supplies = await asyncio.gather(
            *(self.tokens.total_supply(engine, info.address, header) for info, _ in page)
        )
        data = [
            {**_token_base(info, supply), "balance": _hex(balance)}
            for (info, balance), supply in zip(page, supplies, strict=True)
        ]
        return ok(data, header, count=len(rows), next_page=paging.next_page(len(rows)))

    async def account_balance(self, engine: NetworkEngine, params: Params) -> Response:
        account = params.address("address")
        header = await self.tokens.block(engine, params.block())
        balance = await self.tokens.native_balance(engine, account, header)
        return ok(_hex(balance), header)

    async def token_metadata(self, engine: NetworkEngine, params: Params) -> Response:
        contract = params.address("contract_address")
        header = await self.tokens.block(engine, params.block())
        await self.tokens.require_tokens(engine, header, [contract])
        info, supply = await asyncio.gather(
            self.tokens.token_info(engine, contract, header),
            self.tokens.total_supply(engine, contract, header),
        )
        if not info.listed and supply is None and info.decimals is None and info.symbol is None:
            raise ApiError(
                404,
                f"contract_address: {contract.lower()} is not an ERC-20 token at block"
                f" {header.number} (no totalSupply, decimals or symbol)",
            )
        return ok(_token_base(info, supply), header)

    async def token_holders(self, engine: NetworkEngine, params: Params) -> Response:
        contract = params.address("contract_address")
        paging = Paging.parse(params)
        if paging.offset + paging.limit > MAX_HOLDERS_SCAN:
            raise ApiError(
                400,
                f"page: pages reach at most {MAX_HOLDERS_SCAN} holders deep"
                f" (page {paging.page} of {paging.limit} rows asked)",
            )
        answer = await self.tokens.holder_accounts(
            engine, contract, offset=paging.offset, limit=paging.limit, at_block=params.block()
        )
        await self.tokens.require_tokens(engine, answer.block, [contract])
        count = await self.tokens.holder_count(engine, contract, at_block=answer.block.number)
        data = [account.lower() for account in answer.items]
        return ok(data, answer.block, count=count, next_page=paging.next_page(count))

    async def top_holders(self, engine: NetworkEngine, params: Params) -> Response:
        contract = params.address("contract_address")
        paging = Paging.parse(params)
        answer = await self.tokens.all_holders(engine, contract, params.block())
        await self.tokens.require_tokens(engine, answer.block, [contract])
        info = await self.tokens.token_info(engine, contract, answer.block)
        ranked = sorted(answer.items, key=lambda h: (-h.balance, h.account.lower()))
        data = []
        for holder in ranked[paging.offset : paging.offset + paging.limit]:
            row = {"wallet_address": holder.account.lower(), "original_amount": str(holder.balance)}
            amount = _scaled(holder.balance, info.decimals)
            if amount is not None:
                row["amount"] = amount
            data.append(row)
        count = len(ranked)
        return ok(data, answer.block, count=count, next_page=paging.next_page(count))


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


def chainbase_routes(
    engine: Engine, tokens: TokenService, history: HistoryService, access: Access
) -> list[BaseRoute]:
    # Here, not at the top: these modules build on this one's Params and ok.
    from .chainbase_blocks import ChainbaseBlocks
    from .chainbase_history import ChainbaseHistory

    api = Chainbase(tokens, access)
    blocks, txs = ChainbaseBlocks(tokens), ChainbaseHistory(history)
    routes = [
        api.route("/v1/account/tokens", api.account_tokens),
        api.route("/v1/account/balance", api.account_balance),
        api.route("/v1/token/metadata", api.token_metadata),
        api.route("/v1/token/holders", api.token_holders),
        api.route("/v1/token/top-holders", api.top_holders),
        api.route("/v1/block/number/latest", blocks.latest),
        api.route("/v1/block/detail", blocks.block_detail),
        api.route("/v1/tx/detail", blocks.tx_detail),
        api.route("/v1/account/txs", txs.account_txs),
        api.route("/v1/token/transfers", txs.token_transfers),
    ]
    known = {route.path for route in routes}

    async def fallback(request: Request) -> Response:
        """Unknown /v1/ routes (404) and other methods than GET (405), in the vendor's shape."""
        path = request.url.path
        if path in known:
            message = f"method {request.method[:16]} is not allowed on {path}; use GET"
            return error_response(ApiError(405, message, headers={"Allow": "GET"}))
        return error_response(ApiError(404, f"no route {path[:100]}"))

    return [*routes, Route("/v1/{path:path}", fallback, methods=ANY_METHOD)]
