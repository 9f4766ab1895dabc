"""One configured network (its node connection, caches, currencies) and the registry of them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import msgspec

from ..addresses import parse_address
from ..cache import ChainCache
from ..errors import NODE_UNAVAILABLE, UNKNOWN_NETWORK, WRONG_CHAIN, CatalogError
from ..metrics import HEAD, NODE_UP
from ..rpc import RpcClient
from ..settings import ConfigError, NetworkSettings, redact_url
from ..tokenlist import Token, load_token_list
from ..types import NetworkIdentifier
from .chain import Chain, Header, hex_int, parse_header
from .currencies import Currencies
from .forks import ChainRules, choose_rules
from .node_client import NodeClient, NodeError

log = logging.getLogger(__name__)


class ChainIdMismatch(ConfigError):
    pass


class GenesisFile(msgspec.Struct):
    config: dict[str, Any] | None  # the chain config, when the file has one
    allocations: dict[str, int]


def load_genesis_file(path: str) -> GenesisFile:
    """A geth-style genesis file (``{"config": ..., "alloc": {...}}``) or a bare alloc map."""
    try:
        raw = msgspec.json.decode(Path(path).read_bytes())
    except (OSError, msgspec.DecodeError) as exc:
        raise ConfigError(f"genesis_file {path!r}: {exc}") from None
    alloc = raw.get("alloc", raw) if isinstance(raw, dict) else None
    if not isinstance(alloc, dict):
        raise ConfigError(f"genesis_file {path!r}: expected an object with 'alloc'")
    config = raw.get("config") if "alloc" in raw else None
    if config is not None and not isinstance(config, dict):
        raise ConfigError(f"genesis_file {path!r}: 'config' must be an object")
    balances: dict[str, int] = {}
    for key, entry in alloc.items():
        address = parse_address(key if key.startswith("0x") else "0x" + key)
        balance = entry.get("balance") if isinstance(entry, dict) else None
        if address is None or not isinstance(balance, str | int):
            raise ConfigError(f"genesis_file {path!r}: bad allocation for {key!r}")
        try:
            value = int(balance, 0) if isinstance(balance, str) else balance
        except ValueError:
            raise ConfigError(f"genesis_file {path!r}: bad balance for {key!r}") from None
        balances[address] = balances.get(address, 0) + value
    return GenesisFile(config, balances)


class NetworkEngine:
    """Everything one network's services need; connection state is probed, not assumed."""

    def __init__(self, settings: NetworkSettings) -> None:
        self.settings = settings
        self.label = redact_url(settings.rpc_url)
        self.rpc = RpcClient(
            settings.rpc_url,
            name=self.label,
            timeout=settings.rpc_timeout,
            retries=settings.rpc_retries,
            max_connections=settings.rpc_max_connections,
            call_gas_cap=settings.call_gas_cap,
        )
        self.node = NodeClient(self.rpc)  # every read of the node goes through this
        self.cache = ChainCache()
        self.chain = Chain(self.node, self.cache, settings.trace_timeout)
        self.chain_id: int | None = settings.chain_id
        self.node_version: str | None = None
        self.genesis: Header | None = None
        self.connected = False
        self.wrong_chain_id: int | None = None
        self.last_error: str | None = None
        self.currencies = Currencies(settings.native.symbol, settings.native.decimals, [])
        self.tokens: dict[str, Token] = {}  # the token list, by checksummed address
        self.genesis_file = (
            load_genesis_file(settings.genesis_file) if settings.genesis_file else None
        )
        if self.chain_id is not None:
            self._load_tokens(self.chain_id)

    def _load_tokens(self, chain_id: int) -> None:
        tokens = (
            load_token_list(self.settings.token_list, chain_id) if self.settings.token_list else []
        )
        self.tokens = {t.address: t for t in tokens}
        self.currencies = Currencies(
            self.settings.native.symbol, self.settings.native.decimals, tokens
        )

    @property
    def identifier(self) -> NetworkIdentifier | None:
        if self.chain_id is None:
            return None
        blockchain, network = self.settings.names(self.chain_id)
        return NetworkIdentifier(blockchain=blockchain, network=network)

    async def probe(self) -> None:
        """Ask the node who it is; raises ChainIdMismatch or a retriable CatalogError."""
        try:
            chain_id_hex, version, genesis = await self.node.batch(
                [NodeClient.chain_id(), NodeClient.client_version(), NodeClient.block(0)]
            )
        except CatalogError as exc:
            if exc.error is WRONG_CHAIN and exc.details:  # caught by the client's chain guard
                self._mismatch(int(exc.details["node_chain_id"]))
            self.connected = False
            self.last_error = exc.error.message
            NODE_UP.labels(self.name).set(0)
            raise
        if isinstance(chain_id_hex, NodeError) or isinstance(genesis, NodeError) or genesis is None:
            self.connected = False
            self.last_error = "node did not answer eth_chainId / genesis block"
            raise CatalogError(NODE_UNAVAILABLE, {"node": self.label, "reason": self.last_error})
        chain_id = hex_int(chain_id_hex, "chain id")
        if self.chain_id is None:
            self.chain_id = chain_id
            self._load_tokens(chain_id)
        elif chain_id != self.chain_id:
            self._mismatch(chain_id)
        self.wrong_chain_id = None
        self.rpc.expect_chain_id = self.chain_id  # from now on every POST is checked
        self.node_version = version if isinstance(version, str) else "unknown"
        check = self.settings.head_read_check
        self.chain.confirm_head_reads = check == "on" or (
            check == "auto" and self.node_version.lower().startswith("anvil")
        )
        self.genesis = self.chain.remember(genesis)
        if self.chain.rules.genesis_hash != self.genesis.hash:
            self.chain.rules = self._rules(chain_id, self.genesis.hash)
        self.connected = True
        NODE_UP.labels(self.name).set(1)
        self.last_error = None

    def _rules(self, chain_id: int, genesis_hash: str) -> ChainRules:
        given = self.genesis_file
        rules = choose_rules(
            genesis_hash,
            chain_id,
            self.settings.forks,
            None if given is None else given.config,
            None if given is None else given.allocations,
            self.settings.family,
        )
        return dataclasses.replace(rules, genesis_hash=genesis_hash)

    def _mismatch(self, chain_id: int) -> None:
        self.connected = False
        self.wrong_chain_id = chain_id
        self.last_error = f"node chain id {chain_id}, configured {self.chain_id}"
        NODE_UP.labels(self.name).set(0)
        raise ChainIdMismatch(
            f"node {self.label} serves chain id {chain_id}, but the configuration says "
            f"{self.chain_id}; fix chain_id or rpc_url"
        )

    async def keep_connected(self, interval: float = 2.0, healthy_interval: float = 30.0) -> None:
        """Background task: retry until the node answers, then re-check it now and then."""
        while True:
            try:
                await self.probe()
            except ChainIdMismatch as exc:
                log.error("%s", exc)
            except CatalogError as exc:
                log.warning("node %s not reachable yet: %s", self.label, exc.error.message)
            except Exception:  # never let the monitor die
                log.exception("probing node %s failed", self.label)
            await asyncio.sleep(healthy_interval if self.connected else interval)

    async def readiness(self, max_head_age: float) -> list[str]:
        """Live check for /readyz: what is wrong with this network now (empty when ready)."""
        try:
            chain_id, syncing, head = await self.node.batch(
                [NodeClient.chain_id(), NodeClient.syncing(), NodeClient.block("latest")],
                timeout=min(self.settings.rpc_timeout, 5.0),
            )
        except CatalogError as exc:
            return [f"node {self.label} unreachable: {exc.error.message}"]
        problems: list[str] = []
        if isinstance(chain_id, NodeError) or isinstance(head, NodeError) or head is None:
            return [f"node {self.label} did not answer eth_chainId / latest block"]
        if self.chain_id is not None and hex_int(chain_id, "chain id") != self.chain_id:
            problems.append(
                f"node {self.label} serves chain id {hex_int(chain_id, 'chain id')}, "
                f"configured {self.chain_id}"
            )
        header = parse_header(head)
        HEAD.labels(self.name).set(header.number)
        age = time.time() - header.timestamp
        if syncing not in (False, None) and age > max_head_age:
            problems.append(f"node {self.label} is syncing; head is {int(age)} s old")
        if not self.connected and not problems:
            problems.append(f"node {self.label} reachable, not yet probed")
        return problems

    @property
    def name(self) -> str:
        ident = self.identifier
        return f"{ident.blockchain}/{ident.network}" if ident else self.label

    def require_ready(self) -> None:
        if self.wrong_chain_id is not None:
            raise CatalogError(
                WRONG_CHAIN,
                {
                    "node": self.label,
                    "node_chain_id": self.wrong_chain_id,
                    "configured": self.chain_id,
                },
            )
        if not self.connected:
            raise CatalogError(
                NODE_UNAVAILABLE,
                {"node": self.label, "reason": self.last_error or "not connected yet"},
            )

    async def close(self) -> None:
        await self.rpc.close()


def _network_key(identifier: NetworkIdentifier) -> tuple[str, str, str | None]:
    sub = identifier.sub_network_identifier
    return identifier.blockchain, identifier.network, None if sub is None else sub.network


class Networks:
    """The configured networks, looked up by network_identifier."""

    def __init__(self, engines: list[NetworkEngine]) -> None:
        self.engines = engines

    def all(self) -> list[NetworkEngine]:
        return list(self.engines)

    def get(self, identifier: NetworkIdentifier, *, ready: bool = True) -> NetworkEngine:
        key = _network_key(identifier)
        for engine in self.engines:
            own = engine.identifier
            if own is not None and _network_key(own) == key:
                if ready:
                    engine.require_ready()
                return engine
        known: list[Any] = [
            {"blockchain": e.identifier.blockchain, "network": e.identifier.network}
            for e in self.engines
            if e.identifier is not None
        ]
        raise CatalogError(
            UNKNOWN_NETWORK,
            {
                "blockchain": identifier.blockchain[:64],
                "network": identifier.network[:64],
                "configured": known,
            },
        )
