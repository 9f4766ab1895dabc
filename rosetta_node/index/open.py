"""Open a network's index store from its settings: SQLite (``index_db``) or PostgreSQL
(``index_url``, needs the ``postgres`` extra: asyncpg)."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from ..settings import ConfigError, NetworkSettings
from .history_model import HistoryStore
from .history_sqlite import SqliteHistoryStore
from .model import IndexStore
from .sqlite import SqliteStore


def _postgres(module: str) -> Any:
    """One of our PostgreSQL store modules (they need the ``postgres`` extra: asyncpg)."""
    if not importlib.util.find_spec("asyncpg"):
        raise ConfigError(
            "index_url: a PostgreSQL index needs asyncpg: pip install 'rosetta-node[postgres]'"
        )
    return importlib.import_module(f"{__package__}.{module}")


def _where(settings: NetworkSettings, what: str) -> str:
    """'postgres' or 'sqlite': where the index store (and the history in it) lives."""
    if settings.index_db and settings.index_url:
        raise ConfigError("index_url: give index_db (SQLite) or index_url (PostgreSQL), not both")
    if settings.index_url:
        return "postgres"
    if settings.index_db:
        return "sqlite"
    raise ConfigError(f"{what}: no index store configured (give index_db or index_url)")


def open_store(settings: NetworkSettings, network: str) -> IndexStore:
    """The store of ``network``'s index as configured. A PostgreSQL store connects on first
    use; several processes may open it, one of them writes (see :func:`claim_writer`)."""
    retention = settings.index_retention
    if _where(settings, "index_db") == "postgres":
        store: IndexStore = _postgres("postgres").PostgresStore(
            settings.index_url, network=network, retention=retention
        )
        return store
    return SqliteStore(str(settings.index_db), network=network, retention=retention)


def open_history_store(settings: NetworkSettings, network: str) -> HistoryStore:
    """The history store of ``network``, in its index store (SQLite file or PostgreSQL)."""
    if _where(settings, "history") == "postgres":
        store: HistoryStore = _postgres("postgres_history").PostgresHistoryStore(
            settings.index_url, network=network
        )
        return store
    return SqliteHistoryStore(str(settings.index_db), network=network)


def store_label(settings: NetworkSettings) -> str:
    """Where the index lives, fit for logs (no password)."""
    if settings.index_url:
        from .postgres import redact_dsn

        return redact_dsn(settings.index_url)
    return settings.index_db or "(none)"


async def claim_writer(store: object, *, wait: bool, poll: float = 1.0) -> bool:
    """Make this process the one that writes ``store``; True when it is.

    A SQLite file has one process by design; a PostgreSQL index is shared by replicas and
    written by the holder of its advisory lock: ``wait`` waits for it (a standby replica,
    which reads meanwhile), else returns False at once when another process holds it.
    """
    lock: Any = getattr(store, "try_lock_writer", None)
    if lock is None:
        return True
    if not wait:
        return bool(await lock())
    await store.wait_writer(poll)  # type: ignore[attr-defined]
    return True
