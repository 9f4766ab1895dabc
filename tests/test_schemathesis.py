"""schemathesis against every OpenAPI document in ``specs/``, with the node in front of anvil.

Every ``specs/*.yaml`` file is picked up at collection time and becomes one test per operation
(``test_spec[rosetta.yaml-POST /block]``); all of them are served by the same node process (the
session ``node`` fixture, after the ``devnet`` workload). Its server base URL is the node's URL
plus the path of the document's first ``servers`` entry (none: the root), unless
:data:`BASE_PATHS` names one for that file.

Each operation runs schemathesis' three phases: the documented examples, the coverage phase
(boundary values, missing and wrongly typed fields, undeclared content types) and
:data:`MAX_EXAMPLES` fuzzed cases in positive and negative mode, and every answer goes
through these checks:

* ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``,
  ``response_headers_conformance`` (schemathesis' own);
* server errors: ``not_a_server_error`` for every document, except that a Rosetta document
  (:data:`ROSETTA_SPECS`) answers every failure as HTTP 500 with an Error body by design. There
  :func:`server_error_check` accepts a 500 only when it is that documented Error: the body
  validates as the spec's Error (``tests.spec_check``), its ``code`` is advertised in
  ``/network/options`` ``allow.errors`` with the same ``message`` and ``retriable``, and it is
  not the catalog's "Internal error" (what an unhandled exception becomes). In any document a
  5xx other than 500 that the operation declares exactly (``/readyz``'s 503) is accepted too;
  a 500 outside Rosetta documents always fails.

For Rosetta documents a hook also swaps, in part of the generated bodies, the random
``network_identifier`` and identifiers (account, block, transaction, currency) for real ones
of the devnet, so the fuzzing reaches past "network not found" into the engine and its 200
answers are checked against the spec too.

The number of requests sent per operation (by phase and generation mode, and by status) is
printed at the end of the module: ``pytest tests/test_schemathesis.py -s`` or look for the
``schemathesis requests`` table in the output. ``SCHEMATHESIS_MAX_EXAMPLES`` overrides the
fuzzed examples per operation.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rosetta_node.errors import INTERNAL_ERROR
from tests.conftest import NETWORK, Devnet, JsonRpc, RosettaClient
from tests.spec_check import SPECS_DIR, load_spec, validate_response

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"))
SPEC_FILES = sorted(SPECS_DIR.glob("*.yaml"))
# Documents answering every failure as HTTP 500 + a Rosetta Error listed in /network/options.
ROSETTA_SPECS = frozenset({"rosetta.yaml"})
# Base path per document when its `servers` entry does not say it (file name -> "/prefix").
BASE_PATHS: dict[str, str] = {}
REQUEST_TIMEOUT = 30.0


# --------------------------------------------------------------------------------------------
# Documents and their base URLs
# --------------------------------------------------------------------------------------------


def base_path(spec: Path) -> str:
    """The path under the node's URL where ``spec`` is served ("" for the root)."""
    if spec.name in BASE_PATHS:
        return BASE_PATHS[spec.name].rstrip("/")
    doc = yaml.safe_load(spec.read_text(encoding="utf-8"))
    servers = doc.get("servers") or []
    if not servers:
        return ""
    url = str(servers[0].get("url", ""))
    for name, variable in (servers[0].get("variables") or {}).items():
        url = url.replace("{" + name + "}", str(variable.get("default", "")))
    # An absolute upstream URL (https://api.vendor.example/v1) keeps only its path for us.
    return urlsplit(url).path.rstrip("/")


def load_schema(spec: Path) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_path(spec)
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
    )
    return schema


SCHEMAS: dict[str, schemathesis.BaseSchema] = {spec.name: load_schema(spec) for spec in SPEC_FILES}


# --------------------------------------------------------------------------------------------
# Request counts, printed at the end of the module
# --------------------------------------------------------------------------------------------


@dataclass
class OperationStats:
    requests: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # "<phase>/<mode>"
    by_status: Counter[str] = field(default_factory=Counter)  # "200", "500 code 4", ...


STATS: dict[tuple[str, str], OperationStats] = defaultdict(OperationStats)


def _kind(case: Case) -> str:
    meta = case.meta
    if meta is None:
        return "explicit"
    return f"{meta.phase.name.value}/{meta.generation.mode.value}"


def _outcome(response: Response) -> str:
    if response.status_code == 500:
        try:
            return f"500 code {json.loads(response.content)['code']}"
        except (ValueError, KeyError, TypeError):
            pass
    return str(response.status_code)


@pytest.fixture(scope="module", autouse=True)
def _print_request_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not STATS:
        return
    lines = ["", "schemathesis requests per operation (phase/mode counts; statuses):"]
    total = 0
    for (spec, label), stats in sorted(STATS.items()):
        total += stats.requests
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(stats.by_kind.items()))
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(stats.by_status.items()))
        lines.append(f"  {spec:14} {label:28} {stats.requests:5}  [{kinds}]  ({statuses})")
    lines.append(f"  total: {total} requests over {len(STATS)} operations")
    out = os.environ.get("SCHEMATHESIS_COUNTS_OUT")
    if out:
        Path(out).write_text(
            json.dumps(
                {
                    f"{spec} {label}": {
                        "requests": s.requests,
                        "by_kind": dict(s.by_kind),
                        "by_status": dict(s.by_status),
                    }
                    for (spec, label), s in sorted(STATS.items())
                },
                indent=1,
            )
        )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():
        print("\n".join(lines))


# --------------------------------------------------------------------------------------------
# The Rosetta server-error check
# --------------------------------------------------------------------------------------------

CATALOG: dict[int, dict[str, Any]] = {}  # filled from /network/options by the `live` fixture


def _rosetta_error(response: Response, case: Case, spec: str) -> None:
    """Accept an HTTP 500 only as a Rosetta Error advertised in /network/options."""
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"HTTP 500 with a body that is not JSON: {response.content[:200]!r}"
        ) from None
    # The spec's Error schema for this route (raises AssertionError naming the mismatch).
    validate_response(case.operation.path, 500, body, spec=spec, method=case.operation.method)
    if body["code"] == INTERNAL_ERROR.code:
        raise AssertionError(f"HTTP 500 Internal error (an unhandled exception): {body}")
    advertised = CATALOG.get(body["code"])
    if advertised is None:
        raise AssertionError(f"error code {body['code']} is not in /network/options allow.errors")
    for key in ("message", "retriable"):
        if advertised[key] != body[key]:
            raise AssertionError(
                f"error {body['code']}: {key} {body[key]!r} differs from the catalog's "
                f"{advertised[key]!r}"
            )


def _declares_status(spec: str, case: Case, status: int) -> bool:
    """Whether the operation documents exactly this status (not a range, not default)."""
    operation = load_spec(spec)["paths"][case.operation.path][case.operation.method.lower()]
    return str(status) in (operation.get("responses") or {})


def server_error_check(spec: str) -> Callable[..., bool | None]:
    """``not_a_server_error``, except for the 5xx answers that are part of the interface.

    * A Rosetta document (:data:`ROSETTA_SPECS`): HTTP 500 with a catalog Error (not the
      "Internal error" an unhandled exception becomes).
    * Any document: a 5xx other than 500 that the operation declares exactly, such as
      ``/readyz``'s 503 "not ready"; its body is checked by ``response_schema_conformance``.
      A 500 outside Rosetta documents is what a crash looks like, and always fails.
    """
    rosetta = spec in ROSETTA_SPECS

    def no_undocumented_server_error(
        ctx: CheckContext, response: Response, case: Case
    ) -> bool | None:
        status = response.status_code
        if status < 500:
            return None
        if status == 500 and rosetta:
            _rosetta_error(response, case, spec)
            return None
        if status != 500 and _declares_status(spec, case, status):
            return None
        return not_a_server_error(ctx, response, case)

    return no_undocumented_server_error


COMMON_CHECKS: list[Callable[..., bool | None]] = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def checks_for(spec: str) -> list[Callable[..., bool | None]]:
    return [server_error_check(spec), *COMMON_CHECKS]


# --------------------------------------------------------------------------------------------
# Real devnet identifiers mixed into generated Rosetta bodies
# --------------------------------------------------------------------------------------------


@dataclass
class RealIds:
    accounts: list[str] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)  # {index, hash}
    transactions: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # block, tx
    call_methods: list[str] = field(default_factory=list)
    currencies: list[dict[str, Any]] = field(default_factory=list)


REAL = RealIds()


def _realistic(body: dict[str, Any], draw: st.DrawFn) -> dict[str, Any]:
    out = dict(body)
    out["network_identifier"] = dict(NETWORK)
    if isinstance(out.get("account_identifier"), dict) and REAL.accounts:
        # A real account, without the sub-account the node never serves.
        out["account_identifier"] = {"address": draw(st.sampled_from(REAL.accounts))}
    block: dict[str, Any] | None = None
    if isinstance(out.get("transaction_identifier"), dict) and REAL.transactions:
        block, tx_hash = draw(st.sampled_from(REAL.transactions))
        out["transaction_identifier"] = {"hash": tx_hash}
    if isinstance(out.get("block_identifier"), dict) and REAL.blocks:
        block = block or draw(st.sampled_from(REAL.blocks))
        keys = draw(st.sampled_from([("index",), ("hash",), ("index", "hash")]))
        out["block_identifier"] = {k: block[k] for k in keys}
    if isinstance(out.get("method"), str) and REAL.call_methods:
        out["method"] = draw(st.sampled_from(REAL.call_methods))
    if isinstance(out.get("currencies"), list) and REAL.currencies:
        out["currencies"] = draw(st.lists(st.sampled_from(REAL.currencies), max_size=3))
    return out


def _mix_in_real_ids(context: Any, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict) or "network_identifier" not in body or not REAL.accounts:
        return st.just(body)

    @st.composite
    def realistic(draw: st.DrawFn) -> dict[str, Any]:
        return _realistic(body, draw)

    # Two in three bodies get real identifiers; the rest stay as schemathesis made them.
    return st.one_of(st.just(body), realistic(), realistic())


for _name, _schema in SCHEMAS.items():
    if _name in ROSETTA_SPECS:
        _schema.hook("flatmap_body")(_mix_in_real_ids)


@dataclass
class Live:
    base_url: str  # the node's URL, without any document's base path
    session: requests.Session


@pytest.fixture(scope="module")
def live(node: RosettaClient, devnet: Devnet, rpc: JsonRpc) -> Iterator[Live]:
    CATALOG.update(node.catalog())
    workload = devnet.workload
    REAL.accounts = list(workload.accounts)
    picks = sorted(
        {
            0,
            1,
            workload.first_block,
            (workload.first_block + workload.last_block) // 2,
            workload.last_block,
        }
    )
    REAL.blocks = [
        {"index": n, "hash": rpc("eth_getBlockByNumber", hex(n), False)["hash"]} for n in picks
    ]
    tx_hashes = sorted({h for hashes in workload.tx_hashes.values() for h in hashes})[:40]
    receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
    REAL.transactions = [
        ({"index": int(r["blockNumber"], 16), "hash": r["blockHash"]}, h)
        for h, r in zip(tx_hashes, receipts, strict=True)
    ]
    options = node.ok("/network/options", {"network_identifier": NETWORK})
    REAL.call_methods = list(options["allow"].get("call_methods") or [])
    REAL.currencies = [{"symbol": "ETH", "decimals": 18}] + [
        {"symbol": t.symbol, "decimals": t.decimals, "metadata": {"contractAddress": t.address}}
        for t in devnet.tracked
    ]
    with requests.Session() as session:
        yield Live(node.url, session)


# --------------------------------------------------------------------------------------------
# One test per document, parametrized by schemathesis over its operations
# --------------------------------------------------------------------------------------------

HYPOTHESIS_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


def _make_test(spec: Path, schema: schemathesis.BaseSchema) -> Callable[..., None]:
    prefix = base_path(spec)
    checks = checks_for(spec.name)

    @schema.parametrize()
    @HYPOTHESIS_SETTINGS
    def test_spec(case: Case, live: Live) -> None:
        stats = STATS[(spec.name, f"{case.operation.method.upper()} {case.operation.path}")]
        response = case.call(
            base_url=live.base_url + prefix, session=live.session, timeout=REQUEST_TIMEOUT
        )
        stats.requests += 1
        stats.by_kind[_kind(case)] += 1
        stats.by_status[_outcome(response)] += 1
        case.validate_response(response, checks=checks)

    test_spec.__name__ = _test_name(spec)
    return test_spec


def _test_name(spec: Path) -> str:
    return "test_" + re.sub(r"\W", "_", spec.stem)


for _spec in SPEC_FILES:
    globals()[_test_name(_spec)] = _make_test(_spec, SCHEMAS[_spec.name])


def test_every_spec_file_is_fuzzed() -> None:
    """Every document in specs/ became a test above, with at least one operation."""
    assert SPEC_FILES, "no OpenAPI documents in specs/"
    for spec in SPEC_FILES:
        assert _test_name(spec) in globals()
        assert list(SCHEMAS[spec.name].get_all_operations()), f"{spec.name}: no operations"
