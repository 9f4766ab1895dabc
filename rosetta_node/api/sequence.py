"""Sequence Indexer Gateway routes (``POST /rpc/IndexerGateway/<Method>``): a thin translator.

Each method decodes the upstream request, calls :class:`TokenService` (the same engine and
index the Rosetta routes use) and reshapes its answers into the upstream wire objects
(:mod:`.sequence_wire`). No chain logic lives here. The OpenAPI document is
``specs/sequence.yaml``; the decisions on points upstream leaves open are written there.

- Fan-out methods answer one wrapper per selected chain; a chain that cannot answer (node
  down, index behind, ...) gives its ``errorReason`` and the call still succeeds.
  ``GetBalanceUpdates`` reads exactly one chain and answers node trouble with an error.
- Every wrapper carries ``blockNumber``/``blockHash`` (an addition to upstream): the block all
  balances of that chain were read at. Rows carry the block of their last change.
- Paging: ``page.after`` is an opaque cursor string; the answer's ``page`` is what to send
  back for the next page while ``more`` is true. Default page size 200, at most 1000.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec
from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..addresses import ZERO_ADDRESS as ZERO
from ..addresses import is_hash, parse_address
from ..engine import Engine
from ..engine.chain import Header
from ..engine.node import NetworkEngine
from ..errors import (
    BLOCK_MISMATCH,
    BLOCK_NOT_FOUND,
    INDEX_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_BLOCK_IDENTIFIER,
    INVALID_REQUEST,
    MALFORMED_JSON,
    NODE_TIMEOUT,
    UNKNOWN_NETWORK,
    CatalogError,
)
from ..index.service import HolderBalance, TokenInfo, TokenService
from ..rpc import RpcError
from .access import Access, caller_id
from .body import NOT_JSON, read_body
from .sequence_wire import (
    BalanceUpdatesRequest,
    ByContractRequest,
    ChainSelection,
    GetChainsRequest,
    NativeBalanceRequest,
    NoArguments,
    Page,
    TokenBalancesFilter,
    TokenBalancesRequest,
    WebrpcError,
    access_key_not_found,
    bad_method,
    bad_request,
    bad_route,
    from_holder,
    from_token_balance,
    internal_error,
    invalid_argument,
    native_balance,
    rate_limited,
    timeout,
    unauthorized,
    unavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=tuple[Any, ...])
PREFIX = "/rpc/IndexerGateway/"
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
MAX_ACCOUNTS = 100  # accountAddresses per request
MAX_CONTRACTS = 100  # contractAddresses / whitelist / blacklist entries per request
STATUSES = ("VERIFIED", "UNVERIFIED", "ALL")
CONTRACT_TYPES = (
    "UNKNOWN",
    "NATIVE",
    "ERC20",
    "ERC721",
    "ERC1155",
    "SEQUENCE_WALLET",
    "ERC20_BRIDGE",
    "ERC721_BRIDGE",
    "ERC1155_BRIDGE",
    "SEQ_MARKETPLACE",
    "ERC6909",
)
# Upstream schema this translator follows (go-sequence services/indexer, sequence-indexer).
WEBRPC_VERSION = "v1"
SCHEMA_VERSION = "v0.4.0"
SCHEMA_HASH = "12ecb31178000c1165150b0ac0f3a304ccc5a88d"
# Catalog errors that are the client's to fix: InvalidArgument. Node trouble is not.
_CLIENT_ERRORS = {
    INVALID_REQUEST.code,
    INVALID_ADDRESS.code,
    BLOCK_MISMATCH.code,
    UNKNOWN_NETWORK.code,
    INVALID_BLOCK_IDENTIFIER.code,
    BLOCK_NOT_FOUND.code,
}
_encode = msgspec.json.Encoder().encode


# -- errors -------------------------------------------------------------------------------


def reason(exc: CatalogError) -> str:
    """A short, key-free text for a catalog error: its message and the detail that says why."""
    details = exc.details or {}
    text = exc.error.message
    why = details.get("reason")
    if why:
        text += f": {why}"
    extra = [
        f"{k}={v}"
        for k, v in details.items()
        if k not in ("reason", "configured") and isinstance(v, str | int) and len(str(v)) <= 80
    ]
    if extra:
        text += f" ({', '.join(extra)})"
    return text[:400]


def webrpc_of(exc: CatalogError) -> WebrpcError:
    """A catalog error as the webrpc error of a call that failed as a whole."""
    if exc.error.code == MALFORMED_JSON.code:
        return bad_request(reason(exc))
    if exc.error.code in _CLIENT_ERRORS:
        return invalid_argument(reason(exc))
    if exc.error.code == NODE_TIMEOUT.code:
        return timeout(reason(exc))
    if exc.error.code == INDEX_NOT_CONFIGURED.code:  # configuration, not trouble: no retry helps
        return unavailable(reason(exc))
    return internal_error(reason(exc))


def error_response(error: WebrpcError) -> Response:
    return Response(
        _encode(error.body()),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


# -- request checks -----------------------------------------------------------------------


def address(value: str | None, field: str) -> str:
    """A checksummed address; missing or malformed is InvalidArgument naming the field."""
    if value is None or value == "":
        raise invalid_argument(f"{field} is required")
    parsed = parse_address(value)
    if parsed is None:
        raise invalid_argument(f"{field} is not a 20-byte 0x-hex address")
    return parsed


def address_list(
    values: Sequence[str] | None, field: str, *, required: bool = False, limit: int
) -> list[str]:
    values = values or []
    if required and not values:
        raise invalid_argument(f"{field} must name at least one address")
    if len(values) > limit:
        raise invalid_argument(f"{field} holds {len(values)} addresses; at most {limit}")
    out = [address(v, f"{field}[{i}]") for i, v in enumerate(values)]
    return list(dict.fromkeys(out))


def contract_status(value: str | None) -> str:
    """``contractStatus``: omitted, null or "" (the Go client's zero value) mean VERIFIED."""
    if not value:
        return "VERIFIED"
    if value not in STATUSES:
        raise invalid_argument(f"contractStatus must be one of {', '.join(STATUSES)}")
    return value


def status_allows(status: str, info: TokenInfo) -> bool:
    if status == "ALL":
        return True
    return info.listed if status == "VERIFIED" else not info.listed


def erc20_wanted(types: Sequence[str] | None) -> bool:
    """``contractTypes``: empty means every type; we serve ERC-20 balances only."""
    for value in types or []:
        if value not in CONTRACT_TYPES:
            raise invalid_argument(f"contractTypes: {value[:40]!r} is not a ContractType")
    return not types or "ERC20" in types


def page_size(page: Page | None) -> int:
    size = page.pageSize if page is not None and page.pageSize else DEFAULT_PAGE_SIZE
    if size < 0:
        raise invalid_argument("page.pageSize must not be negative")
    return min(size, MAX_PAGE_SIZE)


def page_after(page: Page | None, parts: int) -> list[str] | None:
    """The cursor of ``page.after`` split in its ``parts`` fields; None on the first page."""
    if page is None or page.after in (None, ""):
        if page is not None and page.page is not None and page.page > 1:
            raise invalid_argument(
                "page.page > 1 needs page.after: send back the page object of the previous answer"
            )
        return None
    fields = page.after.split(":") if isinstance(page.after, str) else []
    if len(fields) != parts or not all(fields):
        raise invalid_argument("page.after is not a cursor this method returned")
    return fields


def cursor_int(text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise invalid_argument("page.after is not a cursor this method returned")
    return int(text)


def cursor_address(text: str) -> str:
    parsed = parse_address(text)
    if parsed is None:
        raise invalid_argument("page.after is not a cursor this method returned")
    return parsed.lower()


def chain_cursor(fields: list[str] | None) -> tuple[int, str, str] | None:
    """A (chain id, address, address) cursor."""
    if fields is None:
        return None
    return cursor_int(fields[0]), cursor_address(fields[1]), cursor_address(fields[2])


def page_rows(
    rows: list[tuple[K, T]], key_after: tuple[Any, ...] | None, size: int
) -> tuple[list[tuple[K, T]], bool, str | None]:
    """One page of ``(key, answer)`` rows merged from several chains: by key, those after
    ``key_after``, at most ``size``; with whether more follow and the cursor for the next page."""
    rows.sort(key=lambda r: r[0])
    if key_after is not None:
        rows = [r for r in rows if r[0] > key_after]
    more = len(rows) > size
    rows = rows[:size]
    return rows, more, ":".join(map(str, rows[-1][0])) if more else None


def next_page(page: Page | None, size: int, more: bool, after: str | None) -> dict[str, Any]:
    """The answer's page: what the client sends back for the next page while ``more``."""
    number = page.page if page is not None and page.page and page.page > 0 else 1
    out: dict[str, Any] = {"page": number + 1 if more else number, "pageSize": size, "more": more}
    if more and after is not None:
        out["after"] = after
    return out


def chain_id_of(engine: NetworkEngine) -> int:
    return engine.chain_id or 0


def pinned(header: Header) -> dict[str, Any]:
    return {"blockNumber": header.number, "blockHash": header.hash.lower()}


class AnyMethod:
    """An endpoint as a plain ASGI app, so that its Route takes every HTTP method (a wrong
    one then gets the webrpc 405 from the endpoint, not Starlette's plain-text one)."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.endpoint(Request(scope, receive))
        await response(scope, receive, send)


class RpcPrefix(BaseRoute):
    """Every other path under ``/rpc/`` (any bytes, any method): the webrpc 404."""

    path = "/rpc/"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["path"].startswith(self.path):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


# -- the translator -------------------------------------------------------------------------


@dataclass(slots=True)
class ChainAnswer:
    engine: NetworkEngine
    value: Any = None
    error: str | None = None

    @property
    def chain_id(self) -> int:
        return chain_id_of(self.engine)


@dataclass(frozen=True, slots=True)
class Method:
    decoder: msgspec.json.Decoder[Any]
    handler: Callable[[Any], Awaitable[dict[str, Any]]]
    empty: Any  # the request when the body is empty or null


class Gateway:
    def __init__(self, engine: Engine, tokens: TokenService, access: Access) -> None:
        self.engine = engine
        self.tokens = tokens
        self.keys = access.keys
        self.limiter = access.limiter
        self.started = time.time()
        self.methods: dict[str, Method] = {}
        for name, request_type, handler in (
            ("GetTokenBalancesSummary", TokenBalancesRequest, self.summary),
            ("GetTokenBalancesDetails", TokenBalancesRequest, self.details),
            ("GetTokenBalancesByContract", ByContractRequest, self.by_contract),
            ("GetBalanceUpdates", BalanceUpdatesRequest, self.balance_updates),
            ("GetNativeTokenBalance", NativeBalanceRequest, self.native),
            ("GetChains", GetChainsRequest, self.chains),
            ("Ping", NoArguments, self.ping),
            ("Version", NoArguments, self.version),
            ("RuntimeStatus", NoArguments, self.runtime_status),
        ):
            self.methods[name] = Method(
                msgspec.json.Decoder(request_type | None),  # type: ignore[operator]
                handler,
                request_type(),
            )

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route(PREFIX + name, AnyMethod(self.endpoint), name=f"sequence.{name}")
            for name in self.methods
        ]
        routes.append(RpcPrefix(AnyMethod(self.unknown)))
        return routes

    # -- HTTP edge ----------------------------------------------------------------------------

    async def unknown(self, request: Request) -> Response:
        path = request.scope["path"][:120]
        return error_response(bad_route(f"no such method: {path}"))

    async def endpoint(self, request: Request) -> Response:
        name = request.scope["path"].removeprefix(PREFIX)
        try:
            method = self.methods.get(name)
            if method is None:  # e.g. a trailing newline that the route's regex let through
                raise bad_route(f"no such method: {name[:80]!r}")
            if request.method != "POST":
                raise bad_method(f"{name} takes POST, not {request.method[:10]}")
            self.admit(request)
            try:
                body = await read_body(request)
            except CatalogError as exc:
                raise bad_request(reason(exc)) from None
            parsed = self.decode(method, body)
            limit: float = request.app.state.request_timeout
            try:
                async with asyncio.timeout(limit):
                    answer = await method.handler(parsed)
            except TimeoutError:
                raise timeout(f"the request took longer than {limit:g} s") from None
            return Response(_encode(answer), media_type="application/json")
        except WebrpcError as exc:
            return error_response(exc)
        except CatalogError as exc:
            return error_response(webrpc_of(exc))
        except RpcError as exc:
            return error_response(internal_error(f"node error: {exc.message[:200]}"))
        except Exception:
            log.exception("unhandled error on %s", request.scope["path"])
            return error_response(internal_error("unexpected error; it has been logged"))

    def admit(self, request: Request) -> None:
        """X-Access-Key when keys are configured, then the rate limit (per key, else address)."""
        presented = request.headers.get("x-access-key")
        if self.keys.enabled:
            if not presented:
                raise unauthorized("the X-Access-Key header is required")
            if not self.keys.allows(presented):
                raise access_key_not_found("the X-Access-Key is not a key of this node")
        key = presented if self.keys.enabled else None
        wait = self.limiter.take(caller_id(key, request.client.host if request.client else None))
        if wait > 0:
            raise rate_limited(max(1, math.ceil(wait)))

    @staticmethod
    def decode(method: Method, body: bytes) -> Any:
        if not body.strip():
            return method.empty
        try:
            parsed = method.decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise bad_request(str(exc)[:300]) from None
        except NOT_JSON as exc:
            raise bad_request(f"body is not JSON: {str(exc)[:200]}") from None
        return method.empty if parsed is None else parsed

    # -- shared steps -------------------------------------------------------------------------

    def select(self, request: ChainSelection) -> list[NetworkEngine]:
        try:
            return self.tokens.select(request.chainIds, request.networks)
        except CatalogError as exc:
            configured = ", ".join(
                f"{e.chain_id} ({e.identifier.network})"
                for e in self.tokens.all()
                if e.identifier is not None
            )
            raise invalid_argument(
                f"{reason(exc)}; configured chains: {configured or 'none known yet'}"
            ) from None

    async def fan_out(
        self, engines: Iterable[NetworkEngine], work: Callable[[NetworkEngine], Awaitable[Any]]
    ) -> list[ChainAnswer]:
        """``work`` on every chain at once; a chain's failure becomes its ``errorReason``."""

        async def one(engine: NetworkEngine) -> ChainAnswer:
            try:
                return ChainAnswer(engine, await work(engine))
            except CatalogError as exc:
                return ChainAnswer(engine, error=reason(exc))
            except RpcError as exc:
                return ChainAnswer(engine, error=f"node error: {exc.message[:200]}")
            except Exception:
                log.exception("chain %s failed", engine.name)
                return ChainAnswer(engine, error="unexpected error; it has been logged")

        return list(await asyncio.gather(*(one(e) for e in engines)))

    # -- methods ------------------------------------------------------------------------------

    async def summary(self, request: TokenBalancesRequest) -> dict[str, Any]:
        return await self._token_balances(request)

    async def details(self, request: TokenBalancesRequest) -> dict[str, Any]:
        # ERC-20 balances have no per-token-id detail: the same rows as the summary.
        return await self._token_balances(request)

    async def _token_balances(self, request: TokenBalancesRequest) -> dict[str, Any]:
        flt = request.filter or TokenBalancesFilter()
        accounts = address_list(
            flt.accountAddresses, "filter.accountAddresses", required=True, limit=MAX_ACCOUNTS
        )
        status = contract_status(flt.contractStatus)
        erc20 = erc20_wanted(flt.contractTypes)
        white = {
            a.lower()
            for a in address_list(
                flt.contractWhitelist, "filter.contractWhitelist", limit=MAX_CONTRACTS
            )
        }
        black = {
            a.lower()
            for a in address_list(
                flt.contractBlacklist, "filter.contractBlacklist", limit=MAX_CONTRACTS
            )
        }
        metadata = not request.omitMetadata
        size = page_size(request.page)
        after = page_after(request.page, 3)
        key_after = chain_cursor(after)
        natives_wanted = not flt.omitNativeBalances and after is None
        engines = self.select(request)

        async def work(engine: NetworkEngine) -> tuple[Header, list[Any], list[int]]:
            answer = await self.tokens.accounts_tokens(engine, accounts, read_tokens=erc20)
            natives: list[int] = []
            if natives_wanted:
                natives = list(
                    await asyncio.gather(
                        *(self.tokens.native_balance(engine, a, answer.block) for a in accounts)
                    )
                )
            return answer.block, answer.items, natives

        answers = await self.fan_out(engines, work)
        rows: list[tuple[tuple[int, str, str], dict[str, Any]]] = []
        for chain in answers:
            if chain.error is not None or not erc20:
                continue
            for item in chain.value[1]:
                contract = item.token.address.lower()
                if item.balance <= 0 or not status_allows(status, item.token):
                    continue
                if (white and contract not in white) or contract in black:
                    continue
                key = (chain.chain_id, item.account.lower(), contract)
                rows.append((key, from_token_balance(chain.chain_id, item, metadata)))
        rows, more, cursor = page_rows(rows, key_after, size)

        balances = []
        natives = []
        for chain in answers:
            wrapper: dict[str, Any] = {"chainId": chain.chain_id}
            if chain.error is not None:
                wrapper["errorReason"] = chain.error
                balances.append({**wrapper, "results": []})
                natives.append({**wrapper, "results": []})
                continue
            header, _, native_values = chain.value
            balances.append(
                {
                    **wrapper,
                    "results": [r for k, r in rows if k[0] == chain.chain_id],
                    **pinned(header),
                }
            )
            symbol = chain.engine.settings.native.symbol
            natives.append(
                {
                    **wrapper,
                    "results": [
                        native_balance(chain.chain_id, a, symbol, v)
                        for a, v in zip(accounts, native_values, strict=natives_wanted)
                    ],
                    **pinned(header),
                }
            )
        return {
            "page": next_page(request.page, size, more, cursor),
            "nativeBalances": natives if natives_wanted else [],
            "balances": balances,
        }

    async def by_contract(self, request: ByContractRequest) -> dict[str, Any]:
        if request.filter is None:
            raise invalid_argument("filter.contractAddresses is required")
        flt = request.filter
        contracts = address_list(
            flt.contractAddresses, "filter.contractAddresses", required=True, limit=MAX_CONTRACTS
        )
        accounts = address_list(flt.accountAddresses, "filter.accountAddresses", limit=MAX_ACCOUNTS)
        status = contract_status(flt.contractStatus)
        metadata = not request.omitMetadata
        size = page_size(request.page)
        position = chain_cursor(page_after(request.page, 3))
        engines = sorted(self.select(request), key=chain_id_of)
        if accounts:
            return await self._by_contract_accounts(
                request, engines, contracts, accounts, status, metadata, size, position
            )
        return await self._by_contract_holders(
            request, engines, contracts, status, metadata, size, position
        )

    async def _by_contract_accounts(
        self,
        request: ByContractRequest,
        engines: list[NetworkEngine],
        contracts: list[str],
        accounts: list[str],
        status: str,
        metadata: bool,
        size: int,
        key_after: tuple[Any, ...] | None,
    ) -> dict[str, Any]:
        """Given accounts: their non-zero balances of these contracts, by (contract, account)."""
        wanted = {c.lower() for c in contracts}

        async def work(engine: NetworkEngine) -> Any:
            return await self.tokens.accounts_tokens(engine, accounts)

        answers = await self.fan_out(engines, work)
        rows: list[tuple[tuple[int, str, str], dict[str, Any]]] = []
        for chain in answers:
            if chain.error is not None:
                continue
            for item in chain.value.items:
                contract = item.token.address.lower()
                if contract not in wanted or item.balance <= 0:
                    continue
                if not status_allows(status, item.token):
                    continue
                key = (chain.chain_id, contract, item.account.lower())
                rows.append((key, from_token_balance(chain.chain_id, item, metadata)))
        rows, more, cursor = page_rows(rows, key_after, size)
        balances = []
        for chain in answers:
            if chain.error is not None:
                balances.append(
                    {"chainId": chain.chain_id, "errorReason": chain.error, "results": []}
                )
            else:
                balances.append(
                    {
                        "chainId": chain.chain_id,
                        "results": [r for k, r in rows if k[0] == chain.chain_id],
                        **pinned(chain.value.block),
                    }
                )
        return {"page": next_page(request.page, size, more, cursor), "balances": balances}

    async def _by_contract_holders(
        self,
        request: ByContractRequest,
        engines: list[NetworkEngine],
        contracts: list[str],
        status: str,
        metadata: bool,
        size: int,
        position: tuple[Any, ...] | None,
    ) -> dict[str, Any]:
        """No accounts: every holder with a non-zero balance, contract by contract.

        Chains by id, contracts by address, holders in the index's order; the cursor names
        the last row's (chain, contract, account). One block per chain for the whole page.
        """
        ordered = sorted(c.lower() for c in contracts)
        found: list[tuple[tuple[int, str, str], dict[str, Any]]] = []
        wrappers: list[dict[str, Any]] = []
        for engine in engines:
            chain_id = chain_id_of(engine)
            wrapper: dict[str, Any] = {"chainId": chain_id, "results": []}
            wrappers.append(wrapper)
            skip = len(found) > size or (position is not None and chain_id < position[0])
            work = functools.partial(
                self._holders_page,
                ordered=[] if skip else ordered,
                position=position,
                status=status,
                metadata=metadata,
                want=size + 1,
                found=found,
            )
            (chain,) = await self.fan_out([engine], work)
            if chain.error is not None:
                wrapper["errorReason"] = chain.error
                found[:] = [f for f in found if f[0][0] != chain_id]
            else:
                wrapper.update(pinned(chain.value))
        more = len(found) > size
        found = found[:size]
        for wrapper in wrappers:
            wrapper["results"] = [r for k, r in found if k[0] == wrapper["chainId"]]
        cursor = ":".join(map(str, found[-1][0])) if more else None
        return {"page": next_page(request.page, size, more, cursor), "balances": wrappers}

    async def _holders_page(
        self,
        engine: NetworkEngine,
        *,
        ordered: list[str],
        position: tuple[Any, ...] | None,
        status: str,
        metadata: bool,
        want: int,
        found: list[tuple[tuple[int, str, str], dict[str, Any]]],
    ) -> Header:
        """One chain's part of a holders page; the block it was read at."""
        # One block for the whole page of this chain: the index's block now.
        header = (await self.tokens.holders(engine, ordered[0] if ordered else ZERO, limit=0)).block
        for contract in ordered:
            if len(found) >= want:
                break
            resume: str | None = None
            if position is not None and chain_id_of(engine) == position[0]:
                if contract < position[1]:
                    continue
                if contract == position[1]:
                    resume = position[2]
            await self._holders_of(engine, contract, resume, header, status, metadata, want, found)
        return header

    async def _holders_of(
        self,
        engine: NetworkEngine,
        contract: str,
        resume: str | None,
        header: Header,
        status: str,
        metadata: bool,
        want: int,
        found: list[tuple[tuple[int, str, str], dict[str, Any]]],
    ) -> None:
        """Append non-zero holders of ``contract`` after ``resume`` to ``found`` up to ``want``."""
        chain_id = chain_id_of(engine)
        info = await self.tokens.token_info(engine, contract, header)
        if not status_allows(status, info):
            return
        after = resume
        while len(found) < want:
            need = want - len(found)
            answer = await self.tokens.holders(
                engine, contract, after=after, limit=need, at_block=header.number
            )
            rows: list[HolderBalance] = answer.items
            for row in rows:
                after = row.account
                if row.balance > 0:
                    key = (chain_id, contract, row.account.lower())
                    found.append(
                        (key, from_holder(chain_id, contract, row, info if metadata else None))
                    )
            if len(rows) < need:
                return

    async def balance_updates(self, request: BalanceUpdatesRequest) -> dict[str, Any]:
        contract = address(request.contractAddress, "contractAddress")
        last_block = request.lastBlockNumber or 0
        if last_block < 0:
            raise invalid_argument("lastBlockNumber must not be negative")
        last_hash = request.lastBlockHash or None
        if last_block > 0 and last_hash is None:
            raise invalid_argument(
                "lastBlockHash is missing: a non-zero lastBlockNumber needs the hash of that "
                "block (the pair is a reorg-safe cursor)"
            )
        if last_hash is not None and not is_hash(last_hash):
            raise invalid_argument("lastBlockHash is not 32 bytes of 0x-hex")
        engines = self.select(request)
        if len(engines) != 1:
            raise invalid_argument(
                "GetBalanceUpdates reads one chain: name exactly one in chainIds or networks"
            )
        (engine,) = engines
        size = page_size(request.page)
        after = page_after(request.page, 2)
        page_from = None if after is None else (cursor_int(after[0]), cursor_address(after[1]))
        try:
            answer = await self.tokens.balance_updates(
                engine,
                contract,
                last_block,
                last_hash if last_block > 0 else None,
                page_after=page_from,
                limit=size + 1,
            )
        except CatalogError as exc:
            if exc.error.code == BLOCK_MISMATCH.code:
                details = exc.details or {}
                raise invalid_argument(
                    f"lastBlockHash mismatch: {last_hash} is not the canonical block "
                    f"{last_block} (canonical hash {details.get('canonical_hash')}); a reorg "
                    "replaced it: resume from an earlier cursor"
                ) from None
            raise webrpc_of(exc) from None
        chain_id = chain_id_of(engine)
        items = answer.items
        more = len(items) > size
        items = items[:size]
        cursor = f"{items[-1].last_block}:{items[-1].account.lower()}" if more else None
        return {
            "page": next_page(request.page, size, more, cursor),
            "balances": [
                {
                    "chainId": chain_id,
                    "results": [from_holder(chain_id, contract, row, None) for row in items],
                    **pinned(answer.block),
                }
            ],
        }

    async def native(self, request: NativeBalanceRequest) -> dict[str, Any]:
        account = address(request.accountAddress, "accountAddress")
        engines = self.select(request)

        async def work(engine: NetworkEngine) -> tuple[Header, int]:
            header = await self.tokens.block(engine, None)
            return header, await self.tokens.native_balance(engine, account, header)

        balances = []
        for chain in await self.fan_out(engines, work):
            if chain.error is not None:
                balances.append(
                    {"chainId": chain.chain_id, "errorReason": chain.error, "result": None}
                )
                continue
            header, value = chain.value
            symbol = chain.engine.settings.native.symbol
            balances.append(
                {
                    "chainId": chain.chain_id,
                    "result": native_balance(chain.chain_id, account, symbol, value),
                    **pinned(header),
                }
            )
        return {"balances": balances}

    async def chains(self, request: GetChainsRequest) -> dict[str, Any]:
        return {
            "chains": [
                {"chainId": e.chain_id, "chainName": e.identifier.network}
                for e in self.tokens.all()
                if e.chain_id is not None and e.identifier is not None
            ]
        }

    async def ping(self, request: NoArguments) -> dict[str, Any]:
        return {"status": True}

    async def version(self, request: NoArguments) -> dict[str, Any]:
        return {
            "version": {
                "webrpcVersion": WEBRPC_VERSION,
                "schemaVersion": SCHEMA_VERSION,
                "schemaHash": SCHEMA_HASH,
                "appVersion": f"rosetta-node {__version__}",
            }
        }

    async def runtime_status(self, request: NoArguments) -> dict[str, Any]:
        engines = self.tokens.all()
        statuses = await asyncio.gather(*(self.tokens.index_of(e).status() for e in engines))
        backends = []
        for engine, status in zip(engines, statuses, strict=True):
            issues = status.problems
            backend: dict[str, Any] = {
                "name": engine.name,
                "chainId": chain_id_of(engine),
                "connected": engine.connected,
                "problems": ([] if engine.connected else ["node not connected"]) + issues,
            }
            if status.cursor is not None:
                backend["indexedBlockNumber"] = status.cursor.number
                backend["indexedBlockHash"] = status.cursor.hash.lower()
            backends.append(backend)
        now = time.time()
        return {
            "status": {
                "healthOK": all(not b["problems"] for b in backends),
                "startTime": datetime.fromtimestamp(self.started, UTC)
                .isoformat(timespec="seconds")
                .replace("+00:00", "Z"),
                "uptime": int(now - self.started),
                "ver": __version__,
                "branch": "",
                "commitHash": "",
                "backends": backends,
            }
        }


def sequence_routes(engine: Engine, tokens: TokenService, access: Access) -> list[BaseRoute]:
    return Gateway(engine, tokens, access).routes()
