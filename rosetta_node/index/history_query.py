"""Rosetta indexer requests checked and turned into history queries.

Every bad form of every filter is a catalog error naming the field (never a traceback):
INVALID_REQUEST for a bad operator, number, hash, status or type; INVALID_ADDRESS for an
address; UNKNOWN_CURRENCY for a currency; COINS_UNSUPPORTED for a coin (EVM chains keep
accounts, not coins).
"""

from __future__ import annotations

import re
from typing import Any

from ..addresses import parse_address
from ..engine.currencies import NATIVE, Currencies
from ..engine.oplist import OPERATION_STATUSES, OPERATION_TYPES
from ..errors import COINS_UNSUPPORTED, INVALID_ADDRESS, INVALID_REQUEST, CatalogError
from ..types import AccountIdentifier, EventsBlocksRequest, SearchTransactionsRequest
from .history_model import AND, DEFAULT_LIMIT, MAX_LIMIT, OR, HistoryQuery

MAX_NUMBER = 2**62  # offsets and block numbers past this are not numbers we could hold
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_STATUSES = frozenset(s for s, _ in OPERATION_STATUSES)
_TYPES = frozenset(OPERATION_TYPES)


def _invalid(field: str, reason: str, value: Any = None) -> CatalogError:
    details: dict[str, Any] = {"field": field, "reason": reason}
    if value is not None:
        details["value"] = str(value)[:100]
    return CatalogError(INVALID_REQUEST, details)


def number(value: int | None, field: str, default: int | None = None) -> int | None:
    """A non-negative integer field (None: ``default``)."""
    if value is None:
        return default
    if not 0 <= value <= MAX_NUMBER:
        raise _invalid(field, f"must be between 0 and {MAX_NUMBER}", value)
    return value


def limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not 0 <= value <= MAX_LIMIT:
        raise _invalid("limit", f"must be between 0 and {MAX_LIMIT}", value)
    return value


def address(value: str, field: str) -> str:
    found = parse_address(value)
    if found is None:
        raise CatalogError(
            INVALID_ADDRESS,
            {"field": field, "address": value[:100], "reason": "not 20 bytes of 0x-hex"},
        )
    return found.lower()


def _account(identifier: AccountIdentifier) -> tuple[str, bool]:
    """(address, whether a sub-account was named: our operations have none)."""
    return address(identifier.address, "account_identifier.address"), (
        identifier.sub_account is not None
    )


def events_window(request: EventsBlocksRequest) -> tuple[int | None, int]:
    """``(offset, limit)`` of an /events/blocks request (offset None: the last events)."""
    return number(request.offset, "offset"), limit(request.limit)


def search_query(request: SearchTransactionsRequest, currencies: Currencies) -> HistoryQuery:
    """The :class:`HistoryQuery` of a /search/transactions request."""
    operator = AND if request.operator is None else request.operator
    if operator not in (AND, OR):
        raise _invalid("operator", "must be 'and' or 'or'", operator)
    if request.coin_identifier is not None:
        raise CatalogError(COINS_UNSUPPORTED, {"field": "coin_identifier"})
    tx_hash = None
    if request.transaction_identifier is not None:
        tx_hash = request.transaction_identifier.hash
        if not _HASH.fullmatch(tx_hash):
            raise _invalid("transaction_identifier.hash", "not 32 bytes of 0x-hex", tx_hash)
        tx_hash = tx_hash.lower()
    account, sub_account = (None, False)
    if request.account_identifier is not None:
        account, sub_account = _account(request.account_identifier)
    currency = None
    if request.currency is not None:
        key = currencies.resolve(request.currency).key  # UNKNOWN_CURRENCY when bad
        currency = "" if key == NATIVE else key.lower()
    if request.status is not None and request.status not in _STATUSES:
        raise _invalid("status", f"one of {sorted(_STATUSES)}", request.status)
    if request.type is not None and request.type not in _TYPES:
        raise _invalid("type", "not an operation type of /network/options", request.type)
    return HistoryQuery(
        operator=operator,
        max_block=number(request.max_block, "max_block"),
        offset=number(request.offset, "offset", 0) or 0,
        limit=limit(request.limit),
        tx_hash=tx_hash,
        account=account,
        address=None if request.address is None else address(request.address, "address"),
        currency=currency,
        status=request.status,
        type=request.type,
        success=request.success,
        nothing=sub_account,
    )
