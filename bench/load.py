#!/usr/bin/env python
"""Bounded load test: mixed Rosetta routes at the highest rate the machine sustains.

One run, loopback only, stops by itself after ``--duration`` seconds and stops everything it
started (anvil, our node) in ``finally`` blocks:

1. starts anvil (free port, pinned version via :mod:`rosetta_node.devnet`) and runs the test
   workload on it (:func:`tests.workload.run_workload`: ETH transfers, internal calls, reverts,
   CREATE/CREATE2, SELFDESTRUCT, ERC-20 mint/transfer/burn over ``--blocks`` blocks), writes
   the token list (every workload token but the last, as the test fixtures do) and starts our
   node as a subprocess (``python -m rosetta_node serve ... --log-level warning``);
2. drives ``--concurrency`` closed-loop aiohttp workers (each sends its next request when the
   previous answer arrived) over a weighted mix of routes: ``/network/status``,
   ``/network/list``, ``/network/options``, ``/account/balance`` at the head and at past
   blocks (by index, by hash, both; native alone, native + every tracked token, explicit
   currency lists), ``/block`` (by index and by hash), ``/block/transaction``, ``/call``
   (``eth_getBalance``, ``eth_call`` balanceOf, ``eth_getBlockByNumber``, ``eth_blockNumber``)
   and a small share of intended errors (an invalid address: error 4; a block past the head:
   error 5/25). Meanwhile a miner task adds one ETH transfer block every ``--mine-interval``
   seconds, so the head moves and caches keyed by block hash keep turning over;
3. checks every answer: the status, the route's response schema from ``specs/rosetta.yaml``
   (200) or the Error schema (500) with a code advertised in ``/network/options`` and the
   catalog's message; ``/block`` answers against the block hash anvil reported; and spot-checks
   ``--spot-check`` (default 1 in 10) of the ``/account/balance`` answers against raw
   ``eth_getBalance`` / ``eth_getTransactionCount`` / ``balanceOf`` at the answered block hash
   (EIP-1898 ``{"blockHash": ...}``);
4. every 10 s prints requests/s, p50/p99 latency, errors by kind and the node's RSS (VmRSS from
   ``/proc/<pid>/status``, sampled every second); at the end the totals, the unintended errors,
   the spot checks and whether the RSS is flat after warm-up (median RSS of the last third of
   the run against the middle third, in %), and writes everything as JSON (``--out``).

Usage::

    .venv/bin/python bench/load.py [--duration 600] [--concurrency 16] [--out report.json]

Exit status: 0 when no unintended error and no wrong answer occurred and the RSS growth after
warm-up is at most ``--max-rss-growth`` percent; 1 otherwise; 2 when the setup failed.
Latency and throughput are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rosetta_node.devnet import Anvil  # noqa: E402
from tests.support.node import NodeProcess  # noqa: E402
from tests.support.rpc import rpc_batch  # noqa: E402
from tests.support.rpc import rpc_call as rpc  # noqa: E402

NETWORK = {"blockchain": "Ethereum", "network": "devnet"}
CHAIN_ID = 31337
ETH = {"symbol": "ETH", "decimals": 18}
BALANCE_OF = "0x70a08231"
SPEC = ROOT / "specs" / "rosetta.yaml"
REPORT_EVERY = 10.0
RSS_EVERY = 1.0
REQUEST_TIMEOUT = 30.0
MAX_EXAMPLES_KEPT = 20  # examples of each unintended error kind kept for the report

_encode = msgspec.json.encode
_decode = msgspec.json.decode


# --------------------------------------------------------------------------------------------
# Setup: the workload (set-up JSON-RPC through tests.support.rpc), the node
# --------------------------------------------------------------------------------------------


@dataclass
class Chain:
    """What the workload left on anvil, as the load mix needs it."""

    accounts: list[str]
    tokens: list[dict[str, Any]]  # tracked: {address, symbol, decimals}
    untracked: dict[str, Any]
    first_block: int
    last_block: int
    block_hashes: dict[int, str]  # 0..last_block
    transactions: list[tuple[int, str, str]]  # (block index, block hash, tx hash)
    dev_accounts: list[str]


def prepare_chain(anvil_url: str, blocks: int, token_list: Path) -> Chain:
    from tests.workload import run_workload, write_token_list

    result = run_workload(anvil_url, min_blocks=blocks)
    tracked, untracked = result.tokens[:-1], result.tokens[-1]
    write_token_list(token_list, tracked, CHAIN_ID)
    headers = rpc_batch(
        anvil_url,
        [("eth_getBlockByNumber", [hex(n), False]) for n in range(result.last_block + 1)],
    )
    block_hashes = {int(h["number"], 16): h["hash"] for h in headers}
    tx_hashes = sorted({h for hashes in result.tx_hashes.values() for h in hashes})
    receipts = rpc_batch(anvil_url, [("eth_getTransactionReceipt", [h]) for h in tx_hashes])
    transactions = [
        (int(r["blockNumber"], 16), r["blockHash"], h)
        for h, r in zip(tx_hashes, receipts, strict=True)
    ]

    def currency(token: Any) -> dict[str, Any]:
        return {"address": token.address, "symbol": token.symbol, "decimals": token.decimals}

    return Chain(
        accounts=list(result.accounts),
        tokens=[currency(t) for t in tracked],
        untracked=currency(untracked),
        first_block=result.first_block,
        last_block=result.last_block,
        block_hashes=block_hashes,
        transactions=transactions,
        dev_accounts=list(rpc(anvil_url, "eth_accounts")),
    )


def start_node(rpc_url: str, token_list: Path, workdir: Path) -> NodeProcess:
    """Our node in front of ``rpc_url`` (``--log-level warning``, log in ``workdir``), ready."""
    node = NodeProcess(
        ["--rpc-url", rpc_url, "--chain-id", str(CHAIN_ID), "--token-list", str(token_list)],
        start=False,
        host="127.0.0.1",
        log_level="warning",
        log_path=workdir / "node.log",
        network=NETWORK,
    )
    try:
        return node.start()
    except BaseException:
        node.stop()
        raise


def rss_kb(pid: int) -> int | None:
    """VmRSS of a process in kB (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------------------------
# Answer checks: the spec's schemas and the error catalog
# --------------------------------------------------------------------------------------------


class Shapes:
    """Validators for each route's 200 body and the Error body, from specs/rosetta.yaml."""

    def __init__(self, spec: Path = SPEC) -> None:
        doc = yaml.safe_load(spec.read_text(encoding="utf-8"))
        self._ok: dict[str, Callable[[Any], list[str]]] = {}
        for route, item in doc["paths"].items():
            ok = item["post"]["responses"].get("200")
            if ok is not None:  # /account/coins never succeeds on an EVM chain
                schema = ok["content"]["application/json"]["schema"]
                self._ok[route] = self._validator(doc, schema)
        self._error = self._validator(doc, {"$ref": "#/components/schemas/Error"})

    @staticmethod
    def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> Callable[[Any], list[str]]:
        root = {**schema, "components": doc["components"]}
        try:  # jsonschema-rs (a schemathesis dependency) is ~100x faster than jsonschema
            import jsonschema_rs

            fast = jsonschema_rs.Draft202012Validator(root)

            def check_fast(body: Any) -> list[str]:
                if fast.is_valid(body):
                    return []
                return [f"{e.instance_path}: {e.message}"[:300] for e in fast.iter_errors(body)]

            return check_fast
        except ImportError:
            from jsonschema import Draft202012Validator

            slow = Draft202012Validator(root)
            return lambda body: [
                f"{list(e.absolute_path)}: {e.message}"[:300] for e in slow.iter_errors(body)
            ]

    def problems(self, route: str, status: int, body: Any) -> list[str]:
        if status == 200 and route in self._ok:
            return self._ok[route](body)
        if status == 500:
            return self._error(body)
        return [f"status {status} is not documented"]


# --------------------------------------------------------------------------------------------
# The request mix
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    kind: str  # a name for the report, e.g. "balance/historical-index"
    route: str
    body: dict[str, Any]
    intended_errors: frozenset[int] = frozenset()  # error codes this request is meant to get
    expect_block: tuple[int, str] | None = None  # /block: the (index, hash) it must answer
    expect_tx: str | None = None  # /block/transaction: the transaction hash it must answer


class Mix:
    """Draws requests from the weighted mix over the workload's chain."""

    def __init__(self, chain: Chain, rng: random.Random) -> None:
        self.chain = chain
        self.rng = rng
        self.tokens = [
            {
                "symbol": t["symbol"],
                "decimals": t["decimals"],
                "metadata": {"contractAddress": t["address"]},
            }
            for t in chain.tokens
        ]
        self.kinds: list[tuple[str, int, Callable[[], Request]]] = [
            ("network/status", 10, self.network_status),
            ("network/list", 4, lambda: Request("network/list", "/network/list", {})),
            ("network/options", 4, self.network_options),
            ("balance/current-native+tokens", 12, self.balance_current),
            ("balance/historical", 24, self.balance_historical),
            ("block", 14, self.block),
            ("block/transaction", 10, self.block_transaction),
            ("call", 10, self.call),
            ("intended-error", 2, self.intended_error),
        ]
        self._names = [k[0] for k in self.kinds]
        self._weights = [k[1] for k in self.kinds]
        self._makers = {k[0]: k[2] for k in self.kinds}

    def draw(self) -> Request:
        name = self.rng.choices(self._names, self._weights)[0]
        return self._makers[name]()

    def _block(self) -> tuple[int, str]:
        index = self.rng.randint(0, self.chain.last_block)
        return index, self.chain.block_hashes[index]

    def _block_identifier(self) -> tuple[str, dict[str, Any]]:
        index, block_hash = self._block()
        how = self.rng.choice(("index", "hash", "both"))
        if how == "index":
            return how, {"index": index}
        if how == "hash":
            return how, {"hash": block_hash}
        return how, {"index": index, "hash": block_hash}

    def _currencies(self) -> tuple[str, list[dict[str, Any]] | None]:
        pick = self.rng.random()
        if pick < 0.3:
            return "native", [ETH]
        if pick < 0.6:
            return "all", None  # native + every tracked token
        if pick < 0.9:
            chosen = self.rng.sample(self.tokens, self.rng.randint(1, len(self.tokens)))
            return "some", [ETH, *chosen]
        untracked = self.chain.untracked
        token = {
            "symbol": untracked["symbol"],
            "decimals": untracked["decimals"],
            "metadata": {"contractAddress": untracked["address"].lower()},
        }
        return "untracked", [ETH, token]

    def network_status(self) -> Request:
        return Request("network/status", "/network/status", {"network_identifier": NETWORK})

    def network_options(self) -> Request:
        return Request("network/options", "/network/options", {"network_identifier": NETWORK})

    def balance_current(self) -> Request:
        body = {
            "network_identifier": NETWORK,
            "account_identifier": {"address": self.rng.choice(self.chain.accounts)},
        }
        return Request("balance/current", "/account/balance", body)

    def balance_historical(self) -> Request:
        how, ident = self._block_identifier()
        which, currencies = self._currencies()
        body: dict[str, Any] = {
            "network_identifier": NETWORK,
            "account_identifier": {"address": self.rng.choice(self.chain.accounts)},
            "block_identifier": ident,
        }
        if currencies is not None:
            body["currencies"] = currencies
        return Request(f"balance/historical-{how}-{which}", "/account/balance", body)

    def block(self) -> Request:
        index, block_hash = self._block()
        ident = {"index": index} if self.rng.random() < 0.5 else {"hash": block_hash}
        return Request(
            "block",
            "/block",
            {"network_identifier": NETWORK, "block_identifier": ident},
            expect_block=(index, block_hash),
        )

    def block_transaction(self) -> Request:
        index, block_hash, tx_hash = self.rng.choice(self.chain.transactions)
        body = {
            "network_identifier": NETWORK,
            "block_identifier": {"index": index, "hash": block_hash},
            "transaction_identifier": {"hash": tx_hash},
        }
        return Request("block/transaction", "/block/transaction", body, expect_tx=tx_hash)

    def call(self) -> Request:
        index, block_hash = self._block()
        pick = self.rng.randrange(4)
        if pick == 0:
            method = "eth_getBalance"
            params: dict[str, Any] = {
                "address": self.rng.choice(self.chain.accounts),
                "block_identifier": {"hash": block_hash},
            }
        elif pick == 1:
            method = "eth_call"
            holder = self.rng.choice(self.chain.accounts)
            params = {
                "to": self.rng.choice(self.chain.tokens)["address"],
                "data": BALANCE_OF + holder[2:].lower().rjust(64, "0"),
                "block_identifier": {"index": index},
            }
        elif pick == 2:
            method = "eth_getBlockByNumber"
            params = {"index": index}
        else:
            method, params = "eth_blockNumber", {}
        body = {"network_identifier": NETWORK, "method": method, "parameters": params}
        return Request(f"call/{method}", "/call", body)

    def intended_error(self) -> Request:
        if self.rng.random() < 0.5:
            body = {
                "network_identifier": NETWORK,
                "account_identifier": {"address": "0x1234"},
            }
            return Request("intended/invalid-address", "/account/balance", body, frozenset({4}))
        past_head: dict[str, Any] = {
            "network_identifier": NETWORK,
            "block_identifier": {"index": self.chain.last_block + 10**9},
        }
        return Request("intended/block-past-head", "/block", past_head, frozenset({5, 25}))


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


@dataclass
class LoadConfig:
    node_url: str
    rpc_url: str
    node_pid: int
    chain: Chain
    duration: float = 600.0
    concurrency: int = 16
    spot_check: float = 0.1
    mine_interval: float = 2.0  # 0: the chain stays as it is
    seed: int = 1
    report_every: float = REPORT_EVERY
    quiet: bool = False


@dataclass
class Interval:
    started: float
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class State:
    catalog: dict[int, dict[str, Any]]
    shapes: Shapes
    interval: Interval
    intervals: list[dict[str, Any]] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)  # by request kind
    latency_by_route: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    intended: Counter[str] = field(default_factory=Counter)
    unintended: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    spot_checks: int = 0
    spot_check_values: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    # Balance answers kept for the comparison at the end: (raw calls, request, answer).
    pending_checks: list[tuple[list[tuple[str, list]], Any, Any]] = field(default_factory=list)
    block_checks: int = 0
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds, kB)
    mined: int = 0
    miner_errors: int = 0

    def unintended_error(self, kind: str, request: Request, detail: Any) -> None:
        self.unintended[kind] += 1
        self.interval.errors[kind] += 1
        examples = self.examples[kind]
        if len(examples) < MAX_EXAMPLES_KEPT:
            examples.append({"route": request.route, "request": request.body, "detail": detail})


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


async def _raw(session: aiohttp.ClientSession, url: str, calls: list[tuple[str, list]]) -> list:
    body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
    async with session.post(url, data=_encode(body)) as resp:
        answer = _decode(await resp.read())
    by_id = {item["id"]: item for item in answer}
    out = []
    for i in range(len(calls)):
        item = by_id[i]
        if "error" in item:
            raise RuntimeError(f"{calls[i][0]}: {item['error']}")
        out.append(item["result"])
    return out


def spot_check_balance(state: State, request: Request, body: Any) -> None:
    """Keep one /account/balance answer to compare with raw JSON-RPC at its block hash.

    The comparison waits for the end of the run (settle_spot_checks): anvil answers a read at
    its head block from its live database, so a read racing the next block's commit sees that
    block's state (tests/test_head_state_race.py). Once every answered block is below the head,
    the raw answer at a hash is the block's own; a raw read made while the run goes on could be
    the wrong one, and could agree with a wrong answer of ours.
    """
    address = request.body["account_identifier"]["address"]
    block = {"blockHash": body["block_identifier"]["hash"]}
    calls: list[tuple[str, list]] = [("eth_getTransactionCount", [address, block])]
    for amount in body["balances"]:
        contract = (amount["currency"].get("metadata") or {}).get("contractAddress")
        if contract is None:
            calls.append(("eth_getBalance", [address, block]))
        else:
            data = BALANCE_OF + address[2:].lower().rjust(64, "0")
            calls.append(("eth_call", [{"to": contract, "data": data}, block]))
    state.spot_checks += 1
    state.spot_check_values += len(body["balances"])
    state.pending_checks.append((calls, request.body, body))


def balance_differences(body: Any, results: list[Any]) -> list[dict[str, Any]]:
    """Where an /account/balance answer differs from raw [nonce, *balances] reads."""
    nonce = int(results[0], 16)
    wrong = []
    if body["metadata"]["nonce"] != nonce:
        wrong.append({"what": "nonce", "ours": body["metadata"]["nonce"], "raw": nonce})
    for amount, result in zip(body["balances"], results[1:], strict=True):
        expected = 0 if result in ("0x", None) else int(result, 16)
        if int(amount["value"]) != expected:
            wrong.append({"what": amount["currency"], "ours": amount["value"], "raw": expected})
    return wrong


async def settle_spot_checks(state: State, raw: aiohttp.ClientSession, rpc_url: str) -> None:
    """Compare the kept balance answers with the node, now that mining has stopped."""
    if not state.pending_checks:
        return
    await _raw(raw, rpc_url, [("evm_mine", [])])  # the last answered block is settled too
    gate = asyncio.Semaphore(8)

    async def check(calls: list[tuple[str, list]], request: Any, body: Any) -> None:
        async with gate:
            try:
                results = await _raw(raw, rpc_url, calls)
            except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError) as exc:
                state.mismatches.append({"request": request, "check_failed": repr(exc)})
                return
        wrong = balance_differences(body, results)
        if wrong:
            state.mismatches.append(
                {"request": request, "block": body["block_identifier"], "wrong": wrong}
            )

    await asyncio.gather(*(check(*kept) for kept in state.pending_checks))
    state.pending_checks.clear()


async def worker(
    state: State,
    config: LoadConfig,
    mix: Mix,
    session: aiohttp.ClientSession,
    raw: aiohttp.ClientSession,
    deadline: float,
) -> None:
    rng = mix.rng
    while time.monotonic() < deadline:
        request = mix.draw()
        payload = _encode(request.body)
        started = time.perf_counter()
        try:
            async with session.post(config.node_url + request.route, data=payload) as resp:
                status = resp.status
                content = await resp.read()
        except TimeoutError:
            state.unintended_error("timeout", request, None)
            continue
        except aiohttp.ClientError as exc:
            state.unintended_error(f"connection: {type(exc).__name__}", request, str(exc))
            await asyncio.sleep(0.1)
            continue
        elapsed = time.perf_counter() - started
        if time.monotonic() > deadline + 1.0:
            break  # an answer that arrived after the end is not counted
        state.interval.requests += 1
        state.interval.latencies.append(elapsed)
        state.latency_by_route[request.route].append(elapsed)
        state.requests[request.kind] += 1
        try:
            body = _decode(content)
        except msgspec.DecodeError:
            state.unintended_error(f"not JSON (HTTP {status})", request, content[:300].decode())
            continue
        problems = state.shapes.problems(request.route, status, body)
        if problems:
            state.unintended_error(f"shape {request.route} HTTP {status}", request, problems[:5])
            continue
        if status == 500:
            code = body["code"]
            advertised = state.catalog.get(code)
            if advertised is None or advertised["message"] != body["message"]:
                state.unintended_error(f"error {code} not in catalog", request, body)
            elif code in request.intended_errors:
                state.intended[f"{code} {body['message']}"] += 1
            else:
                state.unintended_error(f"error {code} {body['message']}", request, body)
            continue
        if request.intended_errors:
            state.unintended_error(f"intended error not raised: {request.kind}", request, body)
            continue
        if request.expect_block is not None:
            state.block_checks += 1
            ident = body["block"]["block_identifier"]
            if (ident["index"], ident["hash"]) != request.expect_block:
                state.mismatches.append(
                    {"request": request.body, "ours": ident, "raw": request.expect_block}
                )
        if request.expect_tx is not None:
            state.block_checks += 1
            answered = body["transaction"]["transaction_identifier"]["hash"]
            if answered != request.expect_tx:
                state.mismatches.append(
                    {"request": request.body, "ours": answered, "raw": request.expect_tx}
                )
        if request.route == "/account/balance" and rng.random() < config.spot_check:
            spot_check_balance(state, request, body)


async def miner(state: State, config: LoadConfig, raw: aiohttp.ClientSession, stop: float) -> None:
    """One block with an ETH transfer every ``mine_interval`` seconds: the head keeps moving."""
    if config.mine_interval <= 0:
        return
    rng = random.Random(config.seed + 1)
    senders = config.chain.dev_accounts[1:] or config.chain.dev_accounts
    while time.monotonic() + config.mine_interval < stop:
        await asyncio.sleep(config.mine_interval)
        tx = {
            "from": rng.choice(senders),
            "to": rng.choice(config.chain.accounts),
            "value": hex(rng.randint(1, 10**12)),
        }
        try:
            await _raw(raw, config.rpc_url, [("eth_sendTransaction", [tx])])
            state.mined += 1
        except (aiohttp.ClientError, TimeoutError, RuntimeError):
            state.miner_errors += 1


async def monitor(state: State, config: LoadConfig, started: float, stop: float) -> None:
    next_rss = started
    next_report = started + config.report_every
    while True:
        now = time.monotonic()
        if now >= next_rss:
            kb = rss_kb(config.node_pid)
            if kb is not None:
                state.rss.append((round(now - started, 1), kb))
            next_rss += RSS_EVERY
        if now >= next_report or now >= stop:
            close_interval(state, config, started, now)
            next_report += config.report_every
            if now >= stop:
                return
        await asyncio.sleep(min(next_rss, next_report, stop) - time.monotonic())


def close_interval(state: State, config: LoadConfig, started: float, now: float) -> None:
    interval, state.interval = state.interval, Interval(now)
    seconds = max(1e-9, now - interval.started)
    row: dict[str, Any] = {
        "t": round(now - started, 1),
        "seconds": round(seconds, 2),
        "requests": interval.requests,
        "rps": round(interval.requests / seconds, 1),
        "p50_ms": _ms(percentile(interval.latencies, 50)),
        "p99_ms": _ms(percentile(interval.latencies, 99)),
        "max_ms": _ms(max(interval.latencies) if interval.latencies else None),
        "errors": dict(interval.errors),
        "rss_mb": round(state.rss[-1][1] / 1024, 1) if state.rss else None,
    }
    state.intervals.append(row)
    if not config.quiet:
        errors = ", ".join(f"{k}: {v}" for k, v in row["errors"].items()) or "none"
        print(
            f"t={row['t']:6.0f}s  {row['rps']:7.1f} req/s  p50 {row['p50_ms'] or 0:7.2f} ms  "
            f"p99 {row['p99_ms'] or 0:7.2f} ms  errors: {errors}  node RSS {row['rss_mb']} MB",
            flush=True,
        )


def rss_verdict(rss: list[tuple[float, int]], duration: float) -> dict[str, Any]:
    """Median RSS of the last third of the run against the middle third (first = warm-up)."""
    middle = [kb for t, kb in rss if duration / 3 <= t < 2 * duration / 3]
    last = [kb for t, kb in rss if t >= 2 * duration / 3]
    if not middle or not last:
        return {"growth_pct": None, "middle_median_mb": None, "last_median_mb": None}
    mid, end = statistics.median(middle), statistics.median(last)
    return {
        "middle_median_mb": round(mid / 1024, 2),
        "last_median_mb": round(end / 1024, 2),
        "growth_pct": round((end - mid) / mid * 100, 2),
        "first_mb": round(rss[0][1] / 1024, 2),
        "max_mb": round(max(kb for _, kb in rss) / 1024, 2),
    }


async def fetch_catalog(session: aiohttp.ClientSession, node_url: str) -> dict[int, Any]:
    async with session.post(
        node_url + "/network/options", data=_encode({"network_identifier": NETWORK})
    ) as resp:
        options = _decode(await resp.read())
    return {e["code"]: e for e in options["allow"]["errors"]}


async def run_load(config: LoadConfig) -> dict[str, Any]:
    """Drive the mix against a running node for ``config.duration`` seconds; the report."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=config.concurrency + 4)
    raw_connector = aiohttp.TCPConnector(limit=config.concurrency + 4)
    async with (
        aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"Content-Type": "application/json"}
        ) as session,
        aiohttp.ClientSession(
            connector=raw_connector, timeout=timeout, headers={"Content-Type": "application/json"}
        ) as raw,
    ):
        catalog = await fetch_catalog(session, config.node_url)
        started = time.monotonic()
        state = State(catalog=catalog, shapes=Shapes(), interval=Interval(started))
        deadline = started + config.duration
        rng = random.Random(config.seed)
        mixes = [Mix(config.chain, random.Random(rng.random())) for _ in range(config.concurrency)]
        tasks = [
            asyncio.create_task(worker(state, config, mix, session, raw, deadline)) for mix in mixes
        ]
        tasks.append(asyncio.create_task(miner(state, config, raw, deadline)))
        await monitor(state, config, started, deadline)
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        await settle_spot_checks(state, raw, config.rpc_url)
    return build_report(state, config, elapsed)


def build_report(state: State, config: LoadConfig, elapsed: float) -> dict[str, Any]:
    all_latencies = [x for v in state.latency_by_route.values() for x in v]
    total = len(all_latencies)
    rss = rss_verdict(state.rss, config.duration)
    p99_series = [row["p99_ms"] for row in state.intervals if row["p99_ms"] is not None]
    return {
        "config": {
            "duration_s": config.duration,
            "concurrency": config.concurrency,
            "spot_check": config.spot_check,
            "mine_interval_s": config.mine_interval,
            "seed": config.seed,
        },
        "elapsed_s": round(elapsed, 1),
        "totals": {
            "requests": total,
            "rps": round(total / max(elapsed, 1e-9), 1),
            "p50_ms": _ms(percentile(all_latencies, 50)),
            "p99_ms": _ms(percentile(all_latencies, 99)),
            "p99_ms_worst_interval": max(p99_series) if p99_series else None,
            "by_kind": dict(sorted(state.requests.items())),
        },
        "by_route": {
            route: {
                "requests": len(v),
                "p50_ms": _ms(percentile(v, 50)),
                "p99_ms": _ms(percentile(v, 99)),
            }
            for route, v in sorted(state.latency_by_route.items())
        },
        "intended_errors": dict(state.intended),
        "unintended_errors": dict(state.unintended),
        "unintended_examples": dict(state.examples),
        "spot_checks": {
            "answers": state.spot_checks,
            "values": state.spot_check_values,
            "block_answers_checked": state.block_checks,
            "mismatches": state.mismatches[:MAX_EXAMPLES_KEPT],
            "mismatch_count": len(state.mismatches),
        },
        "blocks_mined_during_load": state.mined,
        "miner_errors": state.miner_errors,
        "rss": rss,
        "rss_samples": state.rss,
        "intervals": state.intervals,
    }


def verdict(report: dict[str, Any], max_rss_growth: float) -> list[str]:
    """The reasons the run failed (empty: it passed). Timing is never one of them."""
    reasons = []
    if report["unintended_errors"]:
        reasons.append(f"unintended errors: {report['unintended_errors']}")
    if report["spot_checks"]["mismatch_count"]:
        reasons.append(f"{report['spot_checks']['mismatch_count']} wrong answers")
    if report["totals"]["requests"] == 0:
        reasons.append("no request was answered")
    growth = report["rss"]["growth_pct"]
    if growth is None:
        reasons.append("too few RSS samples to judge growth")
    elif growth > max_rss_growth:
        reasons.append(f"RSS grew {growth}% after warm-up (bound {max_rss_growth}%)")
    return reasons


def print_summary(report: dict[str, Any], reasons: list[str]) -> None:
    totals, rss, spot = report["totals"], report["rss"], report["spot_checks"]
    print()
    print(
        f"total: {totals['requests']} requests in {report['elapsed_s']} s = {totals['rps']} req/s, "
        f"p50 {totals['p50_ms']} ms, p99 {totals['p99_ms']} ms "
        f"(worst 10 s p99 {totals['p99_ms_worst_interval']} ms)"
    )
    for route, row in report["by_route"].items():
        print(f"  {route:20} {row['requests']:8}  p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms")
    print(f"intended errors: {report['intended_errors'] or 'none'}")
    print(f"unintended errors: {report['unintended_errors'] or 'none'}")
    print(
        f"spot checks: {spot['answers']} balance answers ({spot['values']} values) and "
        f"{spot['block_answers_checked']} block/transaction answers against raw JSON-RPC, "
        f"{spot['mismatch_count']} mismatches"
    )
    print(
        f"node RSS: first {rss.get('first_mb')} MB, middle-third median "
        f"{rss['middle_median_mb']} MB, last-third median {rss['last_median_mb']} MB, "
        f"growth {rss['growth_pct']}%, max {rss.get('max_mb')} MB"
    )
    print(f"blocks mined during the run: {report['blocks_mined_during_load']}")
    print("PASS" if not reasons else "FAIL: " + "; ".join(reasons))


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (600)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop workers (16)")
    parser.add_argument("--blocks", type=int, default=220, help="workload blocks (220)")
    parser.add_argument(
        "--spot-check", type=float, default=0.1, help="share of balance answers checked (0.1)"
    )
    parser.add_argument(
        "--mine-interval", type=float, default=2.0, help="seconds between new blocks (0: none)"
    )
    parser.add_argument(
        "--max-rss-growth", type=float, default=10.0, help="RSS growth bound in %% (10)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args(argv)

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    workdir = Path(tempfile.mkdtemp(prefix="rosetta-load-"))
    anvil = Anvil()
    node: NodeProcess | None = None
    try:
        try:
            setup_started = time.monotonic()
            anvil.start()
            chain = prepare_chain(anvil.url, args.blocks, workdir / "tokens.json")
            node = start_node(anvil.url, workdir / "tokens.json", workdir)
            setup_seconds = time.monotonic() - setup_started
        except Exception as exc:
            print(f"setup failed: {exc}", file=sys.stderr)
            return 2
        print(
            f"setup {setup_seconds:.1f} s: blocks 0..{chain.last_block}, "
            f"{len(chain.accounts)} accounts, {len(chain.tokens)} tracked tokens, "
            f"{len(chain.transactions)} transactions; node {node.url} (pid {node.pid}); "
            f"{args.concurrency} workers for {args.duration:.0f} s",
            flush=True,
        )
        config = LoadConfig(
            node_url=node.url,
            rpc_url=anvil.url,
            node_pid=node.pid,
            chain=chain,
            duration=args.duration,
            concurrency=args.concurrency,
            spot_check=args.spot_check,
            mine_interval=args.mine_interval,
            seed=args.seed,
        )
        load_before = os.getloadavg()
        report = asyncio.run(run_load(config))
        report["setup_s"] = round(setup_seconds, 1)
        report["machine"] = {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        }
        report["node_alive_at_end"] = node.process is not None and node.process.poll() is None
        reasons = verdict(report, args.max_rss_growth)
        if not report["node_alive_at_end"]:
            reasons.append("the node exited during the run")
        report["max_rss_growth_pct"] = args.max_rss_growth
        report["pass"] = not reasons
        report["fail_reasons"] = reasons
        print_summary(report, reasons)
        if args.out:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
            print(f"report: {args.out}")
        return 0 if not reasons else 1
    finally:
        if node is not None:
            node.stop()
        anvil.stop()


if __name__ == "__main__":
    sys.exit(main())
