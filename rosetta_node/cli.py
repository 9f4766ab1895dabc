"""Command line: ``rosetta-node serve``."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CatalogError
from .logs import setup_logging
from .settings import ConfigError, Settings, load_settings

log = logging.getLogger("rosetta_node")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rosetta-node",
        description="Self-hosted Rosetta (Mesh) Data API node for Ethereum and other EVM chains.",
    )
    parser.add_argument("--version", action="version", version=f"rosetta-node {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve the Rosetta Data API",
        description=(
            "Serve the Rosetta Data API for the configured networks. Settings come from a TOML "
            "file (--config or ROSETTA_NODE_CONFIG), then ROSETTA_NODE_* environment variables, "
            "then these flags. Without a config file, --rpc-url serves one network named from "
            "its chain id; --devnet starts a local anvil devnet and serves it."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    serve.add_argument("--config", metavar="FILE", help="TOML configuration file")
    serve.add_argument("--rpc-url", metavar="URL", help="JSON-RPC URL of the node (one network)")
    serve.add_argument("--chain-id", type=int, metavar="N", help="expected chain id of the node")
    serve.add_argument("--token-list", metavar="FILE", help="Uniswap token-list JSON to track")
    serve.add_argument("--genesis-file", metavar="FILE", help="genesis allocations (geth JSON)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--devnet",
        action="store_true",
        help=(
            "install (once) and start a local anvil devnet and serve it, stopped on exit. The "
            "devnet holds a demonstration chain: three ERC-20 tokens of our own (DUSD with 6 "
            "decimals, DGLD 18, DPTS 2) at fixed addresses in a token list, mints, transfers, a "
            "burn, ETH sent through a contract, a failed transaction, and new activity every "
            "--devnet-activity seconds; the Transfer-log index is on (SQLite in --devnet-data)"
        ),
    )
    serve.add_argument(
        "--devnet-activity",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="with --devnet: a new block with a little activity this often; 0 turns it off",
    )
    serve.add_argument(
        "--devnet-data",
        default="data/devnet",
        metavar="DIR",
        help="with --devnet: where the demo's token list and index go (emptied at start)",
    )
    serve.add_argument(
        "--devnet-empty",
        action="store_true",
        help="with --devnet: an empty chain at block 0, no demo contracts, no index",
    )
    check = commands.add_parser(
        "check-config",
        help="validate the configuration and probe every node",
        description=(
            "Validate the configuration (file, environment, flags as for serve) and probe each "
            "network's node: reachability, chain id, head block, client version. Exit status 0 "
            "when every network is fine, 1 when a node has a problem, 2 for a bad configuration."
        ),
    )
    check.add_argument("--config", metavar="FILE", help="TOML configuration file")
    check.add_argument("--rpc-url", metavar="URL", help="JSON-RPC URL of the node (one network)")
    check.add_argument("--chain-id", type=int, metavar="N", help="expected chain id of the node")
    check.add_argument("--token-list", metavar="FILE", help="Uniswap token-list JSON to track")
    check.add_argument("--genesis-file", metavar="FILE", help="genesis allocations (geth JSON)")
    check.set_defaults(host=None, port=None, log_level=None)
    # Listed for --help only: main() hands `index ...` to rosetta_node.index.cli before
    # parsing, so its options (and its imports) stay in that package.
    commands.add_parser(
        "index", help="build or follow the ERC-20 Transfer-log index (index --help)"
    )
    return parser


def _settings(
    args: argparse.Namespace, rpc_url: str | None, extra: dict[str, Any] | None = None
) -> Settings:
    overrides = {
        **(extra or {}),
        "rpc_url": rpc_url,
        "chain_id": args.chain_id,
        "token_list": args.token_list,
        "genesis_file": args.genesis_file,
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
    }
    return load_settings(args.config, overrides=overrides)


async def _preflight(settings: Settings) -> None:
    """Check each node once before serving: a wrong chain id stops us here, clearly.

    A node that does not answer yet is fine when its chain id is configured (it is retried in
    the background); without a chain id we need the node to name the network, so we wait.
    """
    from .engine.node import NetworkEngine

    for net in settings.networks:
        engine = NetworkEngine(net)
        try:
            while True:
                try:
                    await engine.probe()
                    break
                except CatalogError as exc:
                    if net.chain_id is not None:
                        log.warning(
                            "node %s not reachable yet (%s); serving anyway, "
                            "routes answer a retriable error until it is",
                            engine.label,
                            exc.error.message,
                        )
                        break
                    log.warning(
                        "waiting for node %s to learn its chain id (%s)",
                        engine.label,
                        exc.error.message,
                    )
                    await asyncio.sleep(2)
            if net.chain_id is None:
                net.chain_id = engine.chain_id
        finally:
            await engine.close()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


# A request's objects (decoded JSON, RPC calls, answers) are freed by reference counting;
# with 16 requests in flight the default threshold (700) still ran a young collection every
# few requests, each walking every request in flight. Measured under load (16 clients, ETH
# + 50 tokens): ~2,600 collections in 15 s at 700, 17 at 10,000.
_GC_YOUNG_THRESHOLD = 10_000


def _settle_gc() -> None:
    """Before serving: what start-up built (modules, settings, the app) lives as long as the
    process, so it moves out of the collector's sight (gc.freeze) instead of being walked by
    every full collection; young collections run less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, middle, old)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .api import create_app
    from .api.protocol import connection_cap, protocol_class
    from .engine import Engine

    devnet = activity = demo = None
    rpc_url = args.rpc_url
    if args.devnet:
        from . import demo as demo_chain
        from .devnet import Anvil

        devnet = Anvil()
        devnet.start()
        rpc_url = devnet.url
        pid = devnet.process.pid if devnet.process else "?"
        print(f"started anvil devnet at {devnet.url} (pid {pid})", flush=True)
    try:
        if devnet is not None and not args.devnet_empty:
            demo = demo_chain.build(devnet, Path(args.devnet_data))
            args.token_list = args.token_list or str(demo.token_list)
            if args.devnet_activity > 0:
                activity = demo_chain.Activity(devnet, demo, args.devnet_activity).start()
        # The demo's index holds the Transfer log and the history: every route answers.
        extra = None if demo is None else {"index_db": str(demo.index_db), "history": True}
        settings = _settings(args, rpc_url, extra)
        fmt = settings.server.log_format
        setup_logging(
            settings.server.log_level, json_lines=None if fmt == "auto" else fmt == "json"
        )
        asyncio.run(_preflight(settings))
        engine = Engine(settings)
        for net in engine.networks.all():
            ident = net.identifier
            if ident is not None:
                print(f"serving {ident.blockchain}/{ident.network} from {net.label}", flush=True)
        # uvicorn shuts down on SIGTERM, then raises the signal again with the handler it
        # found: the default one would end the process before the `finally` below stops the
        # devnet's anvil. An exit that unwinds instead.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        server = settings.server
        if demo is not None:
            print(demo_chain.quickstart(f"http://{server.host}:{server.port}", demo), flush=True)
        pools = [n.rpc_max_connections for n in settings.networks]
        cap = connection_cap(server.max_connections, pools)
        _settle_gc()
        uvicorn.run(
            create_app(engine),
            host=server.host,
            port=server.port,
            log_level=server.log_level,
            log_config=None,  # keep our handlers: JSON lines, request ids, no secrets
            access_log=False,
            # Head size, time to send a request and open connections bounded (api/protocol.py).
            http=protocol_class(server.max_header_bytes, server.client_timeout, cap),
            ws="none",
            # X-Forwarded-* only from the configured proxies (uvicorn trusts loopback unless
            # told otherwise, and reads FORWARDED_ALLOW_IPS when given None).
            proxy_headers=bool(server.forwarded_allow_ips),
            forwarded_allow_ips=server.forwarded_allow_ips or [],
        )
    except ConfigError as exc:
        print(f"rosetta-node: {exc}", file=sys.stderr)
        return 2
    finally:
        if activity is not None:
            activity.stop()
        if devnet is not None:
            devnet.stop()
    return 0


async def _probe_all(settings: Settings) -> list[list[str]]:
    from .engine.node import ChainIdMismatch, NetworkEngine

    rows = []
    for net in settings.networks:
        engine = NetworkEngine(net)
        status, head, version = "ok", "-", "-"
        try:
            await engine.probe()
            problems = await engine.readiness(settings.server.ready_max_head_age)
            head = str((await engine.chain.head()).number)
            version = engine.node_version or "-"
            if problems:
                status = "; ".join(problems)
        except ChainIdMismatch as exc:
            status = str(exc)
        except CatalogError as exc:
            status = f"unreachable: {exc.error.message}"
        finally:
            await engine.close()
        rows.append(
            [
                engine.name,
                engine.label,
                str(engine.chain_id or "?"),
                head,
                version,
                str(len(engine.currencies.tokens)),
                status,
            ]
        )
    return rows


def check_config(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args, args.rpc_url)
    except ConfigError as exc:
        print(f"rosetta-node: {exc}", file=sys.stderr)
        return 2
    try:
        rows = asyncio.run(_probe_all(settings))
    except ConfigError as exc:  # a token list or genesis file that does not parse
        print(f"rosetta-node: {exc}", file=sys.stderr)
        return 2
    header = ["network", "rpc", "chain id", "head", "client", "tokens", "status"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    indexes_ok = _check_index_files(settings)
    return 0 if indexes_ok and all(r[-1] == "ok" for r in rows) else 1


def _check_index_files(settings: Settings) -> bool:
    """One line per SQLite index file: SQLite's quick_check of it."""
    from .index.sqlite import damage

    fine = True
    for i, net in enumerate(settings.networks):
        if net.index_db:
            problem = damage(net.index_db)
            fine = fine and problem is None
            print(f"index networks[{i}] {net.index_db}: {problem or 'ok'}")
    return fine


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["index"]:
        from .index.cli import main as index_main

        return index_main(argv[1:], prog="rosetta-node index")
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "check-config":
        return check_config(args)
    return 2
