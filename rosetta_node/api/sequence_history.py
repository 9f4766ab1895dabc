"""Sequence gateway ``GetTransactionHistory``: an account's transactions from the history
index, each with the account's transfers.

- Which transactions: those ``/search/transactions`` finds for the account (an operation on
  it: a transfer, a fee, ...), of ``contractAddress(es)`` when given (the zero address names
  the native coin), among ``transactionHashes`` when given, in blocks ``fromBlock..toBlock``;
  newest first. ``metaTransactionIDs`` and ``tokenID`` match nothing: we keep neither.
- ``transfers``: the account's value transfers in that transaction
  (:mod:`~rosetta_node.index.history_transfers`), SEND when it is the sender, RECEIVE when the
  recipient (both for a transfer to itself), in the filter's currencies when it names some.
- Chains are read one after another by chain id until the page is full. The cursor
  ``page.after`` is ``chain id:block:position`` of the last row: the history's block that
  chain was read up to (so new blocks do not shift the pages) and the row's position there.
- Each chain's wrapper names the history's block it was read at (``blockNumber``,
  ``blockHash``); a chain whose history is off or behind gives its ``errorReason``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..addresses import ZERO_ADDRESS
from ..engine.node import NetworkEngine
from ..engine.records import iso_time as timestamp
from ..index.history_model import HistoryQuery
from ..index.history_query import MAX_NUMBER
from ..index.history_service import HistoryService, transaction_of
from ..index.history_transfers import AccountTransfer, account_transfers
from ..index.model import Cursor
from ..index.service import TokenInfo, TokenService
from .sequence_answers import (
    ChainBalances,
    HistoryTransaction,
    TransactionHistoryAnswer,
    TxnTransfer,
    contract_info,
)
from .sequence_checks import (
    MAX_ACCOUNTS,
    MAX_CONTRACTS,
    Paging,
    address,
    address_list,
    cursor_int,
    of_chain,
)
from .sequence_fanout import ChainAnswer, chain_id_of, fan_out, select
from .sequence_wire import TransactionHistoryFilter, TransactionHistoryRequest, invalid_argument

MAX_HASHES = 100  # transactionHashes per request
_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
# The cursor's fields: chain id, the block that chain was read up to, the last row's position.
HISTORY_CURSOR = (cursor_int, cursor_int, cursor_int)
Key = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Conditions:
    """A checked filter: the account (lower-case) and what narrows its transactions."""

    account: str
    currencies: tuple[str, ...] | None  # "" the native coin, else lower-case contracts
    hashes: tuple[str, ...] | None
    from_block: int | None
    to_block: int | None

    def query(self, max_block: int | None, offset: int, limit: int) -> HistoryQuery:
        return HistoryQuery(
            max_block=max_block,
            min_block=self.from_block,
            offset=offset,
            limit=limit,
            account=self.account,
            currencies=self.currencies,
            tx_hashes=self.hashes,
        )


def _block(value: int | None, name: str) -> int | None:
    if value is not None and not 0 <= value <= MAX_NUMBER:
        raise invalid_argument(f"filter.{name} must be between 0 and {MAX_NUMBER}")
    return value


def _hashes(values: list[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if len(values) > MAX_HASHES:
        raise invalid_argument(
            f"filter.transactionHashes holds {len(values)} hashes; at most {MAX_HASHES}"
        )
    for i, value in enumerate(values):
        if not isinstance(value, str) or not _HASH.fullmatch(value):
            raise invalid_argument(f"filter.transactionHashes[{i}] is not 32 bytes of 0x-hex")
    return tuple(dict.fromkeys(v.lower() for v in values))


def conditions(flt: TransactionHistoryFilter | None) -> Conditions:
    """The filter checked; every bad form is an InvalidArgument naming the field."""
    if flt is None:
        raise invalid_argument("filter.accountAddress is required")
    accounts = address_list(flt.accountAddresses, "filter.accountAddresses", limit=MAX_ACCOUNTS)
    if flt.accountAddress:
        accounts.insert(0, address(flt.accountAddress, "filter.accountAddress"))
    named = list(dict.fromkeys(a.lower() for a in accounts))
    if not named:
        raise invalid_argument("filter.accountAddress is required")
    if len(named) > 1:  # SEND and RECEIVE are relative to one account
        raise invalid_argument("filter: one account per request (accountAddress)")
    contracts = address_list(flt.contractAddresses, "filter.contractAddresses", limit=MAX_CONTRACTS)
    if flt.contractAddress:
        contracts.append(address(flt.contractAddress, "filter.contractAddress"))
    currencies = tuple(dict.fromkeys("" if c == ZERO_ADDRESS else c.lower() for c in contracts))
    hashes = _hashes(flt.transactionHashes)
    if flt.metaTransactionIDs or flt.tokenID:
        hashes = ()  # no meta-transactions, no token ids here: nothing matches
    first, last = _block(flt.fromBlock, "fromBlock"), _block(flt.toBlock, "toBlock")
    if first is not None and last is not None and first > last:
        raise invalid_argument("filter.fromBlock is above filter.toBlock")
    return Conditions(named[0], currencies or None, hashes, first, last)


def txn_transfer(seen: AccountTransfer, info: TokenInfo | None, chain_id: int) -> TxnTransfer:
    moved = seen.transfer
    native = moved.contract == ""
    return TxnTransfer(
        transferType="SEND" if seen.sent else "RECEIVE",
        contractAddress=ZERO_ADDRESS if native else moved.contract,
        contractType="NATIVE" if native else "ERC20",
        from_=moved.sender,
        to=moved.recipient,
        amounts=[str(moved.amount)],
        logIndex=-1 if moved.log_index is None else moved.log_index,
        contractInfo=None if info is None else contract_info(chain_id, info),
    )


async def transaction_history(
    history: HistoryService, tokens: TokenService, request: TransactionHistoryRequest
) -> TransactionHistoryAnswer:
    wanted = conditions(request.filter)
    paging = Paging.of(request.page, HISTORY_CURSOR)
    engines = sorted(select(tokens, request), key=chain_id_of)
    scan = HistoryScan(history, tokens, wanted, bool(request.includeMetadata), paging)
    return await scan.page(engines)


@dataclass(slots=True)
class HistoryScan:
    """One page across chains; ``found`` holds the rows so far, keyed for the cursor, one
    more than the page when more follow."""

    history: HistoryService
    tokens: TokenService
    wanted: Conditions
    metadata: bool
    paging: Paging
    found: list[tuple[Key, HistoryTransaction]] = field(default_factory=list)

    async def page(self, engines: list[NetworkEngine]) -> TransactionHistoryAnswer:
        outcomes: list[ChainAnswer[Cursor]] = []
        for engine in engines:
            (chain,) = await fan_out([engine], self.chain)
            if chain.error is not None:  # a failed chain gives no rows, even those it found
                self.found[:] = [f for f in self.found if f[0][0] != chain.chain_id]
            outcomes.append(chain)
        rows, page = self.paging.cut(self.found, lambda r: r[0])
        wrappers = []
        for chain in outcomes:
            if chain.value is None:
                wrappers.append(
                    ChainBalances[HistoryTransaction](
                        chainId=chain.chain_id, errorReason=chain.error, results=[]
                    )
                )
                continue
            wrappers.append(
                ChainBalances(
                    chainId=chain.chain_id,
                    results=of_chain(rows, chain.chain_id),
                    blockNumber=chain.value.number,
                    blockHash=chain.value.hash.lower(),
                )
            )
        return TransactionHistoryAnswer(page=page, transactions=wrappers)

    async def chain(self, engine: NetworkEngine) -> Cursor:
        """This chain's rows for the page; the history's block they were read at."""
        chain_id = chain_id_of(engine)
        need = max(0, self.paging.size + 1 - len(self.found))
        top, start = self.wanted.to_block, 0
        after = self.paging.after
        if after is not None and chain_id < after[0]:
            need = 0  # read on earlier pages
        elif after is not None and chain_id == after[0]:
            top, start = after[1], after[2] + 1
        page = await self.history.search(engine, self.wanted.query(top, start, need))
        assert page.cursor is not None, "the service answers with a cursor"
        read_to = page.cursor.number if top is None else top
        txs = [transaction_of(t) for t in page.transactions]
        headers = await self.history.headers(engine, [t.block_hash for t in page.transactions])
        seen = [account_transfers(tx, self.wanted.account, self.wanted.currencies) for tx in txs]
        infos: dict[str, TokenInfo] = {}
        contracts = {s.transfer.contract for row in seen for s in row} - {""}
        if self.metadata and contracts:
            at = (await self.history.headers(engine, [page.cursor.hash]))[page.cursor.hash]
            by_checksum = await self.tokens.token_infos(engine, contracts, at)
            infos = {c.lower(): info for c, info in by_checksum.items()}
        for position, (found, row) in enumerate(zip(page.transactions, seen, strict=True)):
            answer = HistoryTransaction(
                txnHash=found.hash,
                blockNumber=found.block_number,
                blockHash=found.block_hash.lower(),
                chainId=chain_id,
                transfers=[txn_transfer(s, infos.get(s.transfer.contract), chain_id) for s in row],
                timestamp=timestamp(headers[found.block_hash].timestamp),
            )
            self.found.append(((chain_id, read_to, start + position), answer))
        return page.cursor
