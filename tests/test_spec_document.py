"""Static checks of specs/rosetta.yaml and of the spec_check helper (no server needed)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.spec_check import (
    load_spec,
    registry,
    resolve_pointer,
    response_schema_pointer,
    spec_routes,
    validate_request,
    validate_response,
)

SPEC = "rosetta.yaml"
DOC = load_spec(SPEC)

ROUTES = {
    "/network/list",
    "/network/status",
    "/network/options",
    "/account/balance",
    "/account/coins",
    "/block",
    "/block/transaction",
    "/mempool",
    "/mempool/transaction",
    "/call",
    "/events/blocks",
    "/search/transactions",
}
# Account-based chain: /account/coins never succeeds, so it documents no 200.
ERROR_ONLY_ROUTES = {"/account/coins"}

# Values shaped after the examples of the upstream Mesh 1.5.1 spec.
NETWORK = {"blockchain": "Ethereum", "network": "Mainnet"}
BLOCK_HASH = "0x1f2cc6c5027d2f201a5453ad1119574d2aed23a392654742ac3c78783c071f85"
PARENT_HASH = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
TX_HASH = "0x2f23fd8cca835af21f3ac375bac601f97ead75f2e79143bdf71fe2c4be043e8f"
ALICE = "0x3a065000AB4183c6BF581Dc1E55A605455fC6d61"
BOB = "0x52bc44d5378309EE2abF1539BF71dE1b7d7bE3b5"
TOKEN = "0x6B175474E89094C44Da98b954EedeAC495271d0F"
ETH = {"symbol": "ETH", "decimals": 18}
DAI = {"symbol": "DAI", "decimals": 18, "metadata": {"contractAddress": TOKEN}}


# --------------------------------------------------------------------------- document helpers


def _walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, Any]]:
    yield pointer, node
    if isinstance(node, dict):
        for key, value in node.items():
            token = str(key).replace("~", "~0").replace("/", "~1")
            yield from _walk(value, f"{pointer}/{token}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{pointer}/{i}")


def _refs() -> list[tuple[str, str]]:
    return [
        (pointer, node["$ref"])
        for pointer, node in _walk(DOC)
        if isinstance(node, dict) and isinstance(node.get("$ref"), str)
    ]


def _media_schemas() -> list[tuple[str, Any]]:
    """Schemas of every request/response media type, inline or in components."""
    found = []
    for pointer, node in _walk(DOC):
        if pointer.endswith("/content") and isinstance(node, dict):
            for media_type, media in node.items():
                if "schema" in media:
                    found.append((f"{pointer}/{media_type}/schema", media["schema"]))
    return found


def _all_schemas() -> list[tuple[str, Any]]:
    components = [
        (f"#/components/schemas/{name}", schema)
        for name, schema in DOC["components"]["schemas"].items()
    ]
    return components + _media_schemas()


def _operations() -> list[tuple[str, dict[str, Any]]]:
    return [(path, DOC["paths"][path]["post"]) for path in sorted(ROUTES)]


def _media_examples() -> list[tuple[str, str, int | None, Any]]:
    """(path, example name, status or None for request, value) of every embedded example."""

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        return resolve_pointer(SPEC, node["$ref"]) if "$ref" in node else node

    found: list[tuple[str, str, int | None, Any]] = []
    for path, op in _operations():
        if "requestBody" in op:
            content = deref(op["requestBody"]).get("content", {})
            for name, ex in content.get("application/json", {}).get("examples", {}).items():
                found.append((path, name, None, ex["value"]))
        for status, response in op["responses"].items():
            content = deref(response).get("content", {})
            for name, ex in content.get("application/json", {}).get("examples", {}).items():
                found.append((path, name, int(status), ex["value"]))
    return found


# --------------------------------------------------------------------------- document shape


def test_document_is_openapi_3_1_with_2020_12_dialect():
    assert DOC["openapi"] == "3.1.0"
    # OpenAPI 3.1's own dialect (JSON Schema 2020-12 with its vocabulary): the default, left
    # implicit, because Swagger UI (/docs) refuses any other value.
    assert "jsonSchemaDialect" not in DOC
    assert DOC["info"]["title"] and DOC["info"]["version"]


def _response_schema(path: str, status: int) -> str:
    pointer = response_schema_pointer(path, status, spec=SPEC)
    assert pointer is not None, f"{path} -> {status} documents no body"
    return pointer


@pytest.mark.parametrize(("pointer", "schema"), _all_schemas(), ids=lambda v: str(v)[:60])
def test_every_schema_is_valid_json_schema_2020_12(pointer, schema):
    Draft202012Validator.check_schema(schema)


def test_component_objects_keep_additional_properties_open():
    for pointer, node in _walk(DOC["components"]["schemas"]):
        if isinstance(node, dict) and node.get("type") == "object":
            assert node.get("additionalProperties", True) is not False, pointer
            assert "unevaluatedProperties" not in node, pointer


@pytest.mark.parametrize(("where", "ref"), _refs(), ids=lambda v: str(v)[:80])
def test_every_ref_resolves(where, ref):
    assert ref.startswith("#/components/"), f"{where}: external or odd reference {ref!r}"
    target = resolve_pointer(SPEC, ref)
    assert isinstance(target, dict), f"{where}: {ref} resolves to {type(target).__name__}"
    # The same reference must also resolve through the registry the validators use.
    resolver = registry(SPEC).resolver(base_uri=f"urn:rosetta-node:specs:{SPEC}")
    assert resolver.lookup(ref).contents is target


def test_every_component_schema_is_used():
    referenced = {ref.rsplit("/", 1)[1] for _, ref in _refs() if "/schemas/" in ref}
    unused = set(DOC["components"]["schemas"]) - referenced
    assert not unused, f"unused component schemas: {sorted(unused)}"


def test_routes_are_exactly_the_served_data_routes():
    assert spec_routes(SPEC) == {("post", path) for path in ROUTES}


def test_operation_ids_are_unique():
    ids = [op["operationId"] for _, op in _operations()]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize(
    ("path", "op"), _operations(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_route_is_documented(path, op):
    assert op.get("operationId"), path
    assert op.get("summary", "").strip(), path
    assert len(op.get("description", "").strip()) > 40, path
    assert op.get("tags"), path

    body = op["requestBody"]
    body = resolve_pointer(SPEC, body["$ref"]) if "$ref" in body else body
    assert body.get("required") is True, path
    assert "$ref" in body["content"]["application/json"]["schema"], path

    responses = op["responses"]
    assert "500" in responses, path
    assert response_schema_pointer(path, 500, spec=SPEC) == (
        "#/components/responses/ErrorResponse/content/application~1json/schema"
    )
    assert resolve_pointer(SPEC, _response_schema(path, 500)) == {
        "$ref": "#/components/schemas/Error"
    }
    if path in ERROR_ONLY_ROUTES:
        assert set(responses) == {"500"}, path
    else:
        assert "200" in responses, path
        schema = resolve_pointer(SPEC, _response_schema(path, 200))
        assert schema["$ref"].startswith("#/components/schemas/"), path


@pytest.mark.parametrize(
    ("path", "name", "status", "value"),
    _media_examples(),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_embedded_examples_validate(path, name, status, value):
    if status is None:
        validate_request(path, value)
    else:
        validate_response(path, status, value)


# --------------------------------------------------------------------------- requests

VALID_REQUESTS = [
    ("/network/list", {}),
    ("/network/list", {"metadata": {}}),
    ("/network/status", {"network_identifier": NETWORK}),
    ("/network/options", {"network_identifier": NETWORK, "metadata": {"x": 1}}),
    (
        "/account/balance",
        {"network_identifier": NETWORK, "account_identifier": {"address": ALICE}},
    ),
    (
        "/account/balance",
        {
            "network_identifier": NETWORK,
            "account_identifier": {"address": ALICE.lower()},
            "block_identifier": {"index": 1123941, "hash": BLOCK_HASH},
            "currencies": [ETH, DAI],
        },
    ),
    (
        "/account/coins",
        {
            "network_identifier": NETWORK,
            "account_identifier": {"address": ALICE},
            "include_mempool": False,
        },
    ),
    ("/block", {"network_identifier": NETWORK, "block_identifier": {"index": 0}}),
    ("/block", {"network_identifier": NETWORK, "block_identifier": {"hash": BLOCK_HASH}}),
    ("/block", {"network_identifier": NETWORK, "block_identifier": {}}),
    (
        "/block/transaction",
        {
            "network_identifier": NETWORK,
            "block_identifier": {"index": 1123941, "hash": BLOCK_HASH},
            "transaction_identifier": {"hash": TX_HASH},
        },
    ),
    ("/mempool", {"network_identifier": NETWORK}),
    (
        "/mempool/transaction",
        {"network_identifier": NETWORK, "transaction_identifier": {"hash": TX_HASH}},
    ),
    (
        "/call",
        {
            "network_identifier": NETWORK,
            "method": "eth_call",
            "parameters": {"to": TOKEN, "data": "0x18160ddd", "block_number": 23},
        },
    ),
]

INVALID_REQUESTS = [
    pytest.param(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"index": -1}},
        "$.block_identifier.index",
        id="negative-block-index",
    ),
    pytest.param(
        "/account/balance",
        {
            "network_identifier": NETWORK,
            "account_identifier": {"address": ALICE},
            "block_identifier": {"index": -5},
        },
        "$.block_identifier.index",
        id="negative-balance-block-index",
    ),
    pytest.param(
        "/block",
        {"block_identifier": {"index": 1}},
        "'network_identifier' is a required property",
        id="block-missing-network",
    ),
    pytest.param(
        "/network/status", {}, "'network_identifier' is a required property", id="status-empty"
    ),
    pytest.param(
        "/account/balance",
        {"account_identifier": {"address": ALICE}},
        "'network_identifier' is a required property",
        id="balance-missing-network",
    ),
    pytest.param(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"index": "12"}},
        "$.block_identifier.index",
        id="string-block-index",
    ),
    pytest.param(
        "/block",
        {"network_identifier": NETWORK, "block_identifier": {"hash": BLOCK_HASH[:-2]}},
        "$.block_identifier.hash",
        id="short-hash",
    ),
    pytest.param(
        "/account/balance",
        {"network_identifier": NETWORK, "account_identifier": {"address": "0x1234"}},
        "$.account_identifier.address",
        id="bad-address",
    ),
    pytest.param(
        "/account/balance",
        {
            "network_identifier": NETWORK,
            "account_identifier": {"address": ALICE},
            "currencies": [{"symbol": "DAI", "decimals": 18, "metadata": {"contract": TOKEN}}],
        },
        "$.currencies[0].metadata",
        id="erc20-metadata-without-contractAddress",
    ),
    pytest.param(
        "/block/transaction",
        {
            "network_identifier": NETWORK,
            "block_identifier": {"index": 3},
            "transaction_identifier": {"hash": TX_HASH},
        },
        "'hash' is a required property",
        id="block-transaction-partial-block",
    ),
    pytest.param(
        "/call",
        {"network_identifier": NETWORK, "method": "eth_call"},
        "'parameters' is a required property",
        id="call-missing-parameters",
    ),
    pytest.param(
        "/account/coins",
        {"network_identifier": NETWORK, "account_identifier": {"address": ALICE}},
        "'include_mempool' is a required property",
        id="coins-missing-include-mempool",
    ),
]


@pytest.mark.parametrize(
    ("path", "body"), VALID_REQUESTS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_valid_requests_pass(path, body):
    validate_request(path, body)


@pytest.mark.parametrize(("path", "body", "expected"), INVALID_REQUESTS)
def test_invalid_requests_are_rejected(path, body, expected):
    with pytest.raises(AssertionError) as info:
        validate_request(path, body)
    assert expected in str(info.value)
    assert path in str(info.value)


def test_missing_required_request_body_is_rejected():
    with pytest.raises(AssertionError, match="request body is required"):
        validate_request("/block", None)


# --------------------------------------------------------------------------- responses


def _op(index, op_type, address, value, currency=ETH, status="SUCCESS", related=None):
    op = {
        "operation_identifier": {"index": index},
        "type": op_type,
        "account": {"address": address},
        "amount": {"value": value, "currency": currency},
    }
    if status is not None:
        op["status"] = status
    if related is not None:
        op["related_operations"] = [{"index": i} for i in related]
    return op


BLOCK_RESPONSE: dict[str, Any] = {
    "block": {
        "block_identifier": {"index": 1123941, "hash": BLOCK_HASH},
        "parent_block_identifier": {"index": 1123940, "hash": PARENT_HASH},
        "timestamp": 1582833600000,
        "transactions": [
            {
                "transaction_identifier": {"hash": TX_HASH},
                "operations": [
                    _op(0, "FEE", ALICE, "-21000000000000"),
                    _op(1, "FEE", BOB, "1000000000000", related=[0]),
                    _op(2, "CALL", ALICE, "-1238089899992"),
                    _op(3, "CALL", BOB, "1238089899992", related=[2]),
                    _op(4, "ERC20_TRANSFER", ALICE, "-5", currency=DAI),
                    _op(5, "ERC20_TRANSFER", BOB, "5", currency=DAI, related=[4]),
                    _op(6, "CALL", ALICE, "-7", status="FAILURE"),
                ],
                "metadata": {"gas_used": "0x5208"},
            },
            {
                "transaction_identifier": {"hash": BLOCK_HASH},
                "operations": [_op(0, "WITHDRAWAL", BOB, "32000000000")],
            },
        ],
        "metadata": {"vendor_field": True},
    }
}

VALID_RESPONSES = [
    ("/network/list", 200, {"network_identifiers": [NETWORK]}),
    (
        "/network/status",
        200,
        {
            "current_block_identifier": {"index": 1123941, "hash": BLOCK_HASH},
            "current_block_timestamp": 1582833600000,
            "genesis_block_identifier": {"index": 0, "hash": PARENT_HASH},
            "sync_status": {"current_index": 1123941, "target_index": 1123941, "synced": True},
            "peers": [{"peer_id": "enode://abc", "metadata": {}}],
        },
    ),
    (
        "/network/options",
        200,
        {
            "version": {"rosetta_version": "1.5.1", "node_version": "anvil/1.7.1"},
            "allow": {
                "operation_statuses": [
                    {"status": "SUCCESS", "successful": True},
                    {"status": "FAILURE", "successful": False},
                ],
                "operation_types": ["FEE", "CALL", "ERC20_TRANSFER"],
                "errors": [{"code": 4, "message": "Block not found", "retriable": True}],
                "historical_balance_lookup": True,
                "timestamp_start_index": 1,
                "call_methods": ["eth_call"],
                "balance_exemptions": [],
                "mempool_coins": False,
                "block_hash_case": "lower_case",
                "transaction_hash_case": None,
            },
        },
    ),
    (
        "/account/balance",
        200,
        {
            "block_identifier": {"index": 1123941, "hash": BLOCK_HASH},
            "balances": [{"value": "0", "currency": ETH}, {"value": "1000", "currency": DAI}],
            "metadata": {"nonce": 3},
        },
    ),
    ("/block", 200, BLOCK_RESPONSE),
    ("/block/transaction", 200, {"transaction": BLOCK_RESPONSE["block"]["transactions"][0]}),
    ("/mempool", 200, {"transaction_identifiers": [{"hash": TX_HASH}]}),
    (
        "/mempool/transaction",
        200,
        {
            "transaction": {
                "transaction_identifier": {"hash": TX_HASH},
                "operations": [
                    _op(0, "CALL", ALICE, "-1", status=None),
                    _op(1, "CALL", BOB, "1", status=None, related=[0]),
                ],
            }
        },
    ),
    ("/call", 200, {"result": {"data": "0x01"}, "idempotent": False}),
    ("/account/coins", 500, {"code": 12, "message": "Not supported", "retriable": False}),
    (
        "/block",
        500,
        {
            "code": 4,
            "message": "Block not found",
            "description": "The block is unknown.",
            "retriable": True,
            "details": {"index": 99},
        },
    ),
]


def _mutated(body, mutate):
    body = copy.deepcopy(body)
    mutate(body)
    return body


def _block_op(body):
    return body["block"]["transactions"][0]["operations"][0]


INVALID_RESPONSES = [
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b)["amount"].update(value="1.5")),
        "$.block.transactions[0].operations[0].amount.value",
        id="non-integer-amount",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b)["amount"].update(value="0x10")),
        "amount.value",
        id="hex-amount",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: b["block"]["block_identifier"].update(index=-1)),
        "$.block.block_identifier.index",
        id="negative-index",
    ),
    pytest.param(
        "/block",
        _mutated(
            BLOCK_RESPONSE,
            lambda b: b["block"]["block_identifier"].update(
                hash=BLOCK_HASH.upper().replace("X", "x")
            ),
        ),
        "$.block.block_identifier.hash",
        id="upper-case-hash",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: b["block"].update(timestamp=1582833600.5)),
        "$.block.timestamp",
        id="fractional-timestamp",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b).update(type="TRANSFER")),
        "operations[0].type",
        id="unknown-operation-type",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b).update(status="Reverted")),
        "operations[0].status",
        id="unknown-operation-status",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b).pop("status")),
        "'status' is a required property",
        id="block-operation-without-status",
    ),
    pytest.param(
        "/block",
        _mutated(
            BLOCK_RESPONSE,
            lambda b: _block_op(b)["amount"].update(
                currency={"symbol": "DAI", "decimals": 18, "metadata": {"contractAddress": "0xdai"}}
            ),
        ),
        "metadata.contractAddress",
        id="bad-erc20-contract-address",
    ),
    pytest.param(
        "/block",
        _mutated(BLOCK_RESPONSE, lambda b: _block_op(b)["account"].update(address="0xabc")),
        "operations[0].account.address",
        id="bad-account-address",
    ),
    pytest.param("/block", {}, "'block' is a required property", id="empty-block-response"),
    pytest.param(
        "/mempool/transaction",
        {
            "transaction": {
                "transaction_identifier": {"hash": TX_HASH},
                "operations": [_op(0, "CALL", ALICE, "-1", status="SUCCESS")],
            }
        },
        "$.transaction.operations[0]",
        id="mempool-operation-with-status",
    ),
    pytest.param(
        "/account/balance",
        {
            "block_identifier": {"index": 1, "hash": BLOCK_HASH},
            "balances": [{"value": "1", "currency": ETH}],
            "metadata": {},
        },
        "'nonce' is a required property",
        id="balance-without-nonce",
    ),
    pytest.param(
        "/network/options",
        {
            "version": {"rosetta_version": "1.5.1", "node_version": "x"},
            "allow": {
                "operation_statuses": [],
                "operation_types": [],
                "errors": [{"code": 1, "message": "m", "retriable": False, "details": {}}],
                "historical_balance_lookup": True,
                "call_methods": [],
                "balance_exemptions": [],
                "mempool_coins": False,
            },
        },
        "$.allow.errors[0]",
        id="allow-error-with-details",
    ),
    pytest.param(
        "/network/options",
        {
            "version": {"rosetta_version": "1.5.1", "node_version": "x"},
            "allow": {
                "operation_statuses": [],
                "operation_types": [],
                "errors": [],
                "historical_balance_lookup": True,
                "balance_exemptions": [],
                "mempool_coins": False,
            },
        },
        "'call_methods' is a required property",
        id="allow-without-call-methods",
    ),
    pytest.param(
        "/network/status",
        {
            "current_block_identifier": {"index": 1, "hash": BLOCK_HASH},
            "current_block_timestamp": -1,
            "genesis_block_identifier": {"index": 0, "hash": PARENT_HASH},
            "sync_status": {"synced": "yes"},
            "peers": [],
        },
        "$.current_block_timestamp",
        id="status-negative-timestamp",
    ),
    pytest.param(
        "/call",
        {"result": "0x01", "idempotent": False},
        "$.result",
        id="call-result-not-object",
    ),
]

INVALID_ERRORS = [
    pytest.param({"code": 4, "message": "Block not found"}, "retriable", id="no-retriable"),
    pytest.param({"code": "4", "message": "x", "retriable": True}, "$.code", id="string-code"),
    pytest.param({"code": -1, "message": "x", "retriable": True}, "$.code", id="negative-code"),
    pytest.param(
        {"code": 4, "message": "x", "retriable": True, "details": "oops"},
        "$.details",
        id="details-not-object",
    ),
]


@pytest.mark.parametrize(
    ("path", "status", "body"), VALID_RESPONSES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_valid_responses_pass(path, status, body):
    validate_response(path, status, body)


@pytest.mark.parametrize(("path", "body", "expected"), INVALID_RESPONSES)
def test_invalid_responses_are_rejected(path, body, expected):
    with pytest.raises(AssertionError) as info:
        validate_response(path, 200, body)
    message = str(info.value)
    assert expected in message
    assert f"POST {path} -> 200" in message


@pytest.mark.parametrize(("body", "expected"), INVALID_ERRORS)
@pytest.mark.parametrize("path", sorted(ROUTES))
def test_invalid_error_bodies_are_rejected_on_every_route(path, body, expected):
    with pytest.raises(AssertionError) as info:
        validate_response(path, 500, body)
    assert expected in str(info.value)


# --------------------------------------------------------------------------- helper behaviour


def test_account_coins_success_is_not_documented():
    body = {"block_identifier": {"index": 1, "hash": BLOCK_HASH}, "coins": []}
    with pytest.raises(AssertionError, match="status 200 is not documented"):
        validate_response("/account/coins", 200, body)


def test_unknown_route_method_and_status_raise():
    with pytest.raises(AssertionError, match="not in the spec"):
        validate_response("/construction/submit", 200, {})
    with pytest.raises(AssertionError, match="GET /block is not in the spec"):
        validate_response("/block", 200, BLOCK_RESPONSE, method="get")
    with pytest.raises(AssertionError, match="status 503 is not documented"):
        validate_response("/block", 503, {"code": 1, "message": "x", "retriable": True})
    with pytest.raises(AssertionError, match="not in the spec"):
        validate_request("/construction/preprocess", {"network_identifier": NETWORK})
    with pytest.raises(FileNotFoundError):
        spec_routes("no-such-spec.yaml")


def test_error_report_lists_several_errors_with_paths():
    body = _mutated(BLOCK_RESPONSE, lambda b: b["block"].update(timestamp="now"))
    body["block"]["block_identifier"]["index"] = -3
    with pytest.raises(AssertionError) as info:
        validate_response("/block", 200, body)
    message = str(info.value)
    assert "(2 error(s))" in message
    assert "at $.block.timestamp:" in message
    assert "at $.block.block_identifier.index:" in message
    assert "body: " in message
