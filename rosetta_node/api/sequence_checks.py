"""Sequence gateway request checks and paging: every refusal here is an InvalidArgument.

Paging: ``page.after`` is an opaque cursor, the ``:``-joined key of the last row of the
previous page. A method reads one row more than the page holds to learn whether more follow;
:meth:`Paging.cut` then trims and writes the answer's ``page`` (the paging tail).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..addresses import parse_address
from ..index.service import TokenInfo
from .sequence_answers import PageAnswer
from .sequence_wire import Page, invalid_argument

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
MAX_ACCOUNTS = 100  # accountAddresses per request
MAX_CONTRACTS = 100  # contractAddresses / whitelist / blacklist entries per request
STATUSES = ("VERIFIED", "UNVERIFIED", "ALL")
CONTRACT_TYPES = (
    "UNKNOWN",
    "NATIVE",
    "ERC20",
    "ERC721",
    "ERC1155",
    "SEQUENCE_WALLET",
    "ERC20_BRIDGE",
    "ERC721_BRIDGE",
    "ERC1155_BRIDGE",
    "SEQ_MARKETPLACE",
    "ERC6909",
)
NOT_A_CURSOR = "page.after is not a cursor this method returned"

# -- request checks -----------------------------------------------------------------------


def address(value: str | None, field: str) -> str:
    """A checksummed address; missing or malformed is InvalidArgument naming the field."""
    if value is None or value == "":
        raise invalid_argument(f"{field} is required")
    parsed = parse_address(value)
    if parsed is None:
        raise invalid_argument(f"{field} is not a 20-byte 0x-hex address")
    return parsed


def address_list(
    values: Sequence[str] | None, field: str, *, required: bool = False, limit: int
) -> list[str]:
    """Checksummed addresses without repeats, in the order given."""
    values = values or []
    if required and not values:
        raise invalid_argument(f"{field} must name at least one address")
    if len(values) > limit:
        raise invalid_argument(f"{field} holds {len(values)} addresses; at most {limit}")
    out = [address(v, f"{field}[{i}]") for i, v in enumerate(values)]
    return list(dict.fromkeys(out))


def contract_status(value: str | None) -> str:
    """``contractStatus``: omitted, null or "" (the Go client's zero value) mean VERIFIED."""
    if not value:
        return "VERIFIED"
    if value not in STATUSES:
        raise invalid_argument(f"contractStatus must be one of {', '.join(STATUSES)}")
    return value


def status_allows(status: str, info: TokenInfo) -> bool:
    if status == "ALL":
        return True
    return info.listed if status == "VERIFIED" else not info.listed


def erc20_wanted(types: Sequence[str] | None) -> bool:
    """``contractTypes``: empty means every type; we serve ERC-20 balances only."""
    for value in types or []:
        if value not in CONTRACT_TYPES:
            raise invalid_argument(f"contractTypes: {value[:40]!r} is not a ContractType")
    return not types or "ERC20" in types


# -- paging ---------------------------------------------------------------------------------


def page_size(page: Page | None) -> int:
    size = page.pageSize if page is not None and page.pageSize else DEFAULT_PAGE_SIZE
    if size < 0:
        raise invalid_argument("page.pageSize must not be negative")
    return min(size, MAX_PAGE_SIZE)


def page_after(page: Page | None, parts: int) -> list[str] | None:
    """The cursor of ``page.after`` split in its ``parts`` fields; None on the first page."""
    if page is None or page.after in (None, ""):
        if page is not None and page.page is not None and page.page > 1:
            raise invalid_argument(
                "page.page > 1 needs page.after: send back the page object of the previous answer"
            )
        return None
    fields = page.after.split(":") if isinstance(page.after, str) else []
    if len(fields) != parts or not all(fields):
        raise invalid_argument(NOT_A_CURSOR)
    return fields


def cursor_int(text: str) -> int:
    if not text.isdigit() or len(text) > 20:
        raise invalid_argument(NOT_A_CURSOR)
    return int(text)


def cursor_address(text: str) -> str:
    parsed = parse_address(text)
    if parsed is None:
        raise invalid_argument(NOT_A_CURSOR)
    return parsed.lower()


ChainKey = tuple[int, str, str]  # (chain id, address, address): the key of a merged row
# The fields of a (chain id, address, address) cursor.
CHAIN_CURSOR: tuple[Callable[[str], Any], ...] = (cursor_int, cursor_address, cursor_address)


@dataclass(frozen=True, slots=True)
class Paging:
    """A request's checked paging: its ``page``, the page size and the parsed cursor."""

    page: Page | None
    size: int
    after: tuple[Any, ...] | None  # None: the first page

    @classmethod
    def of(cls, page: Page | None, fields: Sequence[Callable[[str], Any]]) -> Paging:
        """``fields`` parse the cursor's parts, each refusing what this method never wrote."""
        size = page_size(page)
        parts = page_after(page, len(fields))
        after = None if parts is None else tuple(f(p) for f, p in zip(fields, parts, strict=True))
        return cls(page, size, after)

    def cut(self, rows: list[T], key: Callable[[T], tuple[Any, ...]]) -> tuple[list[T], PageAnswer]:
        """The paging tail: at most ``size`` of ``rows`` (read with one extra to learn whether
        more follow) and the answer's page, whose cursor is the last row's ``key``."""
        more = len(rows) > self.size
        rows = rows[: self.size]
        cursor = ":".join(map(str, key(rows[-1]))) if more else None
        return rows, self.answer(more, cursor)

    def merge(self, rows: list[tuple[ChainKey, T]]) -> tuple[list[tuple[ChainKey, T]], PageAnswer]:
        """One page of ``(key, answer)`` rows merged from several chains: by key, those after
        the cursor, at most ``size``."""
        rows.sort(key=lambda r: r[0])
        if self.after is not None:
            position = self.after
            rows = [r for r in rows if r[0] > position]
        return self.cut(rows, lambda r: r[0])

    def answer(self, more: bool, after: str | None) -> PageAnswer:
        page = self.page
        number = page.page if page is not None and page.page and page.page > 0 else 1
        return PageAnswer(
            page=number + 1 if more else number,
            pageSize=self.size,
            more=more,
            after=after if more else None,
        )


def of_chain(rows: Sequence[tuple[tuple[Any, ...], T]], chain_id: int) -> list[T]:
    """The answers among merged ``rows`` (keyed by chain id first) that belong to ``chain_id``."""
    return [answer for key, answer in rows if key[0] == chain_id]
