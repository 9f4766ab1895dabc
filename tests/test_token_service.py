"""The token service behind the translator routes, in process, against anvil.

Every balance is compared with ``balanceOf`` on anvil at the block the answer names; every
token and holder list with what the Transfer logs on anvil imply up to that block.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from rosetta_node.addresses import checksum
from rosetta_node.devnet import Anvil
from rosetta_node.engine import Engine
from rosetta_node.errors import (
    BLOCK_MISMATCH,
    INDEX_BEHIND,
    INDEX_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_REQUEST,
    CatalogError,
)
from rosetta_node.index.service import TokenService
from rosetta_node.index.transfers import TRANSFER_TOPIC
from rosetta_node.settings import load_settings
from tests.conftest import CHAIN_ID, Devnet, IndexedNode, JsonRpc
from tests.workload import ZERO_ADDRESS

T = TypeVar("T")


def transfer_pairs(rpc: JsonRpc, upto: int) -> dict[str, set[str]]:
    """contract -> accounts that sent or received it, from anvil's Transfer logs."""
    logs = rpc(
        "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(upto), "topics": [TRANSFER_TOPIC]}
    )
    pairs: dict[str, set[str]] = defaultdict(set)
    for log in logs:
        if len(log["topics"]) != 3:
            continue
        for topic in log["topics"][1:]:
            pairs[checksum(log["address"])].add(checksum("0x" + topic[-40:]))
    return pairs


async def _with_service(
    url: str,
    token_list: Path,
    db: Path | None,
    last_block: int,
    body: Callable[[TokenService], Coroutine[Any, Any, T]],
) -> T:
    env = {
        "ROSETTA_NODE_RPC_URL": url,
        "ROSETTA_NODE_CHAIN_ID": str(CHAIN_ID),
        "ROSETTA_NODE_TOKEN_LIST": str(token_list),
    }
    if db is not None:
        env["ROSETTA_NODE_INDEX_DB"] = str(db)
        env["ROSETTA_NODE_INDEX_POLL_INTERVAL"] = "0.1"
    engine = Engine(load_settings(env=env))
    service = TokenService(engine.networks)
    await engine.networks.all()[0].probe()
    service.start()
    try:
        if db is not None:
            index = service.index_of(engine.networks.all()[0])
            for _ in range(600):
                status = await index.status()
                if status.cursor is not None and status.cursor.number >= last_block:
                    break
                await asyncio.sleep(0.1)
        return await body(service)
    finally:
        await service.stop()
        await engine.stop()


@pytest.fixture(scope="module")
def service_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service") / "index.sqlite"


def run(
    anvil: Anvil,
    devnet: Devnet,
    db: Path | None,
    body: Callable[[TokenService], Coroutine[Any, Any, T]],
) -> T:
    return asyncio.run(
        _with_service(anvil.url, devnet.token_list, db, devnet.workload.last_block, body)
    )


def test_account_tokens_equal_logs_and_balance_of(
    anvil: Anvil, devnet: Devnet, rpc: JsonRpc, service_db: Path
) -> None:
    async def body(service: TokenService) -> list[Any]:
        engine = service.all()[0]
        return [await service.account_tokens(engine, a) for a in devnet.workload.accounts]

    answers = run(anvil, devnet, service_db, body)
    block = answers[0].block
    assert block.number >= devnet.workload.last_block
    assert rpc("eth_getBlockByNumber", hex(block.number), False)["hash"] == block.hash
    pairs = transfer_pairs(rpc, block.number)
    listed = {checksum(t.address) for t in devnet.tracked}
    checked = 0
    for account, answer in zip(devnet.workload.accounts, answers, strict=True):
        assert answer.block == block  # one pinned block for every answer of one snapshot
        expected = {c for c, holders in pairs.items() if account in holders}
        assert {t.token.address for t in answer.items} == expected, account
        for item in answer.items:
            assert item.balance == rpc.token_balance(item.token.address, account, block.number)
            assert item.token.listed == (item.token.address in listed)
            assert (
                rpc("eth_getBlockByNumber", hex(item.last_block), False)["hash"] == item.last_hash
            )
            checked += 1
    assert checked > 20


def test_historical_account_tokens(
    anvil: Anvil, devnet: Devnet, rpc: JsonRpc, service_db: Path
) -> None:
    middle = (devnet.workload.first_block + devnet.workload.last_block) // 2

    async def body(service: TokenService) -> list[Any]:
        engine = service.all()[0]
        return [
            await service.account_tokens(engine, a, at_block=middle)
            for a in devnet.workload.accounts
        ]

    answers = run(anvil, devnet, service_db, body)
    pairs = transfer_pairs(rpc, middle)
    for account, answer in zip(devnet.workload.accounts, answers, strict=True):
        assert answer.block.number == middle
        assert {t.token.address for t in answer.items} == {
            c for c, holders in pairs.items() if account in holders
        }
        for item in answer.items:
            assert item.balance == rpc.token_balance(item.token.address, account, middle)


def test_holders_and_balance_updates_page_through_every_holder_once(
    anvil: Anvil, devnet: Devnet, rpc: JsonRpc, service_db: Path
) -> None:
    token = checksum(devnet.tracked[0].address)

    async def body(service: TokenService) -> tuple[Any, Any, Any, int]:
        engine = service.all()[0]
        holders, after = [], None
        while True:
            page = await service.holders(engine, token, after=after, limit=3)
            holders.extend(page.items)
            if len(page.items) < 3:
                break
            after = page.items[-1].account
        updates, cursor = [], None
        while True:
            answer = await service.balance_updates(
                engine, token, 0, None, page_after=cursor, limit=4
            )
            updates.extend(answer.items)
            if len(answer.items) < 4:
                break
            cursor = (answer.items[-1].last_block, answer.items[-1].account)
        top = await service.all_holders(engine, token)
        count = await service.holder_count(engine, token)
        return holders, updates, top, count

    holders, updates, top, count = run(anvil, devnet, service_db, body)
    block = top.block.number
    expected = transfer_pairs(rpc, block)[token] - {ZERO_ADDRESS}  # the mints' sender holds nothing
    assert sorted(h.account for h in holders) == sorted(expected)
    assert sorted(u.account for u in updates) == sorted(expected)  # each exactly once
    assert count == len(expected)
    for row in [*holders, *updates]:
        assert row.balance == rpc.token_balance(token, row.account, block)
    assert {h.account for h in top.items} == {
        a for a in expected if rpc.token_balance(token, a, block) > 0
    }
    blocks = [u.last_block for u in updates]
    assert blocks == sorted(blocks)


def test_balance_updates_cursor_rules(
    anvil: Anvil, devnet: Devnet, rpc: JsonRpc, service_db: Path
) -> None:
    token = checksum(devnet.tracked[0].address)
    middle = (devnet.workload.first_block + devnet.workload.last_block) // 2
    middle_hash = rpc("eth_getBlockByNumber", hex(middle), False)["hash"]

    async def body(service: TokenService) -> dict[str, Any]:
        engine = service.all()[0]
        out: dict[str, Any] = {}
        for name, args in {
            "no_hash": (middle, None),
            "wrong_hash": (middle, "0x" + "ab" * 32),
            "negative": (-1, None),
            "ahead": (10**9, "0x" + "ab" * 32),
        }.items():
            try:
                await service.balance_updates(engine, token, *args)
            except CatalogError as exc:
                out[name] = exc
        out["resume"] = await service.balance_updates(
            engine, token, middle, middle_hash, limit=10_000
        )
        try:
            await service.account_tokens(engine, "0x1234")
        except CatalogError as exc:
            out["bad_address"] = exc
        return out

    out = run(anvil, devnet, service_db, body)
    assert out["no_hash"].error is INVALID_REQUEST
    assert out["wrong_hash"].error is BLOCK_MISMATCH
    assert out["wrong_hash"].details["canonical_hash"] == middle_hash
    assert out["negative"].error is INVALID_REQUEST
    assert out["ahead"].error.retriable  # a block above the head or the index: ask again later
    assert out["bad_address"].error is INVALID_ADDRESS
    resume = out["resume"]
    logs = rpc(
        "eth_getLogs",
        {
            "fromBlock": hex(middle + 1),
            "toBlock": hex(resume.block.number),
            "address": token,
            "topics": [TRANSFER_TOPIC],
        },
    )
    changed = {checksum("0x" + t[-40:]) for log in logs for t in log["topics"][1:]}
    assert {u.account for u in resume.items} == changed
    assert all(u.last_block > middle for u in resume.items)


def test_without_an_index_token_routes_say_so(anvil: Anvil, devnet: Devnet) -> None:
    async def body(service: TokenService) -> CatalogError:
        try:
            await service.account_tokens(service.all()[0], devnet.workload.accounts[1])
        except CatalogError as exc:
            return exc
        raise AssertionError("answered without an index")

    assert run(anvil, devnet, None, body).error is INDEX_NOT_CONFIGURED
    assert INDEX_BEHIND.retriable and not INDEX_NOT_CONFIGURED.retriable


def test_indexed_node_reports_its_index_in_readyz(
    indexed_node: IndexedNode, devnet: Devnet
) -> None:
    body = requests.get(indexed_node.url + "/readyz", timeout=10).json()
    (network,) = body["networks"]
    assert network["index"]["block"] >= devnet.workload.last_block
    metrics = requests.get(indexed_node.url + "/metrics", timeout=10).text
    line = next(x for x in metrics.splitlines() if x.startswith("rosetta_node_index_head{"))
    assert float(line.split()[-1]) >= devnet.workload.last_block
