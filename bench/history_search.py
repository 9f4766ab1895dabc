"""``/search/transactions`` by account over HTTP, for an account with 10,000+ operations.

Usage: .venv/bin/python bench/history_search.py [--transfers 5000] [--queries 100] [--json OUT]

anvil (automine off) gets ``--transfers`` ETH transfers from one account (two operations each
for it: the fee and the value), mined 250 to a block; our node follows it with the history on
(SQLite) until it holds the last block. Then, alternating who goes first, one client asks:

- ours: ``/search/transactions`` for that account, a page of 100 full transactions: the first
  page, the page halfway down (``offset`` counts transactions), and the first page with
  ``max_block`` pinned;
- raw: the least a client without an index needs for the same page, given the hashes already:
  one JSON-RPC batch of 100 ``eth_getTransactionByHash`` to anvil.

Every answer is checked (100 transactions, the account in each, newest first). Reports p50/p99
and the ratio ours/raw (absolute times on a shared machine mean little).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rosetta_node.devnet import Anvil  # noqa: E402
from tests.support.node import NodeProcess  # noqa: E402
from tests.support.rpc import JsonRpc  # noqa: E402

SENDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's second dev account
PER_BLOCK = 250
PAGE = 100


def make_history(rpc: JsonRpc, transfers: int) -> int:
    """``transfers`` ETH transfers from SENDER, mined PER_BLOCK to a block; the last block."""
    rpc("evm_setAutomine", False)
    receivers = [f"0x{i:040x}" for i in range(0x1000, 0x1000 + 97)]
    for i in range(transfers):
        tx = {"from": SENDER, "to": receivers[i % len(receivers)], "value": hex(10**12)}
        rpc("eth_sendTransaction", {**tx, "gas": hex(21_000)})
        if (i + 1) % PER_BLOCK == 0:
            rpc("evm_mine")
    rpc("evm_mine")
    rpc("evm_setAutomine", True)
    return int(rpc("eth_blockNumber"), 16)


def wait_history(url: str, network: dict[str, str], block: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    body = {"network_identifier": network, "limit": 1}
    while True:
        tip = (
            requests.post(url + "/events/blocks", json=body, timeout=30)
            .json()
            .get("block_identifier")
        )
        if tip is not None and tip["index"] >= block:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the history reached {tip}, not block {block}")
        time.sleep(0.5)


def measure(node_url: str, rpc_url: str, queries: int) -> dict[str, Any]:
    ours, raw = requests.Session(), requests.Session()
    network = ours.post(node_url + "/network/list", json={}, timeout=30).json()[
        "network_identifiers"
    ][0]
    base = {"network_identifier": network, "account_identifier": {"address": SENDER}}
    first = ours.post(node_url + "/search/transactions", json={**base, "limit": PAGE}, timeout=60)
    total = first.json()["total_count"]
    pinned = first.json()["block_identifier"]["index"]
    kinds = {
        "first page": {**base, "limit": PAGE},
        "halfway (offset total/2)": {**base, "limit": PAGE, "offset": total // 2},
        "max_block pinned": {**base, "limit": PAGE, "max_block": pinned},
    }
    figures: dict[str, Any] = {"transactions_of_account": total}
    for kind, body in kinds.items():
        times: dict[str, list[float]] = {"ours": [], "raw": []}
        for i in range(queries):
            order = ("ours", "raw") if i % 2 == 0 else ("raw", "ours")
            for side in order:
                started = time.perf_counter()
                if side == "ours":
                    answer = ours.post(node_url + "/search/transactions", json=body, timeout=60)
                    found = answer.json()["transactions"]
                else:
                    batch = [
                        {"jsonrpc": "2.0", "id": n, "method": "eth_getTransactionByHash",
                         "params": [t["transaction"]["transaction_identifier"]["hash"]]}
                        for n, t in enumerate(found)
                    ]  # fmt: skip
                    got = raw.post(rpc_url, json=batch, timeout=60).json()
                times[side].append(time.perf_counter() - started)
            if len(found) != PAGE or len(got) != PAGE:
                raise SystemExit(f"{kind}: {len(found)} transactions, {len(got)} from the node")
            blocks = [t["block_identifier"]["index"] for t in found]
            if blocks != sorted(blocks, reverse=True):
                raise SystemExit(f"{kind}: not newest first")
            if any(g["result"]["from"].lower() != SENDER.lower() for g in got):
                raise SystemExit(f"{kind}: a transaction not from the account")
        figures[kind] = {
            side: {
                "p50_ms": round(statistics.median(t) * 1e3, 2),
                "p99_ms": round(statistics.quantiles(t, n=100)[98] * 1e3, 2),
            }
            for side, t in times.items()
        }
        figures[kind]["ratio_p50"] = round(
            figures[kind]["ours"]["p50_ms"] / figures[kind]["raw"]["p50_ms"], 2
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with Anvil() as chain, tempfile.TemporaryDirectory(prefix="bench-history-") as work:
        rpc = JsonRpc(chain.url)
        started = time.monotonic()
        last = make_history(rpc, args.transfers)
        made = time.monotonic() - started
        env = {
            "ROSETTA_NODE_INDEX_DB": str(Path(work) / "index.sqlite"),
            "ROSETTA_NODE_HISTORY": "true",
        }
        process = NodeProcess(["--rpc-url", chain.url, "--chain-id", "31337"], env=env)
        try:
            process.wait()
            network = {"blockchain": "Ethereum", "network": "devnet"}
            started = time.monotonic()
            wait_history(process.url, network, last)
            followed = time.monotonic() - started
            figures = measure(process.url, chain.url, args.queries)
        finally:
            process.stop()
    figures.update(blocks=last, chain_made_s=round(made, 1), history_followed_s=round(followed, 1))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
