"""``rosetta-node index --history``: backfill (or follow) the history index with a progress
bar. Restartable at any moment: it resumes after the last committed block."""

from __future__ import annotations

import argparse

import msgspec

from ..engine.node import NetworkEngine
from ..errors import CatalogError
from ..settings import ConfigError, NetworkSettings
from .errors import IndexerError
from .history_follower import HistoryFollower
from .history_model import HistoryStore
from .model import IndexStoreError
from .open import claim_writer, open_history_store
from .progress import ProgressBar


async def run_history(
    args: argparse.Namespace,
    net: NetworkSettings,
    db: str | None,
    url: str | None,
    confirmations: int,
) -> int:
    start_block = net.history_start_block if args.start_block is None else args.start_block
    if start_block < 0 or args.history_batch < 1:
        raise ConfigError("index: --start-block must not be negative, --history-batch positive")
    engine = NetworkEngine(msgspec.structs.replace(net, index_db=db, index_url=url))
    store: HistoryStore | None = None
    bar = None
    try:
        try:
            await engine.probe()  # chain id, genesis, the fork rules /block applies
        except CatalogError as exc:
            raise IndexerError(f"node {engine.label}: {exc}") from None
        store = open_history_store(engine.settings, engine.name)
        if not await claim_writer(store, wait=False):
            raise IndexStoreError(
                f"another process is writing the index of {engine.name}; stop it first"
            )
        follower = HistoryFollower(
            engine, store, start_block, confirmations, batch=args.history_batch
        )
        bar = None if args.quiet else ProgressBar(label="history", unit="ops", noun="operations")
        if args.follow:
            from .cli import stop_on_signal

            await follower.follow(args.poll_interval, stop_on_signal(), bar)
        else:
            await follower.backfill(args.to_block, bar)
        cursor = await store.cursor()
        if cursor is not None:
            print(f"history of {engine.name} up to block {cursor.number} ({cursor.hash})")
        return 0
    finally:
        if bar is not None:
            bar.close()
        if store is not None:
            await store.close()
        await engine.close()
