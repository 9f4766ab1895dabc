#!/usr/bin/env python
"""Benchmark: Sequence GetTokenBalancesSummary for accounts holding 100 tokens, vs. raw RPC.

One run, loopback only; everything it starts is stopped in ``finally`` blocks:

1. starts anvil and deploys ``--tokens`` (100) TestToken contracts, then mints every token to
   each of ``--accounts`` (300) fresh accounts, so each account holds 100 tokens;
2. starts our node with the Transfer-log index on and waits until the index holds the head;
3. measures ``POST /rpc/IndexerGateway/GetTokenBalancesSummary`` (contractStatus ALL, native
   balance included) against "raw": the JSON-RPC the answer needs, sent straight to anvil —
   one batch of ``eth_getBalance`` + 100 ``eth_call balanceOf`` pinned by block hash (which
   tokens to ask comes from the local index, not from the node). Two cases:

   - cold: every account asked once (nothing of it cached), ours and raw alternating per
     account: p50 latency, sequential;
   - warm: the same account again and again (our balances are cached by block hash), p50
     latency, and throughput with ``--concurrency`` clients for a few seconds per side;
4. checks every answer of ours against raw (block, every balance) and fails on a mismatch.

Usage: ``.venv/bin/python bench/token_summary.py [--tokens N] [--accounts N] [--json OUT]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.account_balance import (  # noqa: E402
    BALANCE_OF,
    CHAIN_ID,
    build_fixture,
    holder_addresses,
    mine_until_empty,
    write_token_list,
)
from rosetta_node.devnet import Anvil  # noqa: E402
from tests.support.node import NodeProcess  # noqa: E402
from tests.support.rpc import rpc_batch  # noqa: E402
from tests.support.rpc import rpc_call as rpc  # noqa: E402

ROUTE = "/rpc/IndexerGateway/GetTokenBalancesSummary"
MINT = "0x40c10f19"  # mint(address,uint256)


def mint_to_all(url: str, tokens: list[dict[str, Any]], accounts: list[str]) -> None:
    owner = rpc(url, "eth_accounts")[0]
    nonce = int(rpc(url, "eth_getTransactionCount", [owner, "latest"]), 16)
    rpc(url, "evm_setAutomine", [False])
    sends = []
    for a, account in enumerate(accounts):
        for t, token in enumerate(tokens):
            amount = (a + 1) * 10**6 + t
            data = MINT + "0" * 24 + account[2:] + f"{amount:064x}"
            body = {"from": owner, "to": token["address"], "data": data, "gas": hex(120_000)}
            sends.append(("eth_sendTransaction", [{**body, "nonce": hex(nonce)}]))
            nonce += 1
    for start in range(0, len(sends), 400):
        rpc_batch(url, sends[start : start + 400])
        rpc(url, "evm_mine")
    mine_until_empty(url)
    rpc(url, "evm_setAutomine", [True])


def start_indexed_node(anvil_url: str, token_list: Path, db: Path) -> NodeProcess:
    """Our node with the Transfer-log index on (log level warning), ready."""
    node = NodeProcess(
        ["--rpc-url", anvil_url, "--chain-id", str(CHAIN_ID), "--token-list", str(token_list)],
        {
            "ROSETTA_NODE_INDEX_DB": str(db),
            "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.2",
            "ROSETTA_NODE_LOG_LEVEL": "warning",
        },
    )
    try:
        return node.start()
    except BaseException:
        node.stop()
        raise


async def ours(session: aiohttp.ClientSession, url: str, account: str) -> dict[str, Any]:
    body = {
        "chainIds": [CHAIN_ID],
        "filter": {
            "accountAddresses": [account],
            "contractStatus": "ALL",
            "omitNativeBalances": False,
        },
    }
    async with session.post(url + ROUTE, data=msgspec.json.encode(body)) as answer:
        raw = await answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{ROUTE}: {answer.status} {raw[:300]!r}")
    decoded: dict[str, Any] = msgspec.json.decode(raw)
    return decoded


async def raw(
    session: aiohttp.ClientSession, url: str, block_hash: str, account: str, tokens: list[str]
) -> list[Any]:
    pin = {"blockHash": block_hash}
    word = "0" * 24 + account[2:]
    calls = [{"jsonrpc": "2.0", "id": 0, "method": "eth_getBalance", "params": [account, pin]}]
    calls += [
        {
            "jsonrpc": "2.0",
            "id": i + 1,
            "method": "eth_call",
            "params": [{"to": t, "data": BALANCE_OF + word}, pin],
        }
        for i, t in enumerate(tokens)
    ]
    async with session.post(url, data=msgspec.json.encode(calls)) as answer:
        decoded: list[Any] = msgspec.json.decode(await answer.read())
    return decoded


def _ours_values(answer: dict[str, Any]) -> tuple[int, dict[str, int]]:
    (native,) = answer["nativeBalances"][0]["results"]
    tokens = {
        r["contractAddress"].lower(): int(r["balance"]) for r in answer["balances"][0]["results"]
    }
    return int(native["balance"]), tokens


def _raw_values(answer: list[Any], tokens: list[str]) -> tuple[int, dict[str, int]]:
    by_id = {item["id"]: item["result"] for item in answer}
    return int(by_id[0], 16), {t.lower(): int(by_id[i + 1], 16) for i, t in enumerate(tokens)}


async def timed(coro: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await coro
    return time.perf_counter() - started, result


async def throughput(make: Any, seconds: float, concurrency: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await make()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def measure(
    node_url: str,
    anvil_url: str,
    head_hash: str,
    accounts: list[str],
    tokens: list[str],
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=64)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        cold_ours, cold_raw, checked = [], [], 0
        for i, account in enumerate(accounts):
            pair = [
                ours(session, node_url, account),
                raw(session, anvil_url, head_hash, account, tokens),
            ]
            if i % 2:
                pair.reverse()
            first = await timed(pair[0])
            second = await timed(pair[1])
            (t_ours, a_ours), (t_raw, a_raw) = (first, second) if i % 2 == 0 else (second, first)
            wrapper = a_ours["balances"][0]
            if _ours_values(a_ours) != _raw_values(a_raw, tokens):
                raise SystemExit(f"MISMATCH for {account}: ours {a_ours} raw {a_raw}"[:2000])
            if len(wrapper["results"]) != len(tokens):
                raise SystemExit(
                    f"{account}: {len(wrapper['results'])} tokens, expected {len(tokens)}"
                )
            checked += 1
            cold_ours.append(t_ours)
            cold_raw.append(t_raw)
        warm_account = accounts[0]
        warm_ours = [(await timed(ours(session, node_url, warm_account)))[0] for _ in range(200)]
        warm_raw = [
            (await timed(raw(session, anvil_url, head_hash, warm_account, tokens)))[0]
            for _ in range(200)
        ]
        tp_ours = await throughput(
            lambda: ours(session, node_url, warm_account), seconds, concurrency
        )
        tp_raw = await throughput(
            lambda: raw(session, anvil_url, head_hash, warm_account, tokens), seconds, concurrency
        )
    p50 = statistics.median
    return {
        "checked_answers": checked,
        "cold_p50_ms": {"ours": p50(cold_ours) * 1e3, "raw": p50(cold_raw) * 1e3},
        "cold_latency_ratio": p50(cold_ours) / p50(cold_raw),
        "warm_p50_ms": {"ours": p50(warm_ours) * 1e3, "raw": p50(warm_raw) * 1e3},
        "warm_latency_ratio": p50(warm_ours) / p50(warm_raw),
        "warm_throughput_rps": {"ours": tp_ours, "raw": tp_raw},
        "warm_throughput_ratio": tp_ours / tp_raw,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput time per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-summary-"))
    anvil = Anvil(extra_args=["--gas-limit", "1000000000"])
    node: NodeProcess | None = None
    try:
        anvil.start()
        started = time.monotonic()
        fixture = build_fixture(anvil.url, args.tokens, 0, 1, seed=5)
        accounts = holder_addresses(args.accounts + 1000)[1000:]
        mint_to_all(anvil.url, fixture.tokens, accounts)
        head = rpc(anvil.url, "eth_getBlockByNumber", ["latest", False])
        setup = time.monotonic() - started
        token_list = work / "tokens.json"
        write_token_list(token_list, fixture.tokens)
        node = start_indexed_node(anvil.url, token_list, work / "index.sqlite")
        node.wait_indexed(block_hash=head["hash"], timeout=300.0)
        tokens = [t["address"] for t in fixture.tokens]
        figures = asyncio.run(
            measure(
                node.url, anvil.url, head["hash"], accounts, tokens, args.seconds, args.concurrency
            )
        )
    finally:
        if node is not None:
            node.stop()
        anvil.stop()
    figures = {
        "tokens_per_account": args.tokens,
        "accounts": args.accounts,
        "setup_seconds": round(setup, 1),
        **figures,
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
