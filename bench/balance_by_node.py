#!/usr/bin/env python
"""Benchmark: native /account/balance at historical blocks on each real node, as a ratio.

For each node kind asked for (``anvil`` and ``geth`` --dev with the test workload on them,
``premerge``: geth serving our pre-merge chain), in one run: start the node and our node in
front of it, then alternate, request by request over the same (block, account) pairs, our
``POST /account/balance`` and the raw JSON-RPC the answer needs straight to the node
(``eth_getBlockByNumber``, then one batch of ``eth_getBalance`` and
``eth_getTransactionCount`` pinned by the block hash). Every answer of ours is checked
against the raw one. Blocks are at least 2 below the head; no pair is asked twice.

Usage: ``.venv/bin/python bench/balance_by_node.py [--nodes anvil,geth,premerge]
[--requests N] [--json OUT]``. Exit status 1 on a wrong answer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rosetta_node.devnet import Anvil  # noqa: E402
from tests.support.geth import Geth  # noqa: E402
from tests.support.node import NodeProcess  # noqa: E402
from tests.support.premerge import build_premerge_chain  # noqa: E402
from tests.support.rpc import JsonRpc  # noqa: E402
from tests.workload import run_workload  # noqa: E402


@contextlib.contextmanager
def chain(kind: str, blocks: int) -> Iterator[tuple[str, int, list[str], list[str]]]:
    """(RPC URL, chain id, accounts, extra serve args) of a running node of ``kind``."""
    if kind == "premerge":
        with tempfile.TemporaryDirectory(prefix="bench-premerge-") as work:
            built = build_premerge_chain(Path(work))
            with Geth(datadir=built.datadir, chain_id=built.chain_id) as geth:
                args = ["--genesis-file", str(built.genesis)]
                yield geth.url, built.chain_id, built.facts["addresses"]["all"], args
        return
    node: Anvil | Geth = Anvil() if kind == "anvil" else Geth()
    with node:
        result = run_workload(node.url, min_blocks=blocks)
        chain_id = int(JsonRpc(node.url)("eth_chainId"), 16)
        yield node.url, chain_id, result.accounts, []


def measure(kind: str, requests_per_side: int, blocks: int, seed: int) -> dict[str, Any]:
    with chain(kind, blocks) as (url, chain_id, accounts, extra):
        process = NodeProcess(["--rpc-url", url, "--chain-id", str(chain_id), *extra])
        try:
            process.wait()
            return _run(kind, url, process.url, accounts, requests_per_side, seed)
        finally:
            process.stop()


def _run(
    kind: str, rpc_url: str, node_url: str, accounts: list[str], n: int, seed: int
) -> dict[str, Any]:
    ours, raw = requests.Session(), requests.Session()
    network = ours.post(node_url + "/network/list", json={}, timeout=30).json()[
        "network_identifiers"
    ][0]
    answer = raw.post(rpc_url, json=_call("eth_blockNumber", []), timeout=30).json()
    head = int(answer["result"], 16)
    pairs = [(b, a) for b in range(1, head - 1) for a in accounts]
    random.Random(seed).shuffle(pairs)
    pairs = pairs[:n]
    times: dict[str, list[float]] = {"ours": [], "raw": []}
    for i, (block, account) in enumerate(pairs):
        first_ours = i % 2 == 0  # who goes first swaps, so both share the machine's noise
        for side in ("ours", "raw") if first_ours else ("raw", "ours"):
            started = time.perf_counter()
            if side == "ours":
                body = {
                    "network_identifier": network,
                    "account_identifier": {"address": account},
                    "block_identifier": {"index": block},
                }
                answer = ours.post(node_url + "/account/balance", json=body, timeout=30).json()
            else:
                header = raw.post(
                    rpc_url, json=_call("eth_getBlockByNumber", [hex(block), False]), timeout=30
                ).json()["result"]
                pin = {"blockHash": header["hash"]}
                batch = [
                    _call("eth_getBalance", [account, pin], 1),
                    _call("eth_getTransactionCount", [account, pin], 2),
                ]
                values = raw.post(rpc_url, json=batch, timeout=30).json()
            times[side].append(time.perf_counter() - started)
        by_id = {v["id"]: v["result"] for v in values}
        if (
            answer["block_identifier"] != {"index": block, "hash": header["hash"]}
            or int(answer["balances"][0]["value"]) != int(by_id[1], 16)
            or answer["metadata"]["nonce"] != int(by_id[2], 16)
        ):
            raise SystemExit(f"{kind}: wrong answer for {account} at {block}: {answer}")
    p50 = {side: statistics.median(t) * 1e3 for side, t in times.items()}
    return {
        "node": kind,
        "requests_per_side": len(pairs),
        "checked": len(pairs),
        "p50_ours_ms": round(p50["ours"], 3),
        "p50_raw_ms": round(p50["raw"], 3),
        "ratio": round(p50["ours"] / p50["raw"], 2),
    }


def _call(method: str, params: list[Any], ident: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="anvil,geth,premerge")
    parser.add_argument("--requests", type=int, default=1000, help="per side and node")
    parser.add_argument("--blocks", type=int, default=60, help="workload blocks (anvil, geth)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    results = []
    for kind in args.nodes.split(","):
        result = measure(kind, args.requests, args.blocks, args.seed)
        print(
            f"{kind:9s} p50 ours {result['p50_ours_ms']:.3f} ms, raw {result['p50_raw_ms']:.3f} ms"
            f" = {result['ratio']:.2f}x ({result['checked']} answers checked)",
            flush=True,
        )
        results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
