"""Configuration: a TOML file overlaid by environment variables (the environment wins).

File layout::

    [server]
    host = "0.0.0.0"
    port = 8080

    [[networks]]
    blockchain = "Ethereum"
    network = "mainnet"
    chain_id = 1
    rpc_url = "http://geth:8545"
    token_list = "tokens.json"        # Uniswap token-list JSON
    genesis_file = "genesis.json"     # optional allocation file
    [networks.native]
    symbol = "ETH"
    decimals = 18

Environment: ``ROSETTA_NODE_CONFIG`` (file path), ``ROSETTA_NODE_HOST``/``_PORT``/``_LOG_LEVEL``;
``ROSETTA_NODE_<KEY>`` for the first network (``RPC_URL``, ``CHAIN_ID``, ``BLOCKCHAIN``,
``NETWORK``, ``TOKEN_LIST``, ``GENESIS_FILE``, ``NATIVE_SYMBOL``, ``NATIVE_DECIMALS``, ...) and
``ROSETTA_NODE_NETWORKS_<i>_<KEY>`` for network ``i``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

ENV_PREFIX = "ROSETTA_NODE_"
API_FAMILIES = ("rosetta", "sequence", "chainbase")
_LIST_KEYS = {"api_keys", "keyed_apis", "rate_limited_apis", "forwarded_allow_ips"}
HEAD_READ_CHECKS = ("auto", "on", "off")

# Network names for well-known chain ids, used when a network is named from its chain id.
KNOWN_CHAINS: dict[int, tuple[str, str]] = {
    1: ("Ethereum", "mainnet"),
    11155111: ("Ethereum", "sepolia"),
    17000: ("Ethereum", "holesky"),
    560048: ("Ethereum", "hoodi"),
    10: ("Optimism", "mainnet"),
    137: ("Polygon", "mainnet"),
    8453: ("Base", "mainnet"),
    42161: ("Arbitrum", "mainnet"),
    31337: ("Ethereum", "devnet"),
}


class ConfigError(ValueError):
    """A configuration problem; the message names the bad key."""


class NativeCurrency(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str = "ETH"
    decimals: int = 18


class NetworkSettings(msgspec.Struct, forbid_unknown_fields=True):
    rpc_url: str
    chain_id: int | None = None
    blockchain: str | None = None
    network: str | None = None
    native: NativeCurrency = msgspec.field(default_factory=NativeCurrency)
    token_list: str | None = None
    genesis_file: str | None = None
    rpc_timeout: float = 10.0
    rpc_retries: int = 2
    rpc_max_connections: int = 32
    trace_timeout: float = 60.0
    # ERC-20 Transfer-log index (``rosetta-node index``): one SQLite file per network, or
    # (not both) a PostgreSQL URL that several replicas share, one schema per network.
    index_db: str | None = None
    index_url: str | None = None  # postgresql://user:password@host:5432/database
    index_start_block: int = 0
    index_confirmations: int = 0
    index_retention: int = 256
    index_poll_interval: float = 1.0  # serve: how often the follower polls the head
    index_max_lag: int = 64  # /readyz: the index may trail the head by this many blocks
    # History index (/events/blocks, /search/transactions): every operation of /block, kept
    # in the same store as the Transfer-log index (index_db or index_url), from this block.
    history: bool = False
    history_start_block: int = 0
    # Confirm state reads at the head block (Chain.read_state): "auto" does for anvil, whose
    # head state is its live database; "on" for other nodes like it; "off" never.
    head_read_check: str = "auto"
    # Many ERC-20 balances in one eth_call (engine/balance_reader.py: a read-only contract's
    # init code, run without deploying it) instead of one eth_call per token.
    multicall: bool = True
    # Fork schedule (geth's chain config names: byzantiumBlock, daoForkBlock, cancunTime, ...):
    # wins over genesis_file's config and the built-in schedules (engine/forks.py).
    forks: dict[str, int | bool | str | dict[str, Any]] | None = None
    # The chain's family, "ethereum" or "op-stack" (deposits, L1 and operator fees, fee
    # vaults); by default from the chain id (OP Mainnet, Base and their testnets) or from an
    # "optimism" section in the schedule.
    family: str | None = None
    # Gas given to every eth_call, /call's and our own (geth's --rpc.gascap default): a
    # client's larger gas is lowered to it, so one call cannot pin the node's CPU.
    call_gas_cap: int = 50_000_000

    def names(self, chain_id: int) -> tuple[str, str]:
        """(blockchain, network) as configured, else from the chain id."""
        blockchain, network = KNOWN_CHAINS.get(chain_id, ("Ethereum", f"chain-{chain_id}"))
        return self.blockchain or blockchain, self.network or network


class ServerSettings(msgspec.Struct, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    max_body_bytes: int = 1_000_000
    request_timeout: float = 60.0  # seconds one request may take, node calls included
    ready_max_head_age: float = 120.0  # /readyz: a syncing node's head must be this fresh
    log_format: str = "auto"  # auto (JSON unless on a terminal), json, text
    # Accepted API keys (none: open), and requests per minute per key (or per client address)
    # before a refusal (0: no limit); for the API families named by keyed_apis and
    # rate_limited_apis (rosetta, sequence, chainbase; the operator routes never).
    api_keys: list[str] = msgspec.field(default_factory=list)
    rate_limit_per_minute: int = 0
    keyed_apis: list[str] = msgspec.field(default_factory=lambda: list(API_FAMILIES))
    rate_limited_apis: list[str] = msgspec.field(default_factory=lambda: list(API_FAMILIES))
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks,
    # "*" for any); none by default: the client address is the connection's.
    forwarded_allow_ips: list[str] = msgspec.field(default_factory=list)
    # Connection hygiene (api/protocol.py): the request line and headers at most this size
    # (431 past it); a whole request (head and body) received within client_timeout seconds
    # of its first byte (408 otherwise); at most max_connections open (lowered to fit the
    # descriptor limit), past which the connection waiting longest for its request is closed,
    # or, when every one is busy, the new one gets a 503.
    max_header_bytes: int = 65_536
    client_timeout: float = 10.0
    max_connections: int = 1000


class Settings(msgspec.Struct, forbid_unknown_fields=True):
    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    networks: list[NetworkSettings] = msgspec.field(default_factory=list)


_NETWORK_KEYS = set(NetworkSettings.__struct_fields__) - {"native"}
# Variables with our prefix that are not settings of a running node.
_NOT_SETTINGS = {ENV_PREFIX + "CONFIG", ENV_PREFIX + "TOOLS_DIR"}
_SERVER_KEYS = set(ServerSettings.__struct_fields__)


def _set_network_key(net: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key == "forks" and isinstance(value, str):  # a JSON object in the environment
        try:
            net[key] = msgspec.json.decode(value)
        except msgspec.DecodeError as exc:
            raise ConfigError(f"{where}: expected a JSON object ({exc})") from None
    elif key in ("native_symbol", "native_decimals"):
        net.setdefault("native", {})[key.removeprefix("native_")] = value
    elif key in _NETWORK_KEYS:
        net[key] = value
    else:
        raise ConfigError(f"{where}: unknown setting {key.upper()!r}")


def _overlay_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    networks: list[dict[str, Any]] = raw.setdefault("networks", [])
    server: dict[str, Any] = raw.setdefault("server", {})
    for name, value in sorted(env.items()):
        if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
            continue
        key = name.removeprefix(ENV_PREFIX).lower()
        if key in _LIST_KEYS:  # a comma-separated list in the environment
            server[key] = [k.strip() for k in value.split(",") if k.strip()]
        elif key in _SERVER_KEYS:
            server[key] = value
        elif key.startswith("networks_"):
            index_text, _, sub = key.removeprefix("networks_").partition("_")
            if not index_text.isdigit() or not sub:
                raise ConfigError(f"{name}: expected ROSETTA_NODE_NETWORKS_<index>_<KEY>")
            index = int(index_text)
            while len(networks) <= index:
                networks.append({})
            _set_network_key(networks[index], sub, value, name)
        elif key in _NETWORK_KEYS or key.startswith("native_"):
            if not networks:
                networks.append({})
            _set_network_key(networks[0], key, value, name)
        else:
            raise ConfigError(f"{name}: unknown setting")


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the file (if any), overlay the environment, then ``overrides`` (CLI flags)."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_PREFIX + "CONFIG")
    raw: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path:
        file = Path(path)
        try:
            raw = tomllib.loads(file.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {str(file)!r} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(file)!r} is not valid TOML: {exc}") from None
        base_dir = file.resolve().parent
    _overlay_env(raw, env)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key in _SERVER_KEYS:
            raw["server"][key] = value
        else:
            if not raw["networks"]:
                raw["networks"].append({})
            _set_network_key(raw["networks"][0], key, value, f"--{key.replace('_', '-')}")
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_readable(str(exc))}") from None
    _check(settings, base_dir)
    return settings


def _readable(msg: str) -> str:
    # msgspec says "... - at `$.networks[0].chain_id`"; name the key first.
    text, sep, where = msg.rpartition(" - at ")
    if not sep:
        return msg
    return f"{where.strip('`').removeprefix('$.')}: {text}"


def _check(settings: Settings, base_dir: Path) -> None:
    if not settings.networks:
        raise ConfigError("networks: no network configured (give rpc_url, or --rpc-url)")
    if settings.server.request_timeout <= 0:
        raise ConfigError("server.request_timeout: must be positive")
    if settings.server.rate_limit_per_minute < 0:
        raise ConfigError("server.rate_limit_per_minute: must not be negative")
    server = settings.server
    for key in ("keyed_apis", "rate_limited_apis"):
        unknown = set(getattr(server, key)) - set(API_FAMILIES)
        if unknown:
            raise ConfigError(
                f"server.{key}: unknown API {sorted(unknown)[0]!r} (expected rosetta, sequence,"
                " chainbase)"
            )
    if server.max_header_bytes < 1024:
        raise ConfigError("server.max_header_bytes: must be at least 1024")
    if server.client_timeout <= 0:
        raise ConfigError("server.client_timeout: must be positive")
    if server.max_connections < 1:
        raise ConfigError("server.max_connections: must be at least 1")
    if not 0 < settings.server.port < 65536:
        raise ConfigError(f"server.port: {settings.server.port} is not a TCP port")
    for i, net in enumerate(settings.networks):
        where = f"networks[{i}]"
        parts = urlsplit(net.rpc_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}.rpc_url: expected an http(s) URL")
        if net.chain_id is not None and net.chain_id <= 0:
            raise ConfigError(f"{where}.chain_id: must be a positive integer")
        if not 0 <= net.native.decimals <= 77:
            raise ConfigError(f"{where}.native.decimals: must be between 0 and 77")
        if net.rpc_timeout <= 0:
            raise ConfigError(f"{where}.rpc_timeout: must be positive")
        if net.call_gas_cap < 21_000:
            raise ConfigError(f"{where}.call_gas_cap: must be at least 21000")
        if net.rpc_retries < 0:
            raise ConfigError(f"{where}.rpc_retries: must not be negative")
        if net.index_start_block < 0:
            raise ConfigError(f"{where}.index_start_block: must not be negative")
        if net.index_confirmations < 0:
            raise ConfigError(f"{where}.index_confirmations: must not be negative")
        if net.index_retention < 1:
            raise ConfigError(f"{where}.index_retention: must be at least 1")
        if net.index_poll_interval <= 0:
            raise ConfigError(f"{where}.index_poll_interval: must be positive")
        if net.history_start_block < 0:
            raise ConfigError(f"{where}.history_start_block: must not be negative")
        if net.history and not (net.index_db or net.index_url):
            raise ConfigError(
                f"{where}.history: the history lives in the index store: give index_db or index_url"
            )
        if net.index_max_lag < 0:
            raise ConfigError(f"{where}.index_max_lag: must not be negative")
        if net.family is not None and net.family not in ("ethereum", "op-stack"):
            raise ConfigError(f"{where}.family: expected ethereum or op-stack")
        if net.head_read_check not in HEAD_READ_CHECKS:
            raise ConfigError(f"{where}.head_read_check: expected one of auto, on, off")
        if net.index_url is not None:
            if net.index_db is not None:
                raise ConfigError(
                    f"{where}.index_url: give index_db (SQLite) or index_url (PostgreSQL), not both"
                )
            if urlsplit(net.index_url).scheme not in ("postgresql", "postgres"):
                raise ConfigError(f"{where}.index_url: expected a postgresql:// URL")
        if net.index_db is not None and not Path(net.index_db).is_absolute():
            net.index_db = str(base_dir / net.index_db)  # created on first use
        for key in ("token_list", "genesis_file"):
            value = getattr(net, key)
            if value is None:
                continue
            file = Path(value) if Path(value).is_absolute() else base_dir / value
            if not file.is_file():
                raise ConfigError(f"{where}.{key}: file {str(file)!r} does not exist")
            setattr(net, key, str(file))
    named = [(n.blockchain, n.network) for n in settings.networks if n.network]
    if len(named) != len(set(named)):
        raise ConfigError("networks: two networks have the same blockchain and network names")


def redact_url(url: str) -> str:
    """An RPC URL fit for logs and error bodies: no credentials, no query, no path tokens."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    path = "/..." if parts.path not in ("", "/") else parts.path
    return urlunsplit((parts.scheme, host, path, "", ""))
