"""Prometheus metrics, in one registry of our own (no process-global default collectors)."""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache, TTLCache
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "rosetta_node_requests_total",
    "HTTP requests by route and outcome (ok, client_error, node_error, internal_error)",
    ["route", "outcome"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "rosetta_node_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
RPC_CALLS = Counter(
    "rosetta_node_rpc_calls_total",
    "JSON-RPC calls sent to nodes by method",
    ["method"],
    registry=REGISTRY,
)
RPC_ERRORS = Counter(
    "rosetta_node_rpc_errors_total",
    "JSON-RPC calls that failed, by method and kind (transport, node)",
    ["method", "kind"],
    registry=REGISTRY,
)
CACHE = Counter(
    "rosetta_node_cache_lookups_total",
    "Cache lookups by cache and result (hit, miss)",
    ["cache", "result"],
    registry=REGISTRY,
)
HEAD = Gauge(
    "rosetta_node_chain_head",
    "Latest block number seen per network",
    ["network"],
    registry=REGISTRY,
)
NODE_UP = Gauge(
    "rosetta_node_node_up",
    "1 when the network's RPC node answered the last probe",
    ["network"],
    registry=REGISTRY,
)
INDEX_HEAD = Gauge(
    "rosetta_node_index_head",
    "Last block in the Transfer-log index per network",
    ["network"],
    registry=REGISTRY,
)
INDEX_LAG = Gauge(
    "rosetta_node_index_lag_blocks",
    "Blocks between the chain head and the index per network",
    ["network"],
    registry=REGISTRY,
)
HISTORY_HEAD = Gauge(
    "rosetta_node_history_head",
    "Last block in the history index per network",
    ["network"],
    registry=REGISTRY,
)
HISTORY_LAG = Gauge(
    "rosetta_node_history_lag_blocks",
    "Blocks between the chain head and the history index per network",
    ["network"],
    registry=REGISTRY,
)


_CHILDREN: dict[tuple[int, tuple[str, ...]], Any] = {}


def child(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept: labels() takes a lock and hashes on every call, and the
    request path counts several times a request. (Label values here come from fixed sets:
    routes, outcomes, RPC method names.)"""
    key = (id(metric), labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = _CHILDREN[key] = metric.labels(*labels)
    return found


class _Counting:
    """Mixin counting hits and misses of ``get``, the only lookup our code uses."""

    metric_name = ""
    _hit: Any = None
    _miss: Any = None

    def _bind(self, name: str) -> None:
        # labels() costs ~1.5-2 us a call (tuple, lock, dict): resolve both children once.
        self.metric_name = name
        self._hit = CACHE.labels(name, "hit")
        self._miss = CACHE.labels(name, "miss")

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)  # type: ignore[misc]
        (self._miss if value is default else self._hit).inc()
        return value


class CountingLRU(_Counting, LRUCache):  # type: ignore[type-arg]
    def __init__(self, name: str, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self._bind(name)


class CountingTTL(_Counting, TTLCache):  # type: ignore[type-arg]
    def __init__(self, name: str, maxsize: int, ttl: float) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl)
        self._bind(name)
