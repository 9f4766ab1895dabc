#!/usr/bin/env python
"""Benchmark: CPU per JSON-RPC POST, our RpcClient (rosetta_node/rpc/transport.py) vs. aiohttp.

Starts anvil (rosetta_node.devnet.Anvil, loopback), pins a block hash, then in this one process
sends ``--calls`` ``eth_getBalance`` calls at that hash, sequentially (one after another) and
concurrently (``--concurrency`` tasks sharing the calls), through:

* ``rpcclient``: ``RpcClient.call`` with the chain guard on (``expect_chain_id``, as served), so
  every POST is the call plus ``eth_chainId``; concurrent calls coalesce into batch POSTs;
* ``transport``: ``HttpTransport.post`` alone, one POST per call, same body, msgspec decode;
* ``aiohttp``: one ``aiohttp.ClientSession`` (limit 32) posting the same body, msgspec decode;
* ``rpc+aiohttp``: ``RpcClient.call`` as above over the aiohttp session it used before
  ``transport.py`` (same session options): the previous client, for a before/after figure.

The sides alternate in rounds (the order rotates each round) so they share the machine's
noise; the report gives medians over rounds of calls/s, CPU microseconds per call and per POST
(``time.process_time`` deltas: this process only, anvil excluded), and the ratios to aiohttp.
Every answer is checked against the balance read once up front.

Usage::

    .venv/bin/python bench/rpc_transport.py [--calls N] [--rounds R] [--concurrency C]
                                            [--loop uvloop|asyncio] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rosetta_node.devnet import Anvil, rpc_call  # noqa: E402
from rosetta_node.rpc import RpcClient  # noqa: E402
from rosetta_node.rpc.transport import HttpTransport  # noqa: E402

ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CHAIN_ID = 31337
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def _body(call_id: int, params: list[Any]) -> bytes:
    """What RpcClient sends for one call with the chain guard on."""
    return _encode(
        [
            {"jsonrpc": "2.0", "id": call_id, "method": "eth_getBalance", "params": params},
            {"jsonrpc": "2.0", "id": -call_id, "method": "eth_chainId", "params": []},
        ]
    )


class AiohttpPost:
    """The transport RpcClient had before transport.py: one aiohttp session, same options."""

    def __init__(self, url: str, max_connections: int = 32) -> None:
        self.url = url
        self.max_connections = max_connections
        self.session: aiohttp.ClientSession | None = None

    async def post(self, body: bytes, timeout: float) -> tuple[int, bytes]:
        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300),
                headers={"Content-Type": "application/json"},
                skip_auto_headers=("User-Agent",),
            )
        async with self.session.post(
            self.url, data=body, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return response.status, await response.read()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class Side:
    """One way of sending ``eth_getBalance``; ``posts`` counts the HTTP POSTs it made."""

    def __init__(self, name: str, one: Callable[[], Awaitable[str]]) -> None:
        self.name = name
        self.one = one
        self.posts = 0
        self.samples: dict[str, list[dict[str, float]]] = {"sequential": [], "concurrent": []}


async def _run_round(side: Side, mode: str, calls: int, concurrency: int, expected: str) -> None:
    bad = 0

    async def worker(n: int) -> None:
        nonlocal bad
        for _ in range(n):
            if await side.one() != expected:
                bad += 1

    posts0 = side.posts
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if mode == "sequential":
        await worker(calls)
    else:
        share, extra = divmod(calls, concurrency)
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if bad:
        raise SystemExit(f"{side.name}: {bad} wrong answers")
    posts = side.posts - posts0
    side.samples[mode].append(
        {
            "calls_per_s": calls / wall,
            "cpu_us_per_call": cpu / calls * 1e6,
            "cpu_us_per_post": cpu / posts * 1e6,
            "calls_per_post": calls / posts,
        }
    )


async def _bench(url: str, args: argparse.Namespace) -> dict[str, Any]:
    block = rpc_call(url, "eth_getBlockByNumber", ["0x2", False])
    params: list[Any] = [ACCOUNT, {"blockHash": block["hash"]}]
    expected = rpc_call(url, "eth_getBalance", params)
    ids = itertools.count(1)

    def counted(rpc: RpcClient, side: Callable[[], Side]) -> RpcClient:
        rpc.expect_chain_id = CHAIN_ID
        send = rpc._send

        async def counting_send(calls: Any, timeout: float) -> list[Any]:
            side().posts += 1
            return await send(calls, timeout)

        rpc._send = counting_send  # type: ignore[method-assign]
        return rpc

    rpc = counted(RpcClient(url, name="anvil", max_connections=32), lambda: ours)
    before = counted(RpcClient(url, name="anvil", max_connections=32), lambda: previous)
    before._transport = AiohttpPost(url)  # type: ignore[assignment]

    async def via_rpc() -> str:
        result: str = await rpc.call("eth_getBalance", params)
        return result

    async def via_previous() -> str:
        result: str = await before.call("eth_getBalance", params)
        return result

    transport = HttpTransport(url, max_connections=32)

    async def via_transport() -> str:
        bare.posts += 1
        status, raw = await transport.post(_body(next(ids), params), 10.0)
        answer = _decode(raw)
        assert status == 200
        return str(answer[0]["result"])

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=32),
        headers={"Content-Type": "application/json"},
        skip_auto_headers=("User-Agent",),
    )
    timeout = aiohttp.ClientTimeout(total=10.0)

    async def via_aiohttp() -> str:
        theirs.posts += 1
        async with session.post(url, data=_body(next(ids), params), timeout=timeout) as response:
            raw = await response.read()
            assert response.status == 200
        return str(_decode(raw)[0]["result"])

    ours = Side("rpcclient", via_rpc)
    bare = Side("transport", via_transport)
    theirs = Side("aiohttp", via_aiohttp)
    previous = Side("rpc+aiohttp", via_previous)
    sides = [ours, bare, theirs, previous]
    try:
        for side in sides:  # warm up: connections open, code paths hot
            await _run_round(side, "concurrent", 200, args.concurrency, expected)
            side.samples["concurrent"].clear()
        for round_no in range(args.rounds):
            order = sides[round_no % len(sides) :] + sides[: round_no % len(sides)]
            for mode in ("sequential", "concurrent"):
                for side in order:
                    await _run_round(side, mode, args.calls, args.concurrency, expected)
    finally:
        await rpc.close()
        await before.close()
        await transport.close()
        await session.close()

    report: dict[str, Any] = {}
    for mode in ("sequential", "concurrent"):
        rows = {}
        for side in sides:
            samples = side.samples[mode]
            rows[side.name] = {
                key: statistics.median(s[key] for s in samples) for key in samples[0]
            }
        base = rows["aiohttp"]
        for row in rows.values():
            row["aiohttp_over_this_cpu_per_call"] = base["cpu_us_per_call"] / row["cpu_us_per_call"]
            row["aiohttp_over_this_cpu_per_post"] = base["cpu_us_per_post"] / row["cpu_us_per_post"]
        report[mode] = rows
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per side, mode and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    with Anvil() as chain:
        chain.rpc("anvil_mine", "0x5")
        if args.loop == "uvloop":
            import uvloop

            report = uvloop.run(_bench(chain.url, args))
        else:
            report = asyncio.run(_bench(chain.url, args))
    report = {"loop": args.loop, "calls": args.calls, "rounds": args.rounds, **report}
    print(
        f"{'mode':<11} {'side':<11} {'calls/s':>8} {'CPU us/call':>12} {'CPU us/POST':>12}"
        f" {'calls/POST':>10} {'aiohttp/this CPU per call':>26} {'per POST':>9}"
    )
    for mode in ("sequential", "concurrent"):
        for name, row in report[mode].items():
            print(
                f"{mode:<11} {name:<11} {row['calls_per_s']:>8.0f} {row['cpu_us_per_call']:>12.1f}"
                f" {row['cpu_us_per_post']:>12.1f} {row['calls_per_post']:>10.1f}"
                f" {row['aiohttp_over_this_cpu_per_call']:>26.2f}"
                f" {row['aiohttp_over_this_cpu_per_post']:>9.2f}"
            )
    for mode in ("sequential", "concurrent"):
        rows = report[mode]
        print(
            f"{mode}: RpcClient before/after (rpc+aiohttp / rpcclient), CPU per call "
            f"{rows['rpc+aiohttp']['cpu_us_per_call'] / rows['rpcclient']['cpu_us_per_call']:.2f}x"
        )
    print(
        "(medians over rounds; concurrent RpcClient calls coalesce into batch POSTs, so their"
        " per-POST figures are not comparable with one-call POSTs: compare per call there)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
