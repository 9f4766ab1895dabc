"""The history store on its own (no node): random chains, batches and reorgs always equal a
fresh history of the surviving chain, the event log replays to that chain, and the store
refuses blocks that do not extend it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rosetta_node.index.history_model import HistoryBlock, HistoryQuery
from rosetta_node.index.history_sqlite import SqliteHistory
from rosetta_node.index.model import ChainMismatch, Cursor
from rosetta_node.types import (
    AccountIdentifier,
    Amount,
    Currency,
    Operation,
    OperationIdentifier,
    Transaction,
    TransactionIdentifier,
)
from tests.support.chains import ACCOUNTS, T1, block_hash

ETH = Currency(symbol="ETH", decimals=18)
TOKEN = Currency(symbol="T", decimals=6, metadata={"contractAddress": T1})


def _tx(tag: str, moves: list[tuple[int, int, bool]]) -> Transaction:
    """A transaction whose operations credit ACCOUNTS[i] in ETH or the token."""
    ops = [
        Operation(
            operation_identifier=OperationIdentifier(index=i),
            type="CALL",
            status="SUCCESS" if i % 3 else "FAILURE",
            account=AccountIdentifier(address=ACCOUNTS[account]),
            amount=Amount(value=str(value), currency=TOKEN if token else ETH),
        )
        for i, (account, value, token) in enumerate(moves)
    ]
    return Transaction(
        transaction_identifier=TransactionIdentifier(hash=block_hash(tag, 0)), operations=ops
    )


moves = st.lists(
    st.tuples(st.integers(0, len(ACCOUNTS) - 1), st.integers(-(10**30), 10**30), st.booleans()),
    max_size=4,
)


def _chain(
    data: st.DataObject, tag: str, first: int, count: int, parent: str
) -> list[HistoryBlock]:
    blocks = []
    for n in range(first, first + count):
        txs = [
            _tx(f"{tag}{n}t{i}", m) for i, m in enumerate(data.draw(st.lists(moves, max_size=3)))
        ]
        blocks.append(HistoryBlock(n, block_hash(tag, n), parent, txs))
        parent = blocks[-1].hash
    return blocks


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_rollbacks_equal_a_fresh_history_and_events_replay_the_chain(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    path = tmp_path_factory.mktemp("h") / "h.sqlite"
    history = SqliteHistory(path, network="n")
    chain: list[HistoryBlock] = []
    parent = "0x" + "00" * 32
    for branch in range(data.draw(st.integers(1, 4))):
        reorg = data.draw(st.booleans())
        if chain and reorg:
            fork = data.draw(st.integers(0, len(chain) - 1))
            assert history.rollback_to(fork) == Cursor(fork, chain[fork].hash)
            chain = chain[: fork + 1]
            parent = chain[-1].hash
        new = _chain(data, f"b{branch}-", len(chain), data.draw(st.integers(1, 8)), parent)
        start = 0
        while start < len(new):
            size = data.draw(st.integers(1, len(new) - start))
            part = new[start : start + size]
            history.apply(part, Cursor(part[-1].number, part[-1].hash))
            start += size
        chain.extend(new)
        parent = chain[-1].hash
    fresh = SqliteHistory(path.with_name("fresh.sqlite"), network="n")
    fresh.apply(chain, Cursor(chain[-1].number, chain[-1].hash))
    assert history.dump() == fresh.dump()
    # Replaying the event log gives the surviving chain; sequences have no gap.
    page = history.events(0, 10_000)
    assert [e.sequence for e in page.events] == list(range(len(page.events)))
    replayed: dict[int, str] = {}
    for event in page.events:
        if event.type == "block_added":
            assert event.number not in replayed
            replayed[event.number] = event.hash
        else:
            assert replayed.pop(event.number) == event.hash
    assert replayed == {b.number: b.hash for b in chain}
    # Searches agree too (the same rows): every account, and the token in the "or" form.
    for account in ACCOUNTS:
        query = HistoryQuery(account=account, limit=1000)
        assert history.search(query) == fresh.search(query)
    either = HistoryQuery(operator="or", currency=T1, success=False, limit=1000)
    assert history.search(either) == fresh.search(either)
    history.close()
    fresh.close()
    for p in path.parent.iterdir():
        p.unlink()


def test_blocks_must_extend_the_history(tmp_path: Path) -> None:
    history = SqliteHistory(tmp_path / "h.sqlite", network="n")
    chain = [HistoryBlock(n, block_hash("c", n), block_hash("c", n - 1), []) for n in range(5)]
    history.apply(chain[:3], Cursor(2, chain[2].hash))
    with pytest.raises(ChainMismatch):  # a gap
        history.apply(chain[4:], Cursor(4, chain[4].hash))
    other = HistoryBlock(3, block_hash("x", 3), block_hash("x", 2), [])
    with pytest.raises(ChainMismatch):  # does not link
        history.apply([other], Cursor(3, other.hash))
    history.apply(chain[3:], Cursor(4, chain[4].hash))
    assert history.cursor() == Cursor(4, chain[4].hash)
    assert history.events(None, 2).max_sequence == 4
    assert [e.number for e in history.events(None, 2).events] == [3, 4]
    history.close()
