"""The ERC-20 Transfer-log index: backfill of the workload chain against an expectation built
independently from eth_getLogs, adaptive ranges behind a node that refuses big ranges or times
out, and the storage semantics (atomic apply, rollback through the journal, paging)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from rosetta_node.engine.node_errors import NodeError
from rosetta_node.index import (
    TRANSFER_TOPIC,
    BlockLogs,
    ChainMismatch,
    Cursor,
    ProgressBar,
    ProgressEvent,
    RangeSizer,
    ReorgTooDeep,
    SqliteIndex,
    Transfer,
    parse_transfer,
)
from rosetta_node.index.log_source import classify_logs_error, suggested_range
from tests.conftest import Devnet, JsonRpc
from tests.fault_proxy import FaultProxy
from tests.support.chains import (
    ACCOUNTS,
    T1,
    T2,
    ZERO_HASH,
    backfill_into,
    block_hash,
    draw_batches,
    draw_blocks,
    expected_holdings,
    make_chain,
    query_indexes,
    same_index,
    topic_address,
    transfer_logs,
    transfers_strategy,
)
from tests.workload import ZERO_ADDRESS

# -- (a) backfill of the workload chain ---------------------------------------------------------


@pytest.mark.parametrize("bulk", [False, True], ids=["indexed", "bulk"])
def test_backfill_matches_transfer_logs(
    anvil: Any, rpc: JsonRpc, devnet: Devnet, tmp_path: Path, bulk: bool
) -> None:
    to_block = devnet.workload.last_block
    logs = transfer_logs(rpc, to_block)
    expected = expected_holdings(logs)
    assert len(logs) > 50, "the workload should have produced many Transfer logs"

    dump, indexer = asyncio.run(
        backfill_into(
            anvil.url, tmp_path / "index.db", to_block, bulk, initial_range=8, max_range=64
        )
    )
    assert query_indexes(tmp_path / "index.db") == {"holding_by_account", "holding_by_change"}
    head_hash = rpc("eth_getBlockByNumber", hex(to_block), False)["hash"]
    assert dump.cursor == Cursor(to_block, head_hash)
    assert dump.holdings == expected
    assert indexer.logs == sum(1 for x in logs if len(x["topics"]) == 3)
    contracts = {h[0] for h in expected}
    assert {t.address.lower() for t in devnet.workload.tokens} <= contracts
    # Every holder's last change is the last block where a Transfer log touched it.
    last_touch: dict[tuple[str, str], int] = {}
    for entry in logs:
        for topic in entry["topics"][1:3]:
            key = (entry["address"].lower(), topic_address(topic))
            last_touch[key] = max(last_touch.get(key, -1), int(entry["blockNumber"], 16))
    assert {(c, a): last for c, a, _, last, _ in dump.holdings} == last_touch

    index = SqliteIndex(tmp_path / "index.db", network="test", readonly=True)
    try:
        accounts = sorted({h[1] for h in expected})
        for account in accounts:
            mine = [(t.contract, t.last_block, t.last_hash) for t in index.tokens_of(account)]
            assert mine == [(c, n, h) for c, a, _, n, h in expected if a == account]
        # Upper-case input finds the same rows (addresses are stored lower-case).
        some = accounts[-1]
        assert index.tokens_of("0x" + some[2:].upper()) == index.tokens_of(some)
        for contract in contracts:
            # The zero address (mints' sender) is never a holder.
            rows = [h for h in expected if h[0] == contract and h[1] != ZERO_ADDRESS]
            paged, after = [], None
            while True:
                page = index.holders(contract, after, limit=3)
                if not page:
                    break
                paged.extend(page)
                after = page[-1].account
            # Pages in a stable order (first seen), each holder exactly once.
            got = [(h.account, h.first_block, h.last_block, h.last_hash) for h in paged]
            assert len(got) == len(set(got))
            assert sorted(got) == [(a, f, n, h) for _, a, f, n, h in rows]
            assert [h.account for h in index.holders(contract, limit=1000)] == [g[0] for g in got]
            middle = sorted(n for *_, n, _ in rows)[len(rows) // 2]
            changed, cursor = [], None
            while True:
                chunk = index.changed_since(contract, middle, cursor, limit=2)
                if not chunk:
                    break
                changed.extend(chunk)
                cursor = (chunk[-1].block_number, chunk[-1].account)
            got_changes = [(c.block_number, c.account, c.block_hash) for c in changed]
            assert len(got_changes) == len(set(got_changes))
            assert [n for n, _, _ in got_changes] == sorted(n for n, _, _ in got_changes)
            assert sorted(got_changes) == sorted((n, a, h) for _, a, _, n, h in rows if n > middle)
        assert index.tokens_of("0x" + "ab" * 20) == []
    finally:
        index.close()


# -- (b) adaptive ranges behind a node that limits eth_getLogs ----------------------------------


class LogLimitProxy(FaultProxy):
    """Answers eth_getLogs over more than ``max_blocks`` blocks with an error (like Infura or
    Alchemy) or stalls it past the client's timeout (like an overloaded node)."""

    def __init__(self, upstream: str, max_blocks: int, mode: str = "error") -> None:
        super().__init__(upstream)
        self.max_blocks = max_blocks
        self.mode = mode
        self.refused: list[tuple[int, int]] = []
        self.served: list[tuple[int, int]] = []

    def _span(self, item: Any) -> tuple[int, int] | None:
        if not isinstance(item, dict) or item.get("method") != "eth_getLogs":
            return None
        params = item.get("params") or [{}]
        start, end = params[0].get("fromBlock"), params[0].get("toBlock")
        if start is None or end is None:
            return None
        return int(start, 16), int(end, 16)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        decoded = json.loads(body)
        items = decoded if isinstance(decoded, list) else [decoded]
        refuse: dict[Any, tuple[int, int]] = {}
        for item in items:
            span = self._span(item)
            if span is None:
                continue
            if span[1] - span[0] + 1 > self.max_blocks:
                refuse[item["id"]] = span
            else:
                self.served.append(span)
        if refuse and self.mode == "timeout":
            self.refused.extend(refuse.values())
            await asyncio.sleep(1.5)  # the client gave up long ago
            return web.Response(status=504)
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as answer:
            result = json.loads(await answer.read())
        results = result if isinstance(result, list) else [result]
        for i, element in enumerate(results):
            span = refuse.get(element.get("id"))
            if span is None:
                continue
            self.refused.append(span)
            if self.mode == "hint":
                error = {
                    "code": -32602,
                    "message": "Log response size exceeded. Based on your parameters, this "
                    f"block range should work: [{hex(span[0])}, "
                    f"{hex(span[0] + self.max_blocks - 1)}]",
                }
            else:
                error = {"code": -32005, "message": "query returned more than 10000 results"}
            results[i] = {"jsonrpc": "2.0", "id": element.get("id"), "error": error}
        out = results if isinstance(result, list) else results[0]
        return web.Response(body=json.dumps(out).encode(), content_type="application/json")


@pytest.mark.parametrize("mode", ["error", "hint", "timeout"])
def test_adaptive_ranges_complete_with_the_same_result(
    anvil: Any, rpc: JsonRpc, devnet: Devnet, tmp_path: Path, mode: str
) -> None:
    to_block = devnet.workload.last_block
    clean, _ = asyncio.run(
        backfill_into(anvil.url, tmp_path / "clean.db", to_block, initial_range=50)
    )
    proxy = LogLimitProxy(anvil.url, max_blocks=7, mode=mode)
    proxy.start()
    try:
        limited, indexer = asyncio.run(
            backfill_into(
                proxy.url,
                tmp_path / "limited.db",
                to_block,
                initial_range=64,
                max_range=256,
                log_timeout=0.5,
                retry_delay=0.05,
            )
        )
    finally:
        proxy.stop()
    same_index(clean, limited)
    assert limited.holdings == expected_holdings(transfer_logs(rpc, to_block))
    assert proxy.refused, "the proxy never refused a range"
    assert all(end - start + 1 <= 7 for start, end in proxy.served)
    # Shrinking stops at the limit and growth stays under it: few refusals, not one per range.
    assert len(proxy.refused) < len(proxy.served) / 2
    if mode == "hint":
        # The node's suggested range is taken at once (no halving) and growth stops there.
        assert indexer.sizer.shrinks <= 4
    served = sorted(proxy.served)
    covered: set[int] = set()
    for start, end in served:
        covered.update(range(start, end + 1))
    assert covered >= set(range(0, to_block + 1))


def test_logs_error_classification() -> None:
    def err(code: int, message: str, data: Any = None) -> NodeError:
        return NodeError("eth_getLogs", code, message, data)

    too_large = [
        err(-32005, "query returned more than 10000 results"),
        err(-32602, "Log response size exceeded. this block range should work: [0x1, 0x64]"),
        err(-32000, "block range is too wide"),
        err(-32000, "query exceeds max results 20000, retry with the range 1-100"),
        err(-32614, "eth_getLogs is limited to a 10,000 range"),
        err(-32000, "Block range limit exceeded"),
        err(-32000, "query timeout exceeded"),
        err(-32000, "response size should not greater than 10000000 bytes"),
    ]
    for e in too_large:
        assert classify_logs_error(e) == "too_large", e
    daily = err(-32005, "daily request count exceeded, request rate limited")
    assert classify_logs_error(daily) == "rate_limited"
    assert classify_logs_error(err(-32005, "request rate limited")) == "rate_limited"
    assert classify_logs_error(err(-32000, "unknown block")) == "other"
    assert suggested_range(too_large[1]) == 100
    assert suggested_range(err(-32602, "x", "use [0x10, 0x1f]")) == 16
    assert suggested_range(too_large[0]) is None


def test_range_sizer_shrinks_grows_and_remembers_the_ceiling() -> None:
    sizer = RangeSizer(100, 1000, target_logs=1000, target_seconds=2.0, probe_after=4)
    sizer.record(100, 10, 0.1)
    assert sizer.size == 200
    sizer.shrink(200)
    assert (sizer.size, sizer.ceiling) == (100, 200)
    sizer.record(100, 10, 0.1)
    assert sizer.size == 199  # under the size that failed
    sizer.shrink(199, hint=30)
    assert sizer.size == 30
    for _ in range(4):
        sizer.record(sizer.size, 10, 0.1)
    assert sizer.ceiling is None  # probing again after a streak of successes
    sizer.record(sizer.size, 5000, 0.1)  # too many logs: halve
    assert sizer.size == max(1, sizer.size)
    sizer.shrink(1)
    assert sizer.size == 1


def test_parse_transfer_takes_erc20_transfers_only() -> None:
    a, b = "0x" + "11" * 20, "0x" + "22" * 20

    def topic(address: str) -> str:
        return "0x" + "0" * 24 + address[2:]

    base = {"address": "0x" + "AB" * 20, "topics": [TRANSFER_TOPIC, topic(a), topic(b)]}
    assert parse_transfer(base) == Transfer("0x" + "ab" * 20, a, b)
    erc721 = {**base, "topics": [*base["topics"], "0x" + "00" * 31 + "07"]}
    assert parse_transfer(erc721) is None
    other = {**base, "topics": ["0x" + "12" * 32, topic(a), topic(b)]}
    assert parse_transfer(other) is None
    not_address = {**base, "topics": [TRANSFER_TOPIC, "0x" + "ff" * 32, topic(b)]}
    assert parse_transfer(not_address) is None


def test_progress_bar_reports_rates_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    bar = ProgressBar(out, interval=0.0, clock=lambda: now[0])
    for i in range(10):
        now[0] += 1.0
        bar(ProgressEvent(0, 1999, i * 100, i * 100 + 99, 500, 100))
    line = bar.line()
    assert "100 blk/s" in line and "500 logs/s" in line and "ETA 10s" in line
    assert " 50.0%" in line
    bar.close()
    assert "1,000 blocks, 5,000 Transfer logs" in out.getvalue().splitlines()[-1]


# -- the store on its own ------------------------------------------------------------------------


def test_store_apply_rollback_and_refusals(tmp_path: Path) -> None:
    index = SqliteIndex(tmp_path / "s.db", network="n", retention=5)
    a, b, c = ACCOUNTS[:3]
    main = make_chain(
        "m",
        0,
        8,
        "0x" + "00" * 32,
        {1: [Transfer(T1, a, b)], 3: [Transfer(T1, b, c)], 6: [Transfer(T1, a, c)]},
    )
    index.apply(main[:4], Cursor(3, main[3].hash))
    with pytest.raises(ChainMismatch):  # does not link to block 3
        index.apply(make_chain("x", 4, 1, block_hash("x", 3), {}), Cursor(4, block_hash("x", 4)))
    with pytest.raises(ChainMismatch):  # goes backwards
        index.apply(main[2:4], Cursor(3, main[3].hash))
    index.apply(main[4:], Cursor(7, main[7].hash), head=7)
    assert index.holders(T1)[0].account == a  # first seen first
    assert {(h.account, h.last_block) for h in index.holders(T1)} == {(a, 6), (b, 3), (c, 6)}
    # Roll back to block 4 and follow another branch there.
    assert index.rollback_to(4) == Cursor(4, main[4].hash)
    assert {(h.account, h.last_block) for h in index.holders(T1)} == {(a, 1), (b, 3), (c, 3)}
    other = make_chain("o", 5, 3, main[4].hash, {5: [Transfer(T2, c, a)]})
    index.apply(other, Cursor(7, other[-1].hash), head=7)
    assert [t.contract for t in index.tokens_of(a)] == [T1, T2]
    # Far ahead: the floor rises to head - retention and rollbacks below it are refused.
    more = make_chain("o", 8, 20, other[-1].hash, {20: [Transfer(T2, a, b)]})
    index.apply(more, Cursor(27, more[-1].hash), head=27)
    assert index.floor() == 22
    with pytest.raises(ReorgTooDeep):
        index.rollback_to(21)
    assert index.rollback_to(23).number == 23
    # Below the floor only blocks with Transfer logs stay (holdings point at them).
    assert [n for n, _, _ in index.dump().blocks if n < 22] == [1, 3, 5, 20]
    index.close()


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    length=st.integers(3, 24),
)
def test_store_rollback_equals_a_fresh_index_of_the_surviving_chain(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject, length: int
) -> None:
    """Random chains, random batches, random reorgs: always equal to indexing the final chain
    from scratch in one batch."""
    block_transfers = transfers_strategy()
    path = tmp_path_factory.mktemp("prop") / "p.db"
    index = SqliteIndex(path, network="n", retention=1000)
    bulk = data.draw(st.booleans())
    if bulk:
        index.set_bulk(True)
    chain: list[BlockLogs] = []
    parent = ZERO_HASH
    for branch in range(data.draw(st.integers(1, 4))):
        reorg = data.draw(st.booleans())
        if chain and reorg:
            # Fork points are blocks the index stored (the indexer finds them that way).
            fork = data.draw(st.sampled_from([n for n, _, _ in index.dump().blocks]))
            index.rollback_to(fork)
            chain = chain[: fork + 1]
            parent = chain[-1].hash
        count = data.draw(st.integers(1, length))
        new = draw_blocks(data, block_transfers, f"b{branch}-", len(chain), count, parent)
        parent = new[-1].hash
        for batch in draw_batches(data, new):
            index.apply(batch, Cursor(batch[-1].number, batch[-1].hash))
        chain.extend(new)
    if bulk:
        index.set_bulk(False)
    fresh = SqliteIndex(path.with_name("fresh.db"), network="n", retention=1000)
    fresh.apply(chain, Cursor(chain[-1].number, chain[-1].hash))
    got, want = index.dump(), fresh.dump()
    assert got.cursor == want.cursor
    assert got.holdings == want.holdings
    assert got.changes == want.changes
    index.close()
    fresh.close()
    for p in path.parent.iterdir():
        p.unlink()
