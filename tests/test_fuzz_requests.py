"""Hypothesis: whatever JSON arrives, the answer is a spec-valid success or a catalog error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import NETWORK, RosettaClient

ROUTES = [
    "/network/status",
    "/account/balance",
    "/block",
    "/block/transaction",
    "/call",
    "/mempool/transaction",
    "/account/coins",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=80),
    st.sampled_from(["0x" + "ab" * 20, "0x" + "cd" * 32, "0x", "ETH", "latest"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
block_ids = st.fixed_dictionaries(
    {},
    optional={
        "index": st.one_of(st.integers(min_value=-5, max_value=2**64), st.text(max_size=5)),
        "hash": st.one_of(st.text(max_size=70), st.sampled_from(["0x" + "00" * 32, "0x12"])),
    },
)
requests_ = st.fixed_dictionaries(
    {"network_identifier": st.one_of(st.just(NETWORK), json_values)},
    optional={
        "account_identifier": st.one_of(
            st.fixed_dictionaries(
                {"address": st.one_of(st.text(max_size=45), st.just("0x" + "1" * 40))}
            ),
            json_values,
        ),
        "block_identifier": st.one_of(block_ids, json_values),
        "currencies": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"symbol": st.text(max_size=6), "decimals": st.integers(-3, 100)},
                    optional={"metadata": st.dictionaries(st.just("contractAddress"), scalars)},
                ),
                max_size=3,
            ),
            json_values,
        ),
        "transaction_identifier": st.one_of(
            st.fixed_dictionaries({"hash": st.text(max_size=70)}), json_values
        ),
        "method": st.one_of(
            st.sampled_from(
                [
                    "eth_call",
                    "eth_getBalance",
                    "eth_getBlockByHash",
                    "eth_getTransactionReceipt",
                    "nope",
                ]
            ),
            json_values,
        ),
        "parameters": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=st.one_of(requests_, json_values))
def test_any_json_gets_a_valid_answer(node: RosettaClient, route: str, body: Any) -> None:
    # RosettaClient validates every answer against specs/ and the advertised error catalog.
    answer = node.raw(route, json.dumps(body), {"Content-Type": "application/json"})
    assert answer.status in (200, 500)


@settings(max_examples=100, deadline=None)
@given(route=st.sampled_from(ROUTES), payload=st.binary(max_size=200))
def test_any_bytes_get_a_catalog_error(node: RosettaClient, route: str, payload: bytes) -> None:
    answer = node.raw(route, payload)
    assert answer.status in (200, 500)
