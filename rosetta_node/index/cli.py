"""``python -m rosetta_node.index`` (and, wired into the main CLI, ``rosetta-node index``).

Backfills the Transfer-log index of the first configured network into a SQLite file (or a
PostgreSQL database with ``--url``), then
exits, or with ``--follow`` keeps following the head until SIGINT/SIGTERM. Restartable at any
moment: it resumes after the last committed block.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ..engine.node_client import NodeClient
from ..errors import CatalogError
from ..rpc import RpcClient
from ..settings import ConfigError, NetworkSettings, load_settings, redact_url
from .errors import IndexerError
from .follower import Indexer
from .model import DEFAULT_RETENTION, IndexStore, IndexStoreError
from .open import claim_writer, open_store, store_label
from .progress import ProgressBar

log = logging.getLogger("rosetta_node.index")

DESCRIPTION = (
    "Build the ERC-20 Transfer-log index of the first configured network into a SQLite file "
    "(or a PostgreSQL database) "
    "(which accounts sent or received which token, and the block of the last change), then "
    "exit, or with --follow keep following the head through reorgs until SIGINT/SIGTERM. "
    "Safe to kill at any moment: it resumes after the last committed block."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the index command (shared by ``rosetta-node index``)."""
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument("--rpc-url", metavar="URL", help="JSON-RPC URL of the node")
    parser.add_argument("--chain-id", type=int, metavar="N", help="expected chain id")
    parser.add_argument(
        "--db", metavar="FILE", help="SQLite index file (settings: index_db); one per network"
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="PostgreSQL index instead, postgresql://user:password@host:port/database "
        "(settings: index_url); one schema per network, shared by API replicas",
    )
    parser.add_argument(
        "--start-block",
        type=int,
        metavar="N",
        help="first block to index (settings: index_start_block; default 0); used when the "
        "file is new",
    )
    parser.add_argument("--to-block", type=int, metavar="N", help="stop after this block")
    parser.add_argument(
        "--history",
        action="store_true",
        help="build the history index (every /block operation, for /search/transactions and "
        "/events/blocks) instead of the Transfer-log index; --start-block defaults to the "
        "history_start_block setting",
    )
    parser.add_argument(
        "--token-list", metavar="FILE", help="tracked ERC-20s (--history: their operations)"
    )
    parser.add_argument(
        "--history-batch",
        type=int,
        default=32,
        metavar="BLOCKS",
        help="--history: blocks read and committed together (default 32)",
    )
    parser.add_argument(
        "--confirmations",
        type=int,
        metavar="N",
        help="stay N blocks behind the head (settings: index_confirmations; default 0)",
    )
    _run_arguments(parser)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    """How the index command runs: following, range sizing, concurrency, output."""
    parser.add_argument(
        "--follow", action="store_true", help="after the backfill, follow the head until stopped"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, metavar="S", help="head polls (default 1)"
    )
    parser.add_argument(
        "--initial-range",
        type=int,
        default=100,
        metavar="BLOCKS",
        help="first eth_getLogs range (default 100); it adapts",
    )
    parser.add_argument(
        "--max-range",
        type=int,
        default=10_000,
        metavar="BLOCKS",
        help="largest eth_getLogs range (default 10000)",
    )
    parser.add_argument(
        "--target-logs",
        type=int,
        default=10_000,
        metavar="N",
        help="grow ranges while they return fewer logs than this (default 10000)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="ranges in flight (default 4)"
    )
    parser.add_argument(
        "--log-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="an eth_getLogs slower than this is split (default 30)",
    )
    parser.add_argument(
        "--retention",
        type=int,
        metavar="BLOCKS",
        help="deepest reorg the index can undo (settings: index_retention; default "
        f"{DEFAULT_RETENTION})",
    )
    parser.add_argument(
        "--bulk",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="drop the query indexes during the backfill and build them at its end "
        "(default: when more than 100,000 blocks are left)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default warning"
    )


def _network(args: argparse.Namespace) -> NetworkSettings:
    overrides = {"rpc_url": args.rpc_url, "chain_id": args.chain_id, "token_list": args.token_list}
    settings = load_settings(args.config, overrides=overrides)
    return settings.networks[0]


def _setting(net: NetworkSettings, flag: Any, key: str, default: Any) -> Any:
    # index_* keys live in NetworkSettings once the settings hook is applied; flags win.
    if flag is not None:
        return flag
    value = getattr(net, key, None)
    return default if value is None else value


@dataclass(frozen=True, slots=True)
class _Target:
    """Where and from where to index, from the flags over the settings."""

    db: str | None
    url: str | None
    start_block: int
    confirmations: int
    retention: int


def _target(args: argparse.Namespace, net: NetworkSettings) -> _Target:
    if args.db and args.url:
        raise ConfigError("index: give --db (SQLite) or --url (PostgreSQL), not both")
    db = args.db or (None if args.url else _setting(net, None, "index_db", None))
    url = args.url or (None if args.db else _setting(net, None, "index_url", None))
    if not db and not url:
        raise ConfigError(
            "index: no database (give --db or --url, or index_db or index_url in the settings)"
        )
    if url and urlsplit(url).scheme not in ("postgresql", "postgres"):
        raise ConfigError("index: --url: expected a postgresql:// URL")
    start_block = int(_setting(net, args.start_block, "index_start_block", 0))
    confirmations = int(_setting(net, args.confirmations, "index_confirmations", 0))
    retention = int(_setting(net, args.retention, "index_retention", DEFAULT_RETENTION))
    if start_block < 0 or confirmations < 0 or retention < 1:
        raise ConfigError(
            "index: start block and confirmations must not be negative, retention positive"
        )
    return _Target(db, url, start_block, confirmations, retention)


async def _run(args: argparse.Namespace, net: NetworkSettings) -> int:
    target = _target(args, net)
    if args.history:
        from .history_cli import run_history

        return await run_history(args, net, target.db, target.url, target.confirmations)
    label = redact_url(net.rpc_url)
    rpc = RpcClient(
        net.rpc_url,
        name=label,
        timeout=net.rpc_timeout,
        retries=net.rpc_retries,
        max_connections=net.rpc_max_connections,
    )
    store: IndexStore | None = None
    try:
        chain_id = await _chain_id(rpc, net)
        blockchain, network = net.names(chain_id)
        where = msgspec.structs.replace(
            net, index_db=target.db, index_url=target.url, index_retention=target.retention
        )
        store = open_store(where, f"{blockchain}/{network}")
        if not await claim_writer(store, wait=False):
            raise IndexStoreError(
                f"{store_label(where)}: another process is writing the index of "
                f"{blockchain}/{network} (it holds the writer lock); stop it first"
            )
        indexer = Indexer(
            rpc,
            store,
            target.start_block,
            target.confirmations,
            initial_range=args.initial_range,
            max_range=args.max_range,
            target_logs=args.target_logs,
            log_timeout=args.log_timeout,
            concurrency=args.concurrency,
        )
        await _index(args, indexer)
        cursor = await store.cursor()
        if cursor is not None:
            print(f"indexed {blockchain}/{network} up to block {cursor.number} ({cursor.hash})")
        return 0
    finally:
        if store is not None:
            await store.close()
        await rpc.close()


async def _index(args: argparse.Namespace, indexer: Indexer) -> None:
    """The backfill, or with --follow the backfill and then the head until a signal."""
    bar = None if args.quiet else ProgressBar(sys.stderr)
    try:
        if args.follow:
            await indexer.follow(args.poll_interval, stop_on_signal(), bar)
        else:
            await indexer.backfill(args.to_block, bar, bulk=args.bulk)
    finally:
        if bar is not None:
            bar.close()


def stop_on_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (a follower's stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _chain_id(rpc: RpcClient, net: NetworkSettings) -> int:
    try:
        answer = await NodeClient(rpc).one(NodeClient.chain_id())
    except CatalogError as exc:  # (a NodeError too)
        raise IndexerError(f"node {rpc.name} did not tell its chain id: {exc}") from None
    chain_id = int(answer, 16)
    if net.chain_id is not None and chain_id != net.chain_id:
        raise ConfigError(
            f"node {rpc.name} serves chain id {chain_id}, the configuration says {net.chain_id}"
        )
    return chain_id


def run(args: argparse.Namespace) -> int:
    try:
        net = _network(args)
        level = args.log_level or "warning"
        logging.basicConfig(
            level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        return asyncio.run(_run(args, net))
    except ConfigError as exc:
        print(f"rosetta-node index: {exc}", file=sys.stderr)
        return 2
    except (IndexerError, IndexStoreError) as exc:
        print(f"rosetta-node index: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None, prog: str = "python -m rosetta_node.index") -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
