"""A normal client's latency while 500 slow connections are held (issue 15), ours vs raw.

.venv/bin/python bench/slow_clients.py [--slow 500] [--seconds 20] [--json OUT]

Starts anvil and our node (default settings: client_timeout 10 s, max_connections 1000), then
measures one sequential client in two phases of ``--seconds`` each:

1. **quiet**: no other client (the hot path's figure);
2. **slowloris**: ``--slow`` connections each sending a request line, then one header line
   every 5 s and never the end of the head; a connection the node closes is opened again at
   once, so ``--slow`` are always held (or being reopened).

The client asks ``POST /account/balance`` (ETH, a fresh random account at a fixed block:
uncached) of our node, alternating with the raw JSON-RPC that answer needs sent straight to
anvil (one batch of ``eth_getBalance`` + ``eth_getTransactionCount`` pinned by block hash).
Reported per phase: p50/p99 latency ours and raw and their ratio, the node's RSS (max of
samples every 0.5 s), and in the slowloris phase how many slow connections the node closed.
Everything started is stopped in ``finally``; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rosetta_node.devnet import Anvil  # noqa: E402
from tests.support.node import NodeProcess  # noqa: E402

NETWORK = {"blockchain": "Ethereum", "network": "devnet"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Slowloris:
    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.closed_by_node = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def one(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                await writer.drain()
                while True:
                    try:
                        async with asyncio.timeout(5):
                            if not await reader.read(4096):
                                break  # the node closed it
                    except TimeoutError:
                        writer.write(b"X-Slow: 1\r\n")
                        await writer.drain()
            except OSError:
                pass
            finally:
                writer.close()
            self.closed_by_node += 1

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.one()) for _ in range(self.count)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def phase(
    session: aiohttp.ClientSession,
    node: str,
    anvil: str,
    block: dict[str, Any],
    pid: int,
    seconds: float,
) -> dict[str, Any]:
    ours: list[float] = []
    raw: list[float] = []
    rss: list[float] = [rss_mb(pid)]
    last_sample = time.monotonic()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        account = "0x" + os.urandom(20).hex()
        body = {
            "network_identifier": NETWORK,
            "account_identifier": {"address": account},
            "block_identifier": {"index": block["number"]},
        }
        started = time.perf_counter()
        async with session.post(node + "/account/balance", json=body) as answer:
            assert answer.status == 200, await answer.text()
            await answer.read()
        ours.append(time.perf_counter() - started)
        pin = {"blockHash": block["hash"]}
        calls = [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [account, pin]},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "eth_getTransactionCount",
                "params": [account, pin],
            },
        ]
        started = time.perf_counter()
        async with session.post(anvil, json=calls) as answer:
            await answer.read()
        raw.append(time.perf_counter() - started)
        if time.monotonic() - last_sample > 0.5:
            rss.append(rss_mb(pid))
            last_sample = time.monotonic()
    rss.append(rss_mb(pid))
    row = {"requests": len(ours), "rss_mb_max": round(max(rss), 1)}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        o, r = pct(ours, q) * 1000, pct(raw, q) * 1000
        row[name] = {"ours_ms": round(o, 3), "raw_ms": round(r, 3), "ratio": round(o / r, 2)}
    row["mean_ours_ms"] = round(statistics.fmean(ours) * 1000, 3)
    return row


async def run(args: argparse.Namespace, node_url: str, anvil_url: str, pid: int) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            anvil_url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_getBlockByNumber",
                "params": ["latest", False],
            },
        ) as answer:
            head = (await answer.json())["result"]
        block = {"number": int(head["number"], 16), "hash": head["hash"]}
        await phase(session, node_url, anvil_url, block, pid, 2)  # warm-up
        quiet = await phase(session, node_url, anvil_url, block, pid, args.seconds)
        host, port = node_url.removeprefix("http://").split(":")
        slow = Slowloris(host, int(port), args.slow)
        slow.start()
        await asyncio.sleep(3)  # all connected
        held = await phase(session, node_url, anvil_url, block, pid, args.seconds)
        held["slow_connections"] = args.slow
        held["closed_by_node"] = slow.closed_by_node
        held["node_fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        await slow.stop()
    return {"quiet": quiet, "slowloris": held}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=500, help="slow connections (default 500)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase (default 20)")
    parser.add_argument("--json", metavar="OUT", help="write the results as JSON")
    args = parser.parse_args()
    with Anvil() as anvil:
        for _ in range(3):
            anvil_post = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "evm_mine"}).encode()
            import urllib.request

            urllib.request.urlopen(
                urllib.request.Request(anvil.url, anvil_post, {"Content-Type": "application/json"}),
                timeout=10,
            ).read()
        node = NodeProcess(["--rpc-url", anvil.url, "--chain-id", "31337"], log_level="warning")
        try:
            node.wait()
            result = asyncio.run(run(args, node.url, anvil.url, node.pid))
        finally:
            node.stop()
    for name, row in result.items():
        print(
            f"{name:10} requests {row['requests']:5}  p50 ours/raw {row['p50']['ours_ms']:.2f}/"
            f"{row['p50']['raw_ms']:.2f} ms = {row['p50']['ratio']:.2f}x  p99 ours/raw "
            f"{row['p99']['ours_ms']:.2f}/{row['p99']['raw_ms']:.2f} ms = "
            f"{row['p99']['ratio']:.2f}x  node RSS max {row['rss_mb_max']} MB"
            + (
                f"  slow held {row['slow_connections']}, closed by node {row['closed_by_node']},"
                f" node fds {row['node_fds']}"
                if "slow_connections" in row
                else ""
            )
        )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
