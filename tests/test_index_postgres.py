"""The Transfer-log index in PostgreSQL: the same behaviour as the SQLite store (a differential
property test against it, the workload backfill, a follow through reorgs on anvil), one writer
and several readers sharing an index, and the token service over it.

A session fixture starts a real PostgreSQL from Debian's packages (``initdb`` + ``pg_ctl`` from
``/usr/lib/postgresql/<version>/bin``) on a free loopback port in a temp dir, as the
``postgres`` system user when the tests run as root, and stops it by pid afterwards. Without
those binaries the PostgreSQL tests skip and say so (``scripts/test`` installs them in CI).
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import pwd
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rosetta_node.devnet import Anvil, free_port
from rosetta_node.engine import Engine
from rosetta_node.index import (
    BlockLogs,
    ChainMismatch,
    Cursor,
    Indexer,
    IndexStoreError,
    ReorgTooDeep,
    SqliteStore,
    Transfer,
)
from rosetta_node.index.model import IndexDump
from rosetta_node.index.open import claim_writer, open_store, store_label
from rosetta_node.index.service import TokenService
from rosetta_node.rpc import RpcClient
from rosetta_node.settings import ConfigError, load_settings
from tests.conftest import CHAIN_ID, Devnet, JsonRpc
from tests.support.chains import (
    ACCOUNTS,
    T1,
    T2,
    ZERO_HASH,
    DumpStore,
    TokenChain,
    backfill_into,
    backfill_store,
    block_hash,
    draw_batches,
    draw_blocks,
    expected_holdings,
    make_chain,
    run_index_command,
    same_index,
    transfer_logs,
    transfers_strategy,
)
from tests.test_index_chain import follow_through_reorgs, wait_synced

asyncpg = pytest.importorskip("asyncpg", reason="asyncpg not installed: pip install -e '.[test]'")
from rosetta_node.index.postgres import PostgresStore, WriterBusy, redact_dsn  # noqa: E402
from tests.workload import ZERO_ADDRESS  # noqa: E402

T = TypeVar("T")

PG_MISSING = "PostgreSQL server binaries not found; install the Debian package postgresql"
PASSWORD = "s3cret-pw"  # trust authentication ignores it; it must never be printed


# -- a real PostgreSQL for the session -----------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The newest Debian PostgreSQL server (``/usr/lib/postgresql/<ver>/bin``), else PATH."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        bindir = Path(initdb).parent
        version = bindir.parent.name
        if (bindir / "pg_ctl").exists() and (bindir / "postgres").exists() and version.isdigit():
            found.append((int(version), bindir))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


@dataclass
class PgServer:
    port: int
    directory: Path
    pid: int
    _counter: Iterator[int]

    def url(self, database: str = "postgres", password: str | None = PASSWORD) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database; its URL (with a password in it)."""
        name = f"t{next(self._counter)}"

        async def create() -> None:
            con = await asyncpg.connect(self.url())
            try:
                await con.execute(f"CREATE DATABASE {name}")
            finally:
                await con.close()

        asyncio.run(create())
        return self.url(name)


def _as_postgres(command: list[str]) -> list[str]:
    """``command`` as the postgres system user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *command]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    bindir = postgres_bindir()
    if bindir is None:
        pytest.skip(PG_MISSING)
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres system user to run PostgreSQL")
    directory = Path(tempfile.mkdtemp(prefix="rosetta-pg-"))
    pid = None
    try:
        if os.geteuid() == 0:
            os.chown(directory, user.pw_uid, user.pw_gid)
        data = directory / "data"
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        for _ in range(5):  # a lost race for the port: try another
            port = free_port()
            options = (
                f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=300 -c shared_buffers=128MB"
            )
            started = subprocess.run(
                _as_postgres(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(data),
                        "-l",
                        str(directory / "server.log"),
                        "-o",
                        options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ]
                ),
                capture_output=True,
                timeout=90,
            )
            if started.returncode == 0:
                break
        else:
            log = (directory / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr!r}\n{log}")
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield PgServer(port, directory, pid, itertools.count(1))
    finally:
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGINT)  # fast shutdown
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGQUIT)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: PgServer) -> str:
    """A fresh database for one test."""
    return postgres.new_database()


# -- settings and the factory (no server needed) -------------------------------------------------


def test_index_url_setting_is_checked_and_redacted(tmp_path: Path) -> None:
    base = {"ROSETTA_NODE_RPC_URL": "http://127.0.0.1:8545"}
    url = f"postgresql://rosetta:{PASSWORD}@db.internal:5432/index?sslmode=require"
    net = load_settings(env={**base, "ROSETTA_NODE_INDEX_URL": url}).networks[0]
    assert net.index_url == url and net.index_db is None
    with pytest.raises(ConfigError, match=r"networks\[0\]\.index_url: give index_db") as both:
        load_settings(env={**base, "ROSETTA_NODE_INDEX_URL": url, "ROSETTA_NODE_INDEX_DB": "x.db"})
    with pytest.raises(
        ConfigError, match=r"networks\[0\]\.index_url: expected a postgresql"
    ) as bad:
        load_settings(env={**base, "ROSETTA_NODE_INDEX_URL": "mysql://u:" + PASSWORD + "@h/db"})
    for exc in (both.value, bad.value):
        assert PASSWORD not in str(exc)
    assert redact_dsn(url) == "postgresql://rosetta@db.internal:5432/index"
    assert store_label(net) == "postgresql://rosetta@db.internal:5432/index"
    store = open_store(net, "Ethereum/mainnet")
    assert isinstance(store, PostgresStore)
    assert store.schema == "rosetta_index_ethereum_mainnet"
    assert PASSWORD not in repr(store)
    sqlite = load_settings(env={**base, "ROSETTA_NODE_INDEX_DB": str(tmp_path / "i.db")})
    assert isinstance(open_store(sqlite.networks[0], "n"), SqliteStore)


def test_a_connection_failure_names_the_url_without_its_password() -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/rosetta"

    async def scenario() -> str:
        store = PostgresStore(url, network="n", connect_timeout=2.0)
        try:
            await store.cursor()
        except IndexStoreError as exc:
            return str(exc)
        finally:
            await store.close()
        raise AssertionError("connected to a closed port")

    message = asyncio.run(scenario())
    assert "cannot connect" in message and redact_dsn(url) in message
    assert PASSWORD not in message


# -- the store on its own, the same cases as SQLite ------------------------------------------------


def _open(kind: str, where: str | Path, network: str, retention: int) -> DumpStore:
    if kind == "sqlite":
        return SqliteStore(where, network=network, retention=retention)
    return PostgresStore(str(where), network=network, retention=retention)


@pytest.fixture(params=["sqlite", "postgres"])
def store_at(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., DumpStore]:
    """Opens a store of the parametrized kind: ``store_at(network, retention)``."""
    if request.param == "postgres":
        where: str | Path = request.getfixturevalue("pg_url")
    else:
        where = tmp_path / "s.db"
    return lambda network="n", retention=256: _open(request.param, where, network, retention)


def test_store_apply_rollback_and_refusals(store_at: Callable[..., DumpStore]) -> None:
    """tests/test_index.py's store test, over the async protocol, for both stores."""

    async def scenario() -> None:
        store = store_at("n", 5)
        try:
            a, b, c = ACCOUNTS[:3]
            main = make_chain(
                "m",
                0,
                8,
                ZERO_HASH,
                {1: [Transfer(T1, a, b)], 3: [Transfer(T1, b, c)], 6: [Transfer(T1, a, c)]},
            )
            await store.apply(main[:4], Cursor(3, main[3].hash))
            with pytest.raises(ChainMismatch):  # does not link to block 3
                await store.apply(
                    make_chain("x", 4, 1, block_hash("x", 3), {}), Cursor(4, block_hash("x", 4))
                )
            with pytest.raises(ChainMismatch):  # goes backwards
                await store.apply(main[2:4], Cursor(3, main[3].hash))
            with pytest.raises(ValueError):
                await store.apply(main[4:5], Cursor(3, main[3].hash))
            await store.apply(main[4:], Cursor(7, main[7].hash), head=7)
            assert (await store.holders(T1))[0].account == a  # first seen first
            holders = {(h.account, h.last_block) for h in await store.holders(T1)}
            assert holders == {(a, 6), (b, 3), (c, 6)}
            assert await store.rollback_to(4) == Cursor(4, main[4].hash)
            holders = {(h.account, h.last_block) for h in await store.holders(T1)}
            assert holders == {(a, 1), (b, 3), (c, 3)}
            other = make_chain("o", 5, 3, main[4].hash, {5: [Transfer(T2, c, a)]})
            await store.apply(other, Cursor(7, other[-1].hash), head=7)
            upper = "0x" + a[2:].upper()
            assert [t.contract for t in await store.tokens_of(upper)] == [T1, T2]
            more = make_chain("o", 8, 20, other[-1].hash, {20: [Transfer(T2, a, b)]})
            await store.apply(more, Cursor(27, more[-1].hash), head=27)
            assert await store.floor() == 22
            with pytest.raises(ReorgTooDeep):
                await store.rollback_to(21)
            with pytest.raises(IndexStoreError):
                await store.rollback_to(30)  # above the cursor
            assert (await store.rollback_to(23)).number == 23
            dump = await store.dump()
            assert [n for n, _, _ in dump.blocks if n < 22] == [1, 3, 5, 20]
            assert await store.block_hash(20) == more[12].hash
            assert [c.number for c in await store.recent_blocks(22, 2)] == [20, 5]
            # Snapshot reads name the cursor they were read with.
            snap = await store.account_tokens(a, at_block=4)
            assert snap.cursor == Cursor(23, more[15].hash)
            assert [(t.contract, t.first_block) for t in snap.rows] == [(T1, 1)]
            assert (await store.holder_count(T2)).rows == 3
            assert (await store.holder_count(T2, at_block=5)).rows == 2
            page = await store.contract_holders(T2, limit=1)
            rest = await store.contract_holders(T2, after=page.rows[0].account)
            assert len(page.rows) + len(rest.rows) == 3
            changes = await store.balance_changes(T2, 5)
            assert sorted((ch.account, ch.block_number) for ch in changes.rows) == [
                (a, 20),
                (b, 20),
            ]
            assert await store.get_meta("nothing") is None
            await store.set_meta("k", "v")
            assert await store.get_meta("k") == "v"
            await store.set_bulk(True)
            assert await store.bulk()
            await store.set_bulk(False)
            assert not await store.bulk()
        finally:
            await store.close()

    asyncio.run(scenario())


def test_a_schema_belongs_to_one_network(pg_url: str) -> None:
    async def scenario() -> None:
        first = PostgresStore(pg_url, network="Ethereum/mainnet", schema="shared")
        await first.apply(
            [BlockLogs(0, block_hash("g", 0), ZERO_HASH)], Cursor(0, block_hash("g", 0))
        )
        await first.close()
        other = PostgresStore(pg_url, network="Ethereum/sepolia", schema="shared")
        with pytest.raises(IndexStoreError, match="holds the index of network 'Ethereum/mainnet'"):
            await other.cursor()
        await other.close()
        # Two networks side by side in one database, each in its own schema.
        a = PostgresStore(pg_url, network="Ethereum/mainnet")
        b = PostgresStore(pg_url, network="Base/mainnet")
        await a.apply([BlockLogs(0, block_hash("a", 0), ZERO_HASH)], Cursor(0, block_hash("a", 0)))
        await b.apply([BlockLogs(0, block_hash("b", 0), ZERO_HASH)], Cursor(0, block_hash("b", 0)))
        assert (await a.cursor(), await b.cursor()) == (
            Cursor(0, block_hash("a", 0)),
            Cursor(0, block_hash("b", 0)),
        )
        await a.close()
        await b.close()

    asyncio.run(scenario())


_networks = itertools.count()


@settings(max_examples=30, deadline=None)
@given(data=st.data(), length=st.integers(3, 24), retention=st.sampled_from([3, 8, 1000]))
def test_postgres_equals_sqlite_under_random_reorgs(
    postgres: PgServer,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    length: int,
    retention: int,
) -> None:
    """Random chains, batches, heads and reorgs applied to both stores in lockstep: the same
    answers, the same refusals, the same database after every step; and at the end the same
    as indexing the final chain from scratch."""
    block_transfers = transfers_strategy()
    url = postgres.url("postgres")
    network = f"prop-{os.getpid()}-{next(_networks)}"
    path = tmp_path_factory.mktemp("prop") / "p.db"

    async def scenario() -> None:
        lite = SqliteStore(path, network=network, retention=retention)
        pg = PostgresStore(url, network=network, retention=retention)
        try:
            bulk = data.draw(st.booleans())
            if bulk:
                await lite.set_bulk(True)
                await pg.set_bulk(True)
            chain: list[BlockLogs] = []
            parent = ZERO_HASH
            for branch in range(data.draw(st.integers(1, 4))):
                if chain and data.draw(st.booleans()):
                    stored = [n for n, _, _ in (await lite.dump()).blocks]
                    fork = data.draw(st.sampled_from(stored))
                    try:
                        want: Cursor | None = await lite.rollback_to(fork)
                    except ReorgTooDeep:
                        want = None
                    if want is None:
                        with pytest.raises(ReorgTooDeep):
                            await pg.rollback_to(fork)
                    else:
                        assert await pg.rollback_to(fork) == want
                        chain = chain[: fork + 1]
                        parent = chain[-1].hash
                count = data.draw(st.integers(1, length))
                tag = f"b{branch}-"
                new = draw_blocks(data, block_transfers, tag, len(chain), count, parent)
                parent = new[-1].hash
                for batch in draw_batches(data, new):
                    head = batch[-1].number + data.draw(st.sampled_from([0, 0, 2, 50]))
                    cursor = Cursor(batch[-1].number, batch[-1].hash)
                    await lite.apply(batch, cursor, head=head)
                    await pg.apply(batch, cursor, head=head)
                chain.extend(new)
                assert await pg.dump() == await lite.dump()
                account = data.draw(st.sampled_from(ACCOUNTS))
                assert await pg.tokens_of(account) == await lite.tokens_of(account)
                assert (await pg.account_tokens(account)).rows == (
                    await lite.account_tokens(account)
                ).rows
                for token in (T1, T2):
                    got = await pg.changed_since(token, len(chain) // 2, limit=1000)
                    want_changes = await lite.changed_since(token, len(chain) // 2, limit=1000)
                    assert sorted(got, key=str) == sorted(want_changes, key=str)
                    assert (await pg.holder_count(token)).rows == (
                        await lite.holder_count(token)
                    ).rows
            if bulk:
                await lite.set_bulk(False)
                await pg.set_bulk(False)
            got_dump = await pg.dump()
            assert got_dump == await lite.dump()
        finally:
            await lite.close()
            await pg.drop()
        fresh = SqliteStore(path.with_name("fresh.db"), network=network, retention=retention)
        try:
            await fresh.apply(chain, Cursor(chain[-1].number, chain[-1].hash))
            same_index(got_dump, await fresh.dump())
        finally:
            await fresh.close()

    asyncio.run(scenario())
    for p in path.parent.iterdir():
        p.unlink()


# -- against anvil -----------------------------------------------------------------------------


async def backfill_postgres(
    url: str,
    dsn: str,
    network: str = "test",
    to_block: int | None = None,
    bulk: bool | None = None,
    **options: Any,
) -> tuple[IndexDump, Indexer]:
    """tests/support/chains.py's ``backfill_into``, into PostgreSQL."""
    store = PostgresStore(dsn, network=network)
    return await backfill_store(url, store, to_block, bulk, **options)


async def _pg_indexes(url: str, schema: str) -> set[str]:
    con = await asyncpg.connect(url)
    try:
        rows = await con.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'holding'",
            schema,
        )
        return {r[0] for r in rows} - {"holding_pkey"}
    finally:
        await con.close()


@pytest.mark.parametrize("bulk", [False, True], ids=["indexed", "bulk"])
def test_workload_backfill_equals_the_sqlite_backfill(
    anvil: Anvil, rpc: JsonRpc, devnet: Devnet, pg_url: str, tmp_path: Path, bulk: bool
) -> None:
    to_block = devnet.workload.last_block
    options = {"initial_range": 8, "max_range": 64}
    lite, _ = asyncio.run(backfill_into(anvil.url, tmp_path / "i.db", to_block, bulk, **options))
    pg, indexer = asyncio.run(
        backfill_postgres(anvil.url, pg_url, "test", to_block, bulk, **options)
    )
    same_index(pg, lite)
    assert pg.holdings == lite.holdings == expected_holdings(transfer_logs(rpc, to_block))
    assert pg.cursor is not None and pg.cursor.number == to_block
    assert indexer.logs > 50
    schema = PostgresStore(pg_url, network="test").schema
    assert asyncio.run(_pg_indexes(pg_url, schema)) == {"holding_by_account", "holding_by_change"}

    async def queries() -> None:
        a = SqliteStore(tmp_path / "i.db", network="test")
        b = PostgresStore(pg_url, network="test")
        try:
            accounts = sorted({h[1] for h in lite.holdings})
            contracts = sorted({h[0] for h in lite.holdings})
            for account in accounts:
                assert await b.tokens_of(account) == await a.tokens_of(account)
                assert (await b.account_tokens(account, to_block // 2)).rows == (
                    await a.account_tokens(account, to_block // 2)
                ).rows
            for contract in contracts:
                got = await b.holders(contract, limit=10_000)
                assert sorted(got, key=str) == sorted(
                    await a.holders(contract, limit=10_000), key=str
                )
                paged, after = [], None
                while page := await b.holders(contract, after, limit=3):
                    paged.extend(page)
                    after = page[-1].account
                assert paged == got  # pages in one stable order, each holder once
                changed, cursor = [], None
                while chunk := await b.changed_since(contract, to_block // 2, cursor, limit=2):
                    changed.extend(chunk)
                    cursor = (chunk[-1].block_number, chunk[-1].account)
                want = await a.changed_since(contract, to_block // 2, limit=10_000)
                assert sorted(changed, key=str) == sorted(want, key=str)
                assert [c.block_number for c in changed] == sorted(c.block_number for c in changed)
            assert await b.tokens_of("0x" + "ab" * 20) == []
        finally:
            await a.close()
            await b.close()

    asyncio.run(queries())


def test_follow_through_reorgs_equals_a_fresh_backfill(pg_url: str, tmp_path: Path) -> None:
    with Anvil() as node:
        chain = TokenChain(node, seed=7)
        chain.activity(12, empty_every=5)

        async def scenario() -> None:
            store = PostgresStore(pg_url, network="t", retention=32)
            followed, to_block = await follow_through_reorgs(node, chain, store, "pg-")
            fresh, _ = await backfill_into(node.url, tmp_path / "fresh.db", to_block)
            same_index(followed, fresh)
            assert followed.holdings == expected_holdings(transfer_logs(chain.rpc, to_block))
            fresh_pg, _ = await backfill_postgres(node.url, pg_url, "fresh", to_block)
            same_index(followed, fresh_pg)

        asyncio.run(scenario())


def test_one_writer_and_readers_share_the_index(pg_url: str, postgres: PgServer) -> None:
    """One follower writes; a second follower does not write a thing (the advisory lock);
    readers see consistent snapshots while blocks arrive; a standby takes over."""
    with Anvil() as node:
        chain = TokenChain(node, tokens=2, seed=9)
        chain.activity(4)

        async def scenario() -> None:
            rpc = RpcClient(node.url, name="anvil")
            writer = PostgresStore(pg_url, network="t", retention=32)
            readers = [PostgresStore(pg_url, network="t") for _ in range(2)]
            second = PostgresStore(pg_url, network="t")
            standby = PostgresStore(pg_url, network="t")
            indexer = Indexer(rpc, writer, follow_batch=2)
            stop = asyncio.Event()
            assert await claim_writer(writer, wait=False)
            task = asyncio.create_task(indexer.follow(poll_interval=0.02, stop=stop))
            try:
                await wait_synced(chain, writer, task, timeout=30.0)
                # A second follower: reads fine, refuses every write, writes nothing.
                assert not await second.try_lock_writer()
                before = await writer.dump()
                with pytest.raises(WriterBusy, match="another process is writing"):
                    await Indexer(rpc, second, start_block=0).backfill(bulk=True)
                with pytest.raises(WriterBusy):
                    await second.set_meta("genesis_hash", ZERO_HASH)
                with pytest.raises(WriterBusy):
                    await second.rollback_to(0)
                assert await writer.dump() == before
                assert await second.cursor() == before.cursor

                # Readers while blocks arrive: every snapshot equals what the logs imply up to
                # the cursor it was read with.
                token = chain.tokens[0]
                snapshots = []

                async def read_all() -> None:
                    for reader in readers:
                        holders = await reader.contract_holders(token, limit=10_000)
                        count = await reader.holder_count(token)
                        snapshots.append((holders, count))

                await read_all()  # before: at the synced tip
                worker = threading.Thread(target=chain.activity, args=(12,))
                worker.start()
                while worker.is_alive():
                    await read_all()
                    await asyncio.sleep(0.01)
                worker.join()
                await wait_synced(chain, writer, task, timeout=30.0)
                await read_all()  # after: at the new tip
                logs = transfer_logs(chain.rpc, int(chain.head()["number"], 16))
                cursors = set()
                for holders, count in snapshots:
                    assert holders.cursor is not None
                    cursors.add(holders.cursor.number)
                    want = sorted(
                        (a, f, n, h)
                        for c, a, f, n, h in expected_holdings(logs, holders.cursor.number)
                        if c == token and a != ZERO_ADDRESS  # never a holder
                    )
                    got = sorted(
                        (h.account, h.first_block, h.last_block, h.last_hash) for h in holders.rows
                    )
                    assert got == want, holders.cursor
                    assert count.cursor is not None
                    assert count.rows == len(
                        {
                            a
                            for c, a, *_ in expected_holdings(logs, count.cursor.number)
                            if c == token and a != ZERO_ADDRESS
                        }
                    )
                assert len(cursors) > 1, "the readers never saw the index move"

                # A standby waits for the lock and takes over when the writer goes away.
                waiting = asyncio.create_task(standby.wait_writer(poll=0.05))
                await asyncio.sleep(0.3)
                assert not waiting.done()
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)
                await writer.close()  # the session ends: the lock is free
            try:
                await asyncio.wait_for(waiting, 10)
                assert standby.is_writer
                await chain_more(chain)
                await Indexer(rpc, standby).backfill()
                head = chain.head()
                assert await standby.cursor() == Cursor(int(head["number"], 16), head["hash"])
                assert not await second.try_lock_writer()
            finally:
                for store in (*readers, second, standby):
                    await store.close()
                await rpc.close()

        asyncio.run(scenario())


async def chain_more(chain: TokenChain) -> None:
    await asyncio.to_thread(chain.activity, 3)


def test_index_command_with_url_refuses_while_another_writes(
    anvil: Anvil, devnet: Devnet, pg_url: str
) -> None:
    def index(*extra: str) -> subprocess.CompletedProcess[str]:
        return run_index_command(anvil.url, CHAIN_ID, "--url", pg_url, *extra)

    done = index("--to-block", str(devnet.workload.last_block))
    assert done.returncode == 0, done.stderr
    assert f"up to block {devnet.workload.last_block}" in done.stdout
    assert PASSWORD not in done.stdout + done.stderr

    async def hold() -> tuple[subprocess.CompletedProcess[str], IndexDump, IndexDump]:
        holder = PostgresStore(pg_url, network="Ethereum/devnet")
        assert await holder.try_lock_writer()
        try:
            before = await holder.dump()
            refused = await asyncio.to_thread(index)
            return refused, before, await holder.dump()
        finally:
            await holder.close()

    refused, before, after = asyncio.run(hold())
    assert refused.returncode == 1
    assert "another process is writing the index of Ethereum/devnet" in refused.stderr
    assert redact_dsn(pg_url) in refused.stderr and PASSWORD not in refused.stderr
    assert after == before
    both = index("--db", "/tmp/never.db")
    assert both.returncode == 2 and "not both" in both.stderr


# -- the token service over PostgreSQL ---------------------------------------------------------


async def _services(
    anvil: Anvil,
    devnet: Devnet,
    envs: list[dict[str, str]],
    body: Callable[[list[TokenService]], Coroutine[Any, Any, T]],
) -> T:
    engines, services = [], []
    try:
        for extra in envs:
            env = {
                "ROSETTA_NODE_RPC_URL": anvil.url,
                "ROSETTA_NODE_CHAIN_ID": str(CHAIN_ID),
                "ROSETTA_NODE_TOKEN_LIST": str(devnet.token_list),
                "ROSETTA_NODE_INDEX_POLL_INTERVAL": "0.1",
                **extra,
            }
            engine = Engine(load_settings(env=env))
            engines.append(engine)
            service = TokenService(engine.networks)
            services.append(service)
            await engine.networks.all()[0].probe()
            service.start()
        for service in services:
            index = service.index_of(service.all()[0])
            for _ in range(600):
                status = await index.status()
                if status.cursor is not None and status.cursor.number >= devnet.workload.last_block:
                    break
                await asyncio.sleep(0.1)
        return await body(services)
    finally:
        for service in services:
            await service.stop()
        for engine in engines:
            await engine.stop()


def test_token_service_over_postgres_answers_like_over_sqlite(
    anvil: Anvil, devnet: Devnet, pg_url: str, tmp_path: Path
) -> None:
    """Two replicas over one PostgreSQL index (one follows, the other stands by and reads)
    answer exactly like a node over SQLite."""
    at = devnet.workload.last_block
    accounts = devnet.workload.accounts
    token = devnet.tracked[0].address

    async def answers(service: TokenService) -> Any:
        engine = service.all()[0]
        tokens = [await service.account_tokens(engine, a, at_block=at) for a in accounts]
        holders = await service.holders(engine, token, limit=1000, at_block=at)
        count = await service.holder_count(engine, token, at_block=at)
        return tokens, sorted(holders.items, key=str), holders.block, count

    async def with_sqlite(services: list[TokenService]) -> Any:
        return await answers(services[0])

    async def with_postgres(services: list[TokenService]) -> Any:
        indexes = [s.index_of(s.all()[0]) for s in services]
        writers = [i for i in indexes if i.follower is not None]
        assert len(writers) == 1, "exactly one replica follows"
        standby = next(i for i in indexes if i.follower is None)
        status = await standby.status()
        assert status.running and status.problem is None and status.cursor is not None
        assert await standby.readiness() == []
        return [await answers(s) for s in services]

    lite = asyncio.run(
        _services(anvil, devnet, [{"ROSETTA_NODE_INDEX_DB": str(tmp_path / "i.db")}], with_sqlite)
    )
    env = {"ROSETTA_NODE_INDEX_URL": pg_url}
    replicas = asyncio.run(_services(anvil, devnet, [env, env], with_postgres))
    for got in replicas:
        assert got == lite
    assert sum(len(answer.items) for answer in lite[0]) > 20


@pytest.fixture(autouse=True)
def _no_env_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("ROSETTA_NODE_"):
            monkeypatch.delenv(key)
