"""The one error edge (api/guard.py) and the one admission check (Access.admit)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rosetta_node.api.access import (
    ENTRY_BYTES,
    Access,
    KeyCheck,
    RateLimiter,
    Refusal,
    caller_id,
)
from rosetta_node.api.guard import Failure, Origin, guard
from rosetta_node.engine.node_errors import NodeError
from rosetta_node.errors import (
    CATALOG,
    INTERNAL_ERROR,
    NODE_ERROR,
    NODE_TIMEOUT,
    UNKNOWN_NETWORK,
    CatalogError,
    Kind,
)


def _run(work: Any, limit: float | None = None, keep: tuple[type[Exception], ...] = ()) -> Any:
    return asyncio.run(guard(work, "/where", limit, keep))


async def _value() -> int:
    return 7


async def _raise(exc: BaseException) -> None:
    raise exc


async def _sleep() -> None:
    await asyncio.sleep(5)


def test_a_result_passes_through() -> None:
    assert _run(_value()) == 7


def test_every_failure_becomes_one_outcome(caplog: pytest.LogCaptureFixture) -> None:
    timed_out = _run(_sleep(), limit=0.01)
    assert timed_out == Failure(
        NODE_TIMEOUT, {"reason": "the request took longer than 0.01 s"}, Origin.TIMEOUT
    )
    catalog = _run(_raise(CatalogError(UNKNOWN_NETWORK, {"network": "x"})))
    assert catalog == Failure(UNKNOWN_NETWORK, {"network": "x"}, Origin.CATALOG)
    node = _run(_raise(NodeError("eth_call", -32000, "boom")))
    assert node.error is NODE_ERROR and node.origin is Origin.NODE
    assert node.details == {"method": "eth_call", "node_code": -32000, "node_message": "boom"}
    with caplog.at_level(logging.ERROR):
        bug = _run(_raise(ZeroDivisionError()))
    assert bug == Failure(INTERNAL_ERROR, {"path": "/where"}, Origin.UNEXPECTED)
    assert "unhandled error on /where" in caplog.text


def test_a_timeout_without_a_limit_is_a_bug_not_a_node_timeout() -> None:
    assert _run(_raise(TimeoutError())).error is INTERNAL_ERROR


def test_a_dialects_own_error_passes_through() -> None:
    class Wire(Exception):
        pass

    with pytest.raises(Wire):
        _run(_raise(Wire()), keep=(Wire,))


def test_every_catalog_entry_has_a_kind() -> None:
    assert {e.kind for e in CATALOG} <= set(Kind)
    assert all(e.kind is Kind.NODE for e in CATALOG if e.code in (20, 21, 22, 23, 24))


def _access(keys: list[str], per_minute: int) -> Access:
    return Access(KeyCheck(keys), RateLimiter(per_minute))


def test_admit_checks_the_key_and_counts() -> None:
    access = _access(["k1"], 2)
    refused = access.admit(None, "10.0.0.1")
    assert refused is not None and refused.why is Refusal.NO_KEY
    refused = access.admit("nope", "10.0.0.4")
    assert refused is not None and refused.why is Refusal.WRONG_KEY
    assert access.admit("k1", "10.0.0.1") is None
    assert access.admit("k1", "10.0.0.2") is None  # one budget per key, whatever the address
    limited = access.admit("k1", "10.0.0.3")
    assert limited is not None and limited.why is Refusal.RATE_LIMITED
    assert limited.retry_after >= 1


def test_admit_counts_refused_requests_before_the_key_check() -> None:
    access = _access(["k1"], 2)
    answers = [access.admit("bad", "10.0.0.9") for _ in range(3)]
    assert [a.why for a in answers if a is not None] == [
        Refusal.WRONG_KEY,
        Refusal.WRONG_KEY,
        Refusal.RATE_LIMITED,
    ]


def test_open_access_counts_by_address() -> None:
    access = _access([], 1)
    assert access.admit(None, "10.0.0.1") is None
    assert access.admit(None, "10.0.0.2") is None
    limited = access.admit(None, "10.0.0.1")
    assert limited is not None and limited.why is Refusal.RATE_LIMITED


def test_the_limiters_memory_is_bounded_in_bytes() -> None:
    import tracemalloc

    limiter = RateLimiter(60, max_bytes=400_000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(5_000):  # a new caller each time, as forged addresses would be
            limiter.take(caller_id(None, f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(limiter) == 400_000 // ENTRY_BYTES
    assert held <= 400_000 * 1.1, held  # ENTRY_BYTES covers what one bucket really costs


def test_callers_are_bounded_parsed_addresses() -> None:
    assert caller_id(None, "10.0.0.1") == "a10.0.0.1"
    assert caller_id(None, "::ffff:10.0.0.1") == "a10.0.0.1"
    # One IPv6 host is one /64, not 2^64 callers; garbage is one caller, whatever its size.
    assert caller_id(None, "2001:db8::1") == caller_id(None, "2001:db8::ffff:1")
    assert caller_id(None, "x" * 1_000_000) == caller_id(None, "not an address") == "a?"
    assert len(caller_id("k" * 1_000_000, None)) == 33
