"""Token answers from the index and the node: what the translator routes call.

The index says which (token, account) pairs can hold a balance; the balances themselves come
from ``balanceOf`` at one pinned block (so tokens that move balances without logs still
answer right). Every answer carries the block it was read at. Rows and the pinned block come
from one snapshot of the index, so they agree with each other.

Wire formats are not this module's business: it returns plain objects and raises
:class:`CatalogError`; the translators reshape both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cachetools import LRUCache

from .. import erc20
from ..addresses import checksum, parse_address
from ..engine.balance_reader import read_balances
from ..engine.chain import Header, hex_int, state_error
from ..engine.node import NetworkEngine, Networks
from ..errors import (
    BLOCK_MISMATCH,
    INDEX_BEHIND,
    INDEX_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_REQUEST,
    NODE_ERROR,
    UNKNOWN_NETWORK,
    CatalogError,
)
from ..metrics import INDEX_HEAD, INDEX_LAG
from ..rpc import RpcError
from .follower import Indexer
from .model import Cursor, IndexStore, Snapshot, WriterBusy
from .open import claim_writer, open_store

log = logging.getLogger(__name__)

T = TypeVar("T")

_Row = tuple[str, int, str]  # account, block of its last change, that block's hash
MAX_HOLDERS_SCAN = 100_000  # holders read for one ranked answer (top holders)


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """What an answer holds, and the block (number and hash) it was read at."""

    block: Header
    items: T


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str  # checksummed
    name: str | None
    symbol: str | None
    decimals: int | None  # None: the contract has no decimals()
    listed: bool  # in the network's token list
    logo_uri: str | None = None


@dataclass(frozen=True, slots=True)
class TokenBalance:
    token: TokenInfo
    account: str  # checksummed
    balance: int
    last_block: int  # the block of the pair's last Transfer log (index)
    last_hash: str


@dataclass(frozen=True, slots=True)
class HolderBalance:
    account: str  # checksummed
    balance: int
    last_block: int
    last_hash: str


@dataclass(frozen=True, slots=True)
class IndexStatus:
    configured: bool
    running: bool
    cursor: Cursor | None
    head: int | None
    lag: int | None
    reorgs: int
    logs: int
    problem: str | None
    problems: list[str]  # what keeps the index from answering well (for /readyz)


def require_address(value: str, field: str) -> str:
    address = parse_address(value)
    if address is None:
        raise CatalogError(
            INVALID_ADDRESS,
            {"field": field, "address": value[:100], "reason": "not 20 bytes of 0x-hex"},
        )
    return address


class NetworkIndex:
    """One network's index: its store and the follower task keeping it at the head."""

    def __init__(self, engine: NetworkEngine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.configured = bool(self.settings.index_db or self.settings.index_url)
        self.store: IndexStore | None = None
        self.indexer: Indexer | None = None
        self.problem: str | None = (
            None if self.configured else "no index_db or index_url configured"
        )
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        if self.configured and self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"index {self.engine.name}")

    async def _open(self) -> IndexStore:
        # The store is named after the network, known once the node told its chain id.
        while self.engine.identifier is None:
            await asyncio.sleep(0.5)
        store = open_store(self.settings, self.engine.name)
        # A PostgreSQL index is shared by replicas: this one answers from it at once, and
        # follows the head only once it holds the index's writer lock (one writer; a
        # standby waits here and takes over when the writer's session ends).
        self.store = store
        try:
            await claim_writer(store, wait=True, poll=self.settings.index_poll_interval)
        except asyncio.CancelledError:
            raise  # stop() closes self.store
        except BaseException:
            self.store = None
            await store.close()
            raise
        return store

    async def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self.store is None:
                    self.store = await self._open()
                if self.indexer is None:
                    self.indexer = Indexer(
                        self.engine.rpc,
                        self.store,
                        start_block=self.settings.index_start_block,
                        confirmations=self.settings.index_confirmations,
                    )
                self.problem = None
                await self.indexer.follow(self.settings.index_poll_interval, self._stop)
                return
            except asyncio.CancelledError:
                raise
            except WriterBusy as exc:
                # Another replica took the writer lock (our session to PostgreSQL dropped):
                # answer from the shared index and stand by until the lock is free again.
                self.problem = None
                log.warning("index %s: %s; standing by", self.engine.name, exc)
                self.indexer = None
                if self.store is not None:
                    poll = self.settings.index_poll_interval
                    await claim_writer(self.store, wait=True, poll=poll)
            except Exception as exc:  # the follower must outlive node trouble and bad files
                self.problem = f"{type(exc).__name__}: {exc}"
                log.error("index %s stopped: %s; retrying in %.0f s", self.engine.name, exc, delay)
                self.indexer = None  # prepares again (genesis check, start block)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, 60.0)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.store is not None:
            await self.store.close()
            self.store = None

    async def status(self) -> IndexStatus:
        cursor = None if self.store is None else await self.store.cursor()
        head = None if self.indexer is None else self.indexer.head
        lag = None if cursor is None or head is None else max(0, head - cursor.number)
        name = self.engine.name
        if cursor is not None:
            INDEX_HEAD.labels(name).set(cursor.number)
        if lag is not None:
            INDEX_LAG.labels(name).set(lag)
        return IndexStatus(
            configured=self.configured,
            running=self._task is not None and not self._task.done(),
            cursor=cursor,
            head=head,
            lag=lag,
            reorgs=0 if self.indexer is None else self.indexer.reorgs,
            logs=0 if self.indexer is None else self.indexer.logs,
            problem=self.problem,
            problems=self._problems(cursor, lag),
        )

    def _problems(self, cursor: Cursor | None, lag: int | None) -> list[str]:
        if not self.configured:
            return []
        if cursor is None:
            return [f"index of {self.engine.name} has not indexed a block yet"]
        problems = []
        if self.problem:
            problems.append(f"index of {self.engine.name}: {self.problem}")
        if lag is not None and lag > self.settings.index_max_lag:
            problems.append(
                f"index of {self.engine.name} is {lag} blocks behind the head "
                f"(bound {self.settings.index_max_lag})"
            )
        return problems

    async def readiness(self) -> list[str]:
        """What keeps this index from answering well now (empty when fine or not configured)."""
        return (await self.status()).problems


class TokenService:
    """Token balances, holders and balance updates for every configured network."""

    def __init__(self, networks: Networks) -> None:
        self.networks = networks
        self.indexes = {id(e): NetworkIndex(e) for e in networks.all()}
        self._info: LRUCache[tuple[int, str], TokenInfo] = LRUCache(maxsize=50_000)
        # (block hash, contract, account) -> balance: pages and repeated asks hit this.
        self._balances: LRUCache[tuple[str, str, str], int] = LRUCache(maxsize=200_000)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for index in self.indexes.values():
            index.start()

    async def stop(self) -> None:
        for index in self.indexes.values():
            await index.stop()

    def index_of(self, engine: NetworkEngine) -> NetworkIndex:
        return self.indexes[id(engine)]

    # -- networks ----------------------------------------------------------------------------

    def all(self) -> list[NetworkEngine]:
        return self.networks.all()

    def select(
        self, chain_ids: Iterable[int] | None = None, names: Iterable[str] | None = None
    ) -> list[NetworkEngine]:
        """Networks by chain id or by name (network, or blockchain/network); None: all.

        An unknown id or name is an error naming what is configured.
        """
        chain_ids = list(chain_ids or [])
        names = [n.lower() for n in names or []]
        if not chain_ids and not names:
            return self.all()
        chosen: list[NetworkEngine] = []
        for chain_id in chain_ids:
            chosen.append(self.by_chain_id(chain_id))
        for name in names:
            chosen.append(self.by_name(name))
        return list({id(e): e for e in chosen}.values())

    def _unknown(self, details: dict[str, Any]) -> CatalogError:
        configured: list[Any] = [
            {"chainId": e.chain_id, "network": e.name} for e in self.all() if e.chain_id
        ]
        return CatalogError(UNKNOWN_NETWORK, {**details, "configured": configured})

    def by_chain_id(self, chain_id: int) -> NetworkEngine:
        for engine in self.all():
            if engine.chain_id == chain_id:
                return engine
        raise self._unknown({"chainId": chain_id})

    def by_name(self, name: str) -> NetworkEngine:
        wanted = name.lower()
        for engine in self.all():
            ident = engine.identifier
            if ident is None:
                continue
            if wanted in (ident.network.lower(), engine.name.lower(), str(engine.chain_id)):
                return engine
        raise self._unknown({"network": name[:64]})

    # -- blocks ------------------------------------------------------------------------------

    async def block(self, engine: NetworkEngine, number: int | None) -> Header:
        """The header at ``number`` (None: the head) from the node."""
        engine.require_ready()
        if number is None:
            return await engine.chain.head()
        if number < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "block number must not be negative"})
        return await engine.chain.by_number(number)

    async def _pinned(
        self, engine: NetworkEngine, snapshot: Snapshot[Any], at_block: int | None
    ) -> Header:
        """The block an index answer is read at: the snapshot's cursor, or ``at_block``."""
        cursor = snapshot.cursor
        if cursor is None:
            raise CatalogError(INDEX_BEHIND, {"network": engine.name, "indexed": None})
        if at_block is None or at_block == cursor.number:
            # The index's own block, cached by hash: no lookup by number (a page loop pins
            # every page to the block of the first one).
            return await engine.chain.by_hash(cursor.hash)
        if at_block > cursor.number:
            raise CatalogError(
                INDEX_BEHIND,
                {"network": engine.name, "block": at_block, "indexed": cursor.number},
            )
        return await self.block(engine, at_block)

    def _store(self, engine: NetworkEngine) -> IndexStore:
        engine.require_ready()
        index = self.index_of(engine)
        if not index.configured:
            raise CatalogError(INDEX_NOT_CONFIGURED, {"network": engine.name})
        if index.store is None:
            raise CatalogError(INDEX_BEHIND, {"network": engine.name, "reason": "opening"})
        return index.store

    # -- node reads --------------------------------------------------------------------------

    async def balances(
        self, engine: NetworkEngine, header: Header, pairs: Sequence[tuple[str, str]]
    ) -> list[int | None]:
        """``balanceOf`` of each (contract, account) at ``header``; None: no ERC-20 answer.

        A contract that reverts or answers garbage is not an ERC-20 at that block (the index
        holds whatever logged a Transfer): its rows are left out, not failed.
        """
        out: list[int | None] = [None] * len(pairs)
        todo: list[int] = []
        for i, (contract, account) in enumerate(pairs):
            hit = self._balances.get((header.hash, contract, account))
            if hit is None:
                todo.append(i)
            else:
                out[i] = hit
        _, results = await read_balances(  # (long batches are split)
            engine.chain, header, [pairs[i] for i in todo], reader=engine.settings.multicall
        )
        for i, result in zip(todo, results, strict=True):
            if isinstance(result, RpcError):
                if "revert" in result.message.lower():
                    continue
                raise state_error(result, header)
            value = erc20.decode_uint(result)
            if value is not None:
                out[i] = value
                self._balances[(header.hash, pairs[i][0], pairs[i][1])] = value
        return out

    async def native_balance(self, engine: NetworkEngine, account: str, header: Header) -> int:
        # Always asked of the node (not the balance cache): an answer at the head then also
        # proves the node still serves our chain (the RPC client's chain guard).
        if await engine.chain.near_head(header):  # proven against the state root: account_at
            return (await engine.chain.account_at(header, account))[0]
        (result,) = await engine.chain.read_state(
            header, [("eth_getBalance", [account, header.pin()])], near=False
        )
        if isinstance(result, RpcError):
            raise state_error(result, header)
        value = hex_int(result, "balance")
        if value < 0:
            raise CatalogError(NODE_ERROR, {"reason": "negative balance"})
        return value

    async def token_info(self, engine: NetworkEngine, contract: str, header: Header) -> TokenInfo:
        """Name, symbol and decimals: the token list's, else the contract's own."""
        contract = checksum(contract)
        listed = engine.tokens.get(contract)
        if listed is not None:
            return TokenInfo(
                contract, listed.name or None, listed.symbol, listed.decimals, True, listed.logo_uri
            )
        key = (id(engine), contract)
        known = self._info.get(key)
        if known is not None:
            return known
        pin = header.pin()
        answers = await engine.rpc.batch(
            [
                ("eth_call", [{"to": contract, "data": data}, pin])
                for data in (erc20.NAME, erc20.SYMBOL, erc20.DECIMALS)
            ]
        )
        name, symbol, decimals = (None if isinstance(a, RpcError) else a for a in answers)
        raw_decimals = erc20.decode_uint(decimals)
        info = TokenInfo(
            contract,
            erc20.decode_text(name),
            erc20.decode_text(symbol),
            raw_decimals if raw_decimals is not None and raw_decimals <= 255 else None,
            False,
        )
        if any(a not in (None, "0x") for a in (name, symbol, decimals)):
            self._info[key] = info  # the contract exists and answered: its metadata is fixed
        return info

    async def token_infos(
        self, engine: NetworkEngine, contracts: Iterable[str], header: Header
    ) -> dict[str, TokenInfo]:
        unique = list(dict.fromkeys(checksum(c) for c in contracts))
        infos = await asyncio.gather(*(self.token_info(engine, c, header) for c in unique))
        return dict(zip(unique, infos, strict=True))

    async def total_supply(
        self, engine: NetworkEngine, contract: str, header: Header
    ) -> int | None:
        call = {"to": checksum(contract), "data": erc20.TOTAL_SUPPLY}
        (result,) = await engine.chain.read_state(header, [("eth_call", [call, header.pin()])])
        if isinstance(result, RpcError):
            if "revert" in result.message.lower():
                return None
            raise state_error(result, header)
        return erc20.decode_uint(result)

    # -- index answers -----------------------------------------------------------------------

    async def account_tokens(
        self,
        engine: NetworkEngine,
        account: str,
        at_block: int | None = None,
        *,
        read_tokens: bool = True,
    ) -> Answer[list[TokenBalance]]:
        """Every token ``account`` ever sent or received, with its balance at the pinned block.

        Zero balances included (the caller filters); contracts that do not answer
        ``balanceOf`` like an ERC-20 are left out. ``read_tokens=False``: only the pinned
        block, for a caller that wants no token (no balance or metadata is read).
        """
        account = require_address(account, "account")
        snapshot = await self._store(engine).account_tokens(account, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        if not read_tokens:
            return Answer(header, [])
        rows = snapshot.rows
        values = await self.balances(
            engine, header, [(checksum(r.contract), account) for r in rows]
        )
        infos = await self.token_infos(engine, (r.contract for r in rows), header)
        out = [
            TokenBalance(infos[checksum(r.contract)], account, value, r.last_block, r.last_hash)
            for r, value in zip(rows, values, strict=True)
            if value is not None
        ]
        return Answer(header, out)

    async def _holder_rows(
        self, engine: NetworkEngine, contract: str, header: Header, rows: Sequence[_Row]
    ) -> list[HolderBalance]:
        """Balances at ``header`` of (account, last block, last hash) rows of one contract."""
        accounts = [checksum(account) for account, _, _ in rows]
        values = await self.balances(engine, header, [(contract, a) for a in accounts])
        return [
            HolderBalance(account, value, number, block_hash)
            for account, (_, number, block_hash), value in zip(accounts, rows, values, strict=True)
            if value is not None
        ]

    async def holders(
        self,
        engine: NetworkEngine,
        contract: str,
        *,
        after: str | None = None,
        limit: int = 100,
        at_block: int | None = None,
    ) -> Answer[list[HolderBalance]]:
        """One page of a contract's holders (accounts that ever held it), in a stable order.

        The next page starts ``after`` the last row's account. Zero balances included.
        """
        contract = require_address(contract, "contract")
        if after is not None:
            after = require_address(after, "after")
        snapshot = await self._store(engine).contract_holders(contract, after, limit, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        rows = [(h.account, h.last_block, h.last_hash) for h in snapshot.rows]
        return Answer(header, await self._holder_rows(engine, contract, header, rows))

    async def holder_count(
        self, engine: NetworkEngine, contract: str, at_block: int | None = None
    ) -> int:
        contract = require_address(contract, "contract")
        return (await self._store(engine).holder_count(contract, at_block)).rows

    async def all_holders(
        self, engine: NetworkEngine, contract: str, at_block: int | None = None
    ) -> Answer[list[HolderBalance]]:
        """Every holder with a non-zero balance at one block (for ranked answers)."""
        contract = require_address(contract, "contract")
        store = self._store(engine)
        snapshot = await store.contract_holders(contract, None, MAX_HOLDERS_SCAN + 1, at_block)
        if len(snapshot.rows) > MAX_HOLDERS_SCAN:
            raise CatalogError(
                INVALID_REQUEST,
                {"reason": f"more than {MAX_HOLDERS_SCAN} holders; page through holders instead"},
            )
        header = await self._pinned(engine, snapshot, at_block)
        rows = [(h.account, h.last_block, h.last_hash) for h in snapshot.rows]
        held = await self._holder_rows(engine, contract, header, rows)
        return Answer(header, [r for r in held if r.balance > 0])

    async def balance_updates(
        self,
        engine: NetworkEngine,
        contract: str,
        last_block: int,
        last_hash: str | None,
        *,
        page_after: tuple[int, str] | None = None,
        limit: int = 100,
    ) -> Answer[list[HolderBalance]]:
        """Holders of ``contract`` whose balance changed after ``last_block``, with balances.

        ``(last_block, last_hash)`` is a reorg-safe resume cursor: a non-zero block needs its
        hash, and the hash must still be the canonical one at that number. Ordered by the
        block of the last change, then account; ``page_after`` is the last row's
        ``(last_block, account)``.
        """
        contract = require_address(contract, "contract")
        if last_block < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "lastBlockNumber must not be negative"})
        if last_block > 0:
            if not last_hash:
                raise CatalogError(
                    INVALID_REQUEST,
                    {"reason": "lastBlockHash is required when lastBlockNumber is not 0"},
                )
            canonical = await self.block(engine, last_block)
            if canonical.hash != last_hash.lower():
                raise CatalogError(
                    BLOCK_MISMATCH,
                    {
                        "reason": "lastBlockHash is not the canonical block at lastBlockNumber"
                        " (a reorg replaced it; resume from an earlier cursor)",
                        "index": last_block,
                        "hash": last_hash[:80],
                        "canonical_hash": canonical.hash,
                    },
                )
        store = self._store(engine)
        snapshot = await store.balance_changes(contract, last_block, page_after, limit)
        if snapshot.cursor is not None and last_block > snapshot.cursor.number:
            raise CatalogError(
                INDEX_BEHIND,
                {"network": engine.name, "block": last_block, "indexed": snapshot.cursor.number},
            )
        header = await self._pinned(engine, snapshot, None)
        rows = [(c.account, c.block_number, c.block_hash) for c in snapshot.rows]
        return Answer(header, await self._holder_rows(engine, contract, header, rows))

    async def holder_accounts(
        self,
        engine: NetworkEngine,
        contract: str,
        *,
        offset: int = 0,
        limit: int = 100,
        at_block: int | None = None,
    ) -> Answer[list[str]]:
        """Holders ``offset .. offset + limit`` in :meth:`holders`' order, without balances.

        For page-number APIs: one snapshot read of ``offset + limit`` rows (at most
        MAX_HOLDERS_SCAN), so the page and its pinned block agree. Zero balances included.
        """
        contract = require_address(contract, "contract")
        if offset < 0 or limit < 0:
            raise CatalogError(INVALID_REQUEST, {"reason": "offset and limit must not be negative"})
        if offset + limit > MAX_HOLDERS_SCAN:
            raise CatalogError(
                INVALID_REQUEST, {"reason": f"pages reach at most {MAX_HOLDERS_SCAN} holders deep"}
            )
        store = self._store(engine)
        snapshot = await store.contract_holders(contract, None, offset + limit, at_block)
        header = await self._pinned(engine, snapshot, at_block)
        return Answer(header, [checksum(h.account) for h in snapshot.rows[offset:]])

    async def accounts_tokens(
        self,
        engine: NetworkEngine,
        accounts: Sequence[str],
        at_block: int | None = None,
        *,
        read_tokens: bool = True,
    ) -> Answer[list[TokenBalance]]:
        """:meth:`account_tokens` of several accounts, all read at one block.

        The first account pins the block (the index cursor, or ``at_block``); the others are
        read at that block number. A reorg between the reads (another hash at that number)
        is a retriable error rather than a mixed answer.
        """
        if not accounts:
            raise CatalogError(INVALID_REQUEST, {"reason": "no accounts"})
        first = await self.account_tokens(engine, accounts[0], at_block, read_tokens=read_tokens)
        rest = await asyncio.gather(
            *(
                self.account_tokens(engine, a, first.block.number, read_tokens=read_tokens)
                for a in accounts[1:]
            )
        )
        if any(answer.block.hash != first.block.hash for answer in rest):
            raise CatalogError(
                INDEX_BEHIND, {"network": engine.name, "reason": "reorg while reading; ask again"}
            )
        return Answer(first.block, [item for a in (first, *rest) for item in a.items])
