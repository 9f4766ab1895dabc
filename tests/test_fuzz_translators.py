"""Hostile input on every route family: hypothesis bodies and queries for the translators, and
a fixed set of pathological bodies (deep nesting, huge numbers, long strings, bad UTF-8) for
all routes. Every answer is in the route's own documented format; none is an internal error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CHAIN_ID, Devnet, IndexedNode
from tests.spec_check import validate_response

SEQUENCE_METHODS = [
    "GetTokenBalancesSummary",
    "GetTokenBalancesDetails",
    "GetTokenBalancesByContract",
    "GetBalanceUpdates",
    "GetNativeTokenBalance",
    "GetTransactionHistory",
    "GetChains",
    "Ping",
    "Version",
    "RuntimeStatus",
]
CHAINBASE_ROUTES = [
    "/v1/account/tokens",
    "/v1/account/balance",
    "/v1/token/metadata",
    "/v1/token/holders",
    "/v1/token/top-holders",
]
ROSETTA_ROUTES = ["/network/status", "/account/balance", "/block", "/call", "/mempool"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from(
        ["0x" + "ab" * 20, "0X" + "AB" * 20, "0x" + "cd" * 32, "0x", "", "ALL", "VERIFIED", "-1"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)
addresses = st.one_of(
    st.sampled_from(["0x" + "ab" * 20, "0x" + "00" * 20, "0xZZ", "", "0x" + "1" * 41]),
    st.text(max_size=44),
)
pages = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "pageSize": st.one_of(st.integers(-5, 10**12), json_values),
            "page": st.integers(-3, 10**6),
            "more": st.booleans(),
            "after": st.one_of(st.text(max_size=90), json_values),
        },
    ),
)
sequence_bodies = st.fixed_dictionaries(
    {},
    optional={
        "chainIds": st.one_of(st.lists(st.integers(-1, 2**64), max_size=3), json_values),
        "networks": st.one_of(st.lists(st.text(max_size=12), max_size=3), json_values),
        "filter": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"accountAddresses": st.lists(addresses, max_size=3)},
                optional={
                    "contractStatus": st.one_of(
                        st.sampled_from(["VERIFIED", "UNVERIFIED", "ALL", "all", ""]), scalars
                    ),
                    "contractTypes": st.one_of(st.lists(st.text(max_size=8), max_size=3), scalars),
                    "contractWhitelist": st.lists(addresses, max_size=3),
                    "contractBlacklist": st.lists(addresses, max_size=3),
                    "omitNativeBalances": st.one_of(st.booleans(), scalars),
                    "accountAddress": addresses,
                    "transactionHashes": st.one_of(st.lists(addresses, max_size=3), scalars),
                    "fromBlock": st.one_of(st.integers(-(2**70), 2**70), scalars),
                    "toBlock": st.one_of(st.integers(-(2**70), 2**70), scalars),
                },
            ),
        ),
        "contractAddress": addresses,
        "accountAddress": addresses,
        "lastBlockNumber": st.one_of(st.integers(-(2**70), 2**70), scalars),
        "lastBlockHash": st.one_of(st.sampled_from(["0x" + "ab" * 32]), scalars),
        "page": pages,
        "omitMetadata": st.one_of(st.booleans(), scalars),
        "unknownField": json_values,
    },
)
query_values = st.one_of(
    st.text(max_size=50),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["latest", "0x10", "0X", "1e3", " 5", "0x" + "ab" * 20, ",,,"]),
)
chainbase_queries = st.fixed_dictionaries(
    {},
    optional={
        "chain_id": st.one_of(st.just(str(CHAIN_ID)), query_values),
        "address": st.one_of(st.just("0x" + "ab" * 20), query_values),
        "contract_address": st.one_of(
            st.lists(st.just("0x" + "cd" * 20), max_size=120).map(",".join), query_values
        ),
        "limit": query_values,
        "page": query_values,
        "to_block": query_values,
        "junk": query_values,
    },
)


def _sequence(node: IndexedNode, method: str, data: bytes) -> requests.Response:
    return requests.post(
        f"{node.url}/rpc/IndexerGateway/{method}",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )


def _check_sequence(method: str, answer: requests.Response) -> None:
    body = answer.json()
    validate_response(
        f"/rpc/IndexerGateway/{method}", answer.status_code, body, spec="sequence.yaml"
    )
    if answer.status_code != 200:
        assert body["status"] == answer.status_code, body
        assert body["code"] != -7, f"internal error: {body}"  # WebrpcInternalError


def _check_chainbase(route: str, answer: requests.Response) -> None:
    body = answer.json()
    validate_response(route, answer.status_code, body, spec="chainbase.yaml", method="get")
    assert answer.status_code != 500, f"internal error: {body}"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(SEQUENCE_METHODS), body=st.one_of(sequence_bodies, json_values))
def test_sequence_any_json(indexed_node: IndexedNode, method: str, body: Any) -> None:
    _check_sequence(method, _sequence(indexed_node, method, json.dumps(body).encode()))


@settings(max_examples=80, deadline=None)
@given(method=st.sampled_from(SEQUENCE_METHODS), payload=st.binary(max_size=200))
def test_sequence_any_bytes(indexed_node: IndexedNode, method: str, payload: bytes) -> None:
    _check_sequence(method, _sequence(indexed_node, method, payload))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(CHAINBASE_ROUTES), query=chainbase_queries)
def test_chainbase_any_query(indexed_node: IndexedNode, route: str, query: dict[str, str]) -> None:
    text = "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items())
    answer = requests.get(f"{indexed_node.url}{route}?{text}", timeout=60)
    _check_chainbase(route, answer)


@settings(max_examples=60, deadline=None)
@given(route=st.sampled_from(CHAINBASE_ROUTES), raw=st.binary(min_size=1, max_size=60))
def test_chainbase_raw_query_bytes(indexed_node: IndexedNode, route: str, raw: bytes) -> None:
    # Percent-encoded arbitrary bytes: invalid UTF-8, NULs, separators.
    query = "address=" + quote(raw, safe="") + "&chain_id=" + quote(raw[:8], safe="")
    answer = requests.get(f"{indexed_node.url}{route}?{query}", timeout=60)
    _check_chainbase(route, answer)


def _pathological() -> dict[str, bytes]:
    deep = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 20_000 + b"1" + b"}" * 20_000
    return {
        "empty": b"",
        "whitespace": b"   \n\t ",
        "deep_array": deep,
        "deep_object": deep_object,
        "huge_int": b'{"lastBlockNumber": ' + b"9" * 5000 + b', "network_identifier": 1}',
        "long_string": json.dumps({"accountAddress": "x" * 900_000}).encode(),
        "bad_utf8": b'{"accountAddress": "\xff\xfe\xfa"}',
        "nan": b'{"lastBlockNumber": NaN}',
        "duplicate_keys": b'{"accountAddress": "0x' + b"ab" * 20 + b'", "accountAddress": 5}',
        "null": b"null",
        "too_big": b'{"x": "' + b"a" * 2_000_000 + b'"}',
    }


@pytest.mark.parametrize("name", sorted(_pathological()))
def test_pathological_bodies_on_every_post_route(
    indexed_node: IndexedNode, devnet: Devnet, name: str
) -> None:
    payload = _pathological()[name]
    for method in ("GetNativeTokenBalance", "GetBalanceUpdates", "GetTokenBalancesSummary"):
        _check_sequence(method, _sequence(indexed_node, method, payload))
    for route in ROSETTA_ROUTES:
        answer = requests.post(
            indexed_node.url + route,
            data=payload,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        body = answer.json()
        validate_response(route, answer.status_code, body)
        assert answer.status_code == 500 and body["code"] in (1, 2, 3), body  # input errors


def test_pathological_queries_on_chainbase(indexed_node: IndexedNode) -> None:
    cases = [
        "chain_id=" + "9" * 5000 + "&address=0x" + "ab" * 20,
        "chain_id=31337&address=" + "a" * 8_000,
        "chain_id=31337&address=0x" + "ab" * 20 + "&limit=" + "9" * 400,
        "chain_id=31337&address=0x" + "ab" * 20 + "&page=-1",
        "chain_id=31337&address=0x" + "ab" * 20 + "&to_block=0x" + "f" * 200,
        "chain_id=31337&chain_id=1&address=0x" + "ab" * 20,
        "chain_id=%ff%fe&address=%00",
    ]
    for route in CHAINBASE_ROUTES:
        for query in cases:
            answer = requests.get(f"{indexed_node.url}{route}?{query}", timeout=60)
            _check_chainbase(route, answer)
