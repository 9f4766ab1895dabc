"""The history index against the devnet workload: /search/transactions answers exactly the
transactions whose /block operations match, for every account and currency and every filter;
/events/blocks lists every block; every bad form of every filter is a catalog error."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from rosetta_node.engine.oplist import OPERATION_TYPES
from rosetta_node.errors import (
    COINS_UNSUPPORTED,
    HISTORY_NOT_CONFIGURED,
    INVALID_ADDRESS,
    INVALID_REQUEST,
    UNKNOWN_CURRENCY,
    UNKNOWN_NETWORK,
)
from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient, devnet_args
from tests.history_support import (
    ChainTx,
    accounts_and_currencies,
    block_transactions,
    contract_of,
    expected,
    history_env,
    history_tip,
    search_all,
    wait_history,
)
from tests.support.node import NodeProcess
from tests.test_index_postgres import postgres as postgres  # the session's PostgreSQL server


class History:
    def __init__(self, client: RosettaClient, txs: list[ChainTx], last: int) -> None:
        self.client = client
        self.txs = txs  # every transaction of /block for blocks 0..last
        self.last = last

    def search(self, conditions: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
        found, total = search_all(self.client, {"max_block": self.last, **conditions}, limit)
        assert total == len(found), conditions
        return found


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def history(
    request: pytest.FixtureRequest,
    anvil: Any,
    devnet: Devnet,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    """Our node serving the devnet with the history on, in SQLite, then in PostgreSQL."""
    if request.param == "sqlite":
        where = str(tmp_path_factory.mktemp("history") / "index.sqlite")
    else:
        where = request.getfixturevalue("postgres").new_database()
    process = NodeProcess(devnet_args(anvil, devnet), env=history_env(request.param, where))
    try:
        process.wait()
        client = RosettaClient(process.url)
        last = devnet.workload.last_block
        wait_history(client, last)
        yield History(client, block_transactions(client, 0, last), last)
    finally:
        process.stop()


def _on(account: str, contract: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """Operations on ``account`` (in ``contract``'s currency when given)."""

    def match(op: dict[str, Any]) -> bool:
        mine = op["account"]["address"] == account
        return mine and (contract is None or contract_of(op) == contract)

    return match


def _currency(txs: list[ChainTx], contract: str) -> dict[str, Any]:
    """The Currency object /block uses for ``contract`` ("" native)."""
    for t in txs:
        for op in t.tx["operations"]:
            if contract_of(op) == contract:
                currency: dict[str, Any] = op["amount"]["currency"]
                return currency
    raise AssertionError(f"no operation in {contract or 'the native coin'}")


def test_search_by_account_returns_exactly_its_block_operations(
    history: History, devnet: Devnet
) -> None:
    pairs = list(accounts_and_currencies(history.txs))
    currencies = {c for _, c in pairs}
    assert currencies >= {""} | {t.address.lower() for t in devnet.tracked}
    accounts = sorted({a for a, _ in pairs})
    assert len(accounts) > 10
    for account in accounts:
        want = expected(history.txs, _on(account))
        assert want, account
        got = history.search({"account_identifier": {"address": account}})
        assert got == want, f"account {account}: {len(got)} answered, {len(want)} in /block"
    for account, contract in pairs:
        want = expected(history.txs, _on(account, contract))
        conditions = {
            "account_identifier": {"address": account.lower()},
            "currency": _currency(history.txs, contract),
        }
        assert history.search(conditions) == want, (account, contract)


def test_every_filter_matches_block_operations(history: History) -> None:
    txs = history.txs
    some = [t for t in txs[:: max(1, len(txs) // 12)]]
    account = some[3].tx["operations"][0]["account"]["address"]
    token = next(contract_of(op) for t in txs for op in t.tx["operations"] if contract_of(op))
    failure_types = {
        op["type"] for t in txs for op in t.tx["operations"] if op["status"] == "FAILURE"
    }
    assert failure_types, "the workload has failed operations"
    cases: list[tuple[dict[str, Any], Any, Any, str]] = [
        ({}, None, None, "and"),
        ({"operator": "or"}, None, None, "or"),
        ({"status": "FAILURE"}, lambda op: op["status"] == "FAILURE", None, "and"),
        ({"status": "SUCCESS"}, lambda op: op["status"] == "SUCCESS", None, "and"),
        ({"success": False}, lambda op: op["status"] == "FAILURE", None, "and"),
        ({"success": True}, lambda op: op["status"] == "SUCCESS", None, "and"),
        (
            {"address": account.upper().replace("0X", "0x")},
            lambda op: op["account"]["address"] == account,
            None,
            "and",
        ),
        ({"currency": _currency(txs, token)}, lambda op: contract_of(op) == token, None, "and"),
        ({"currency": _currency(txs, "")}, lambda op: contract_of(op) == "", None, "and"),
        (
            {"address": account, "type": "FEE", "success": True},
            lambda op: (
                op["account"]["address"] == account
                and op["type"] == "FEE"
                and op["status"] == "SUCCESS"
            ),
            None,
            "and",
        ),
        (
            {
                "account_identifier": {"address": account},
                "transaction_identifier": some[5].tx["transaction_identifier"],
            },
            lambda op: op["account"]["address"] == account,
            lambda tx: tx == some[5].tx,
            "and",
        ),
        (
            {
                "operator": "or",
                "account_identifier": {"address": account},
                "transaction_identifier": some[7].tx["transaction_identifier"],
            },
            lambda op: op["account"]["address"] == account,
            lambda tx: tx == some[7].tx,
            "or",
        ),
        (
            {"operator": "or", "type": "ERC20_MINT", "status": "FAILURE"},
            lambda op: op["type"] == "ERC20_MINT" or op["status"] == "FAILURE",
            None,
            "or",
        ),
        # Our operations have no sub-accounts: a sub-account matches nothing.
        (
            {"account_identifier": {"address": account, "sub_account": {"address": "x"}}},
            lambda op: False,
            None,
            "and",
        ),
    ]
    cases += [({"type": t}, lambda op, t=t: op["type"] == t, None, "and") for t in OPERATION_TYPES]
    for t in some:
        ident = t.tx["transaction_identifier"]
        cases.append(
            (
                {"transaction_identifier": ident},
                None,
                lambda tx, i=ident: tx["transaction_identifier"] == i,
                "and",
            )
        )
    for conditions, op_matches, tx_matches, operator in cases:
        want = expected(txs, op_matches, tx_matches, operator)
        assert history.search(conditions) == want, conditions
    # max_block cuts the search; small pages walk the same answer.
    middle = history.last // 2
    found, total = search_all(
        history.client, {"max_block": middle, "currency": _currency(txs, token)}, 7
    )
    assert found == [
        t
        for t in expected(txs, lambda op: contract_of(op) == token)
        if t["block_identifier"]["index"] <= middle
    ]
    assert total == len(found) > 7


def test_block_events_list_every_block_in_order(history: History, rpc: JsonRpc) -> None:
    events, offset = [], 0
    while True:
        answer = history.client.ok(
            "/events/blocks", {"network_identifier": NETWORK, "offset": offset, "limit": 50}
        )
        events.extend(answer["events"])
        if not answer["events"]:
            break
        offset = answer["events"][-1]["sequence"] + 1
    assert [e["sequence"] for e in events] == list(range(len(events)))
    assert answer["max_sequence"] == len(events) - 1
    assert {e["type"] for e in events} == {"block_added"}
    numbers = [e["block_identifier"]["index"] for e in events]
    assert numbers == list(range(len(events)))  # from genesis, each block once
    for event in events[: history.last + 1]:
        number = event["block_identifier"]["index"]
        assert (
            event["block_identifier"]["hash"]
            == rpc("eth_getBlockByNumber", hex(number), False)["hash"]
        )
    tail = history.client.ok("/events/blocks", {"network_identifier": NETWORK, "limit": 3})
    assert [e["sequence"] for e in tail["events"]] == list(
        range(tail["max_sequence"] - 2, tail["max_sequence"] + 1)
    )


BAD_SEARCHES: list[tuple[dict[str, Any], int]] = [
    ({"operator": "xor"}, INVALID_REQUEST.code),
    ({"operator": 1}, INVALID_REQUEST.code),
    ({"max_block": -1}, INVALID_REQUEST.code),
    ({"max_block": "5"}, INVALID_REQUEST.code),
    ({"max_block": 2**70}, INVALID_REQUEST.code),
    ({"offset": -3}, INVALID_REQUEST.code),
    ({"offset": 1.5}, INVALID_REQUEST.code),
    ({"offset": 2**63}, INVALID_REQUEST.code),
    ({"limit": -1}, INVALID_REQUEST.code),
    ({"limit": 1001}, INVALID_REQUEST.code),
    ({"limit": None, "offset": "x"}, INVALID_REQUEST.code),
    ({"transaction_identifier": {"hash": "0x1234"}}, INVALID_REQUEST.code),
    ({"transaction_identifier": {"hash": "0x" + "zz" * 32}}, INVALID_REQUEST.code),
    ({"transaction_identifier": {}}, INVALID_REQUEST.code),
    ({"transaction_identifier": "0x" + "11" * 32}, INVALID_REQUEST.code),
    ({"account_identifier": {"address": "0x1234"}}, INVALID_ADDRESS.code),
    ({"account_identifier": {"address": 5}}, INVALID_REQUEST.code),
    ({"account_identifier": {}}, INVALID_REQUEST.code),
    ({"coin_identifier": {"identifier": "0xab:1"}}, COINS_UNSUPPORTED.code),
    ({"currency": {"symbol": "NOPE", "decimals": 18}}, UNKNOWN_CURRENCY.code),
    ({"currency": {"symbol": "ETH", "decimals": 6}}, UNKNOWN_CURRENCY.code),
    (
        {"currency": {"symbol": "T", "decimals": 18, "metadata": {"contractAddress": "0x12"}}},
        UNKNOWN_CURRENCY.code,
    ),
    ({"currency": {"symbol": "T"}}, INVALID_REQUEST.code),
    ({"currency": "ETH"}, INVALID_REQUEST.code),
    ({"status": "OK"}, INVALID_REQUEST.code),
    ({"status": 1}, INVALID_REQUEST.code),
    ({"type": "TRANSFER"}, INVALID_REQUEST.code),
    ({"type": ["FEE"]}, INVALID_REQUEST.code),
    ({"address": "not an address"}, INVALID_ADDRESS.code),
    ({"address": "0x" + "g" * 40}, INVALID_ADDRESS.code),
    ({"success": "yes"}, INVALID_REQUEST.code),
]


@pytest.mark.parametrize("conditions,code", BAD_SEARCHES, ids=[str(c) for c, _ in BAD_SEARCHES])
def test_bad_search_input_is_a_catalog_error(
    history: History, conditions: dict[str, Any], code: int
) -> None:
    body = {"network_identifier": NETWORK, **conditions}
    history.client.error("/search/transactions", body, code)


def test_bad_events_input_and_unknown_networks_are_catalog_errors(history: History) -> None:
    client = history.client
    for window in ({"offset": -1}, {"limit": -1}, {"limit": 1001}, {"offset": "0"}, {"limit": 2.5}):
        client.error(
            "/events/blocks", {"network_identifier": NETWORK, **window}, INVALID_REQUEST.code
        )
    other = {"blockchain": "Ethereum", "network": "nope"}
    client.error("/events/blocks", {"network_identifier": other}, UNKNOWN_NETWORK.code)
    client.error("/search/transactions", {"network_identifier": other}, UNKNOWN_NETWORK.code)
    client.error("/search/transactions", {}, INVALID_REQUEST.code)
    # Far past the history's tip: retriable "not reached yet", naming the tip.
    answer = client.post(
        "/search/transactions", {"network_identifier": NETWORK, "max_block": 10**12}
    )
    assert answer.status == 500 and answer.body["code"] == 34 and answer.body["retriable"]


def test_without_history_the_routes_say_so(node: RosettaClient) -> None:
    for path in ("/events/blocks", "/search/transactions"):
        node.error(path, {"network_identifier": NETWORK}, HISTORY_NOT_CONFIGURED.code)


def test_offered_in_network_options(history: History, node: RosettaClient) -> None:
    options = history.client.ok("/network/options", {"network_identifier": NETWORK})
    allow = options["allow"]
    assert {e["code"] for e in allow["errors"]} >= {33, 34}
    assert allow["transaction_hash_case"] == allow["block_hash_case"] == "lower_case"
    routes = options["version"]["metadata"]["indexer_routes"]
    assert routes == ["/events/blocks", "/search/transactions"]
    # Served: each answers (not the 404 of an unknown route).
    for path in routes:
        history.client.ok(path, {"network_identifier": NETWORK, "limit": 1})
    # A node without the history does not name them.
    plain = node.ok("/network/options", {"network_identifier": NETWORK})["version"]
    assert "indexer_routes" not in (plain.get("metadata") or {})


def test_readiness_and_metrics_show_the_history(history: History) -> None:
    """/readyz names the history's block (the one its answers name) and lag; /metrics too."""
    tip = history_tip(history.client)
    assert tip is not None
    ready = requests.get(history.client.url + "/readyz", timeout=10).json()
    (entry,) = ready["networks"]
    assert entry["history"]["block"] >= tip["index"] and entry["history"]["lag"] is not None
    if entry["history"]["block"] == tip["index"]:
        assert entry["history"]["hash"] == tip["hash"]
    assert not [p for p in entry["problems"] if p.startswith("history")], entry
    metrics = requests.get(history.client.url + "/metrics", timeout=10).text
    head = re.search(r'^rosetta_node_history_head\{network="([^"]+)"\} (\S+)$', metrics, re.M)
    assert head is not None and float(head.group(2)) >= tip["index"]
