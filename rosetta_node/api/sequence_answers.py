"""Sequence Indexer Gateway answers as msgspec Structs, with upstream field names and order.

Optional fields default to None and are left out when unset (``omit_defaults``); every field
without a default is always written, so a ``false``, ``0`` or ``[]`` still reaches the client.
Every field the official client's generated types (``@0xsequence/indexer``) mark as always
present is sent; where we have no data it holds a neutral value, documented in
``specs/sequence.yaml``: no prices (``balanceUSD``/``priceUSD`` ``"0"``), no bytecode hash
(``""``), no metadata refresh time (Go's zero time, what upstream sends for an unset one).
``kw_only`` lets a required field follow an optional one, which keeps the upstream order (it is
repeated on such classes for mypy, which does not see it inherited).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ..engine.chain import Header
from ..index.service import HolderBalance, TokenBalance, TokenInfo

R = TypeVar("R")


class WireAnswer(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every answer object: keyword-only, unset optional fields left out."""


# -- balances -------------------------------------------------------------------------------


class ContractInfoExtensions(WireAnswer):
    verified: bool
    verifiedBy: str | None = None


NO_PRICE = "0"  # we keep no prices: a balance's USD value is "0", not unknown
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, upstream's "never"


class GatewayBackendResponseTime(WireAnswer):
    percentiles: dict[str, float]
    average: float


class ContractInfo(WireAnswer, kw_only=True):
    """Upstream ``ContractInfo``; ``extensions.verified``: the contract is in the token list;
    ``source``: ``token-list`` or ``on-chain`` (its own name(), symbol(), decimals())."""

    chainId: int
    address: str
    source: str
    name: str
    type: str
    symbol: str
    decimals: int | None = None
    logoURI: str
    deployed: bool
    bytecodeHash: str  # "": not read
    extensions: ContractInfoExtensions
    updatedAt: str
    status: str


class TokenBalanceRow(WireAnswer):
    """Upstream ``TokenBalance`` of an ERC-20; ``blockNumber``/``blockHash``: its last change."""

    contractType: str
    contractAddress: str
    accountAddress: str
    balance: str
    balanceUSD: str
    priceUSD: str
    blockHash: str
    blockNumber: int
    chainId: int
    uniqueCollectibles: str  # "0": ERC-20 rows hold no collectibles
    isSummary: bool  # false: an ERC-20 balance is never an aggregate of token ids
    contractInfo: ContractInfo | None = None  # left out with omitMetadata


class NativeTokenBalance(WireAnswer):
    """Upstream ``NativeTokenBalance`` (the name is the symbol: no native name is configured)."""

    accountAddress: str
    chainId: int
    name: str
    symbol: str
    balance: str
    balanceUSD: str
    priceUSD: str


class ChainBalances(WireAnswer, Generic[R], kw_only=True):
    """One chain's part of a fan-out answer: its rows, or why it has none, and the block."""

    chainId: int
    errorReason: str | None = None
    results: list[R]
    blockNumber: int | None = None
    blockHash: str | None = None


class ChainNativeBalance(WireAnswer, kw_only=True):
    """One chain's part of ``GetNativeTokenBalance``: ``result`` is null when it failed."""

    chainId: int
    errorReason: str | None = None
    result: NativeTokenBalance | None
    blockNumber: int | None = None
    blockHash: str | None = None


class PageAnswer(WireAnswer):
    """The answer's ``page``: what the client sends back for the next page while ``more``."""

    page: int
    pageSize: int
    more: bool
    after: str | None = None


class TokenBalancesAnswer(WireAnswer):
    page: PageAnswer
    nativeBalances: list[ChainBalances[NativeTokenBalance]]
    balances: list[ChainBalances[TokenBalanceRow]]


class BalancesPageAnswer(WireAnswer):
    """``GetTokenBalancesByContract`` and ``GetBalanceUpdates``."""

    page: PageAnswer
    balances: list[ChainBalances[TokenBalanceRow]]


class NativeBalanceAnswer(WireAnswer):
    balances: list[ChainNativeBalance]


# -- transaction history ----------------------------------------------------------------------


class TxnTransfer(WireAnswer, kw_only=True):
    """Upstream ``TxnTransfer``: one transfer as the queried account sees it (the mapping is
    :mod:`.sequence_history`'s, documented in ``specs/sequence.yaml``)."""

    transferType: str  # SEND or RECEIVE
    contractAddress: str  # the zero address for the native coin
    contractType: str  # NATIVE or ERC20
    from_: str = msgspec.field(name="from")
    to: str
    amounts: list[str]
    logIndex: int  # -1: no log (a native transfer)
    contractInfo: ContractInfo | None = None  # ERC-20 transfers, with includeMetadata


class HistoryTransaction(WireAnswer):
    """Upstream ``Transaction`` (no Sequence wallet meta-transactions: no ``metaTxnID``)."""

    txnHash: str
    blockNumber: int
    blockHash: str
    chainId: int
    transfers: list[TxnTransfer]
    timestamp: str


class TransactionHistoryAnswer(WireAnswer):
    page: PageAnswer
    transactions: list[ChainBalances[HistoryTransaction]]


# -- service methods --------------------------------------------------------------------------


class ChainInfo(WireAnswer):
    chainId: int
    chainName: str


class ChainsAnswer(WireAnswer):
    chains: list[ChainInfo]


class PingAnswer(WireAnswer):
    status: bool


class Version(WireAnswer):
    webrpcVersion: str
    schemaVersion: str
    schemaHash: str
    appVersion: str


class VersionAnswer(WireAnswer):
    version: Version


class BackendStatus(WireAnswer):
    name: str
    chainId: int
    responseTime: GatewayBackendResponseTime
    connected: bool
    problems: list[str]
    indexedBlockNumber: int | None = None  # None: nothing indexed yet
    indexedBlockHash: str | None = None


class RuntimeStatus(WireAnswer):
    healthOK: bool
    startTime: str
    uptime: int
    ver: str
    branch: str
    commitHash: str
    backends: list[BackendStatus]


class RuntimeStatusAnswer(WireAnswer):
    status: RuntimeStatus


# -- builders -------------------------------------------------------------------------------


def chain_balances(
    chain_id: int, error: str | None, results: list[R], block: Header | None
) -> ChainBalances[R]:
    """The per-chain wrapper: a failed chain gives its ``errorReason`` and no block."""
    if error is not None:
        return ChainBalances(chainId=chain_id, errorReason=error, results=[])
    assert block is not None, "a chain that answered names its block"
    return ChainBalances(
        chainId=chain_id, results=results, blockNumber=block.number, blockHash=block.hash.lower()
    )


def contract_info(chain_id: int, info: TokenInfo) -> ContractInfo:
    """From the token list, else the contract's own metadata."""
    verified = ContractInfoExtensions(verified=True, verifiedBy="token list")
    return ContractInfo(
        chainId=chain_id,
        address=info.address.lower(),
        name=info.name or "",
        type="ERC20",
        source="token-list" if info.listed else "on-chain",
        symbol=info.symbol or "",
        decimals=info.decimals,
        logoURI=info.logo_uri or "",
        deployed=True,
        bytecodeHash="",
        updatedAt=ZERO_TIME,
        status="AVAILABLE",
        extensions=verified if info.listed else ContractInfoExtensions(verified=False),
    )


def token_balance(
    chain_id: int,
    contract: str,
    account: str,
    balance: int,
    last_block: int,
    last_hash: str,
    info: TokenInfo | None = None,
) -> TokenBalanceRow:
    return TokenBalanceRow(
        contractType="ERC20",
        contractAddress=contract.lower(),
        accountAddress=account.lower(),
        balance=str(balance),
        balanceUSD=NO_PRICE,
        priceUSD=NO_PRICE,
        blockHash=last_hash.lower(),
        blockNumber=last_block,
        chainId=chain_id,
        uniqueCollectibles="0",
        isSummary=False,
        contractInfo=None if info is None else contract_info(chain_id, info),
    )


def from_token_balance(chain_id: int, row: TokenBalance, metadata: bool) -> TokenBalanceRow:
    return token_balance(
        chain_id,
        row.token.address,
        row.account,
        row.balance,
        row.last_block,
        row.last_hash,
        row.token if metadata else None,
    )


def from_holder(
    chain_id: int, contract: str, row: HolderBalance, info: TokenInfo | None
) -> TokenBalanceRow:
    return token_balance(
        chain_id, contract, row.account, row.balance, row.last_block, row.last_hash, info
    )


def native_balance(chain_id: int, account: str, symbol: str, balance: int) -> NativeTokenBalance:
    return NativeTokenBalance(
        accountAddress=account.lower(),
        chainId=chain_id,
        name=symbol,
        symbol=symbol,
        balance=str(balance),
        balanceUSD=NO_PRICE,
        priceUSD=NO_PRICE,
    )


def chain_native_balance(
    chain_id: int, error: str | None, result: NativeTokenBalance | None, block: Header | None
) -> ChainNativeBalance:
    """The per-chain wrapper of ``GetNativeTokenBalance``: ``result`` null when it failed."""
    if error is not None:
        return ChainNativeBalance(chainId=chain_id, errorReason=error, result=None)
    assert block is not None, "a chain that answered names its block"
    return ChainNativeBalance(
        chainId=chain_id, result=result, blockNumber=block.number, blockHash=block.hash.lower()
    )
