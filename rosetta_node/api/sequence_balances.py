"""Sequence gateway balance methods: ``GetTokenBalances{Summary,Details}``, ``GetTokenBalances``
(one account), ``GetNativeTokenBalance`` and ``GetBalanceUpdates``.

Requests are checked (:mod:`.sequence_checks`), the chains asked through :class:`TokenService`
and the answers shaped (:mod:`.sequence_answers`). No chain logic lives here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..addresses import is_hash
from ..engine.chain import Header
from ..engine.node import NetworkEngine
from ..errors import BLOCK_MISMATCH, CatalogError
from ..index.service import Answer, HolderBalance, TokenBalance, TokenService
from .sequence_answers import (
    BalancesPageAnswer,
    ChainBalances,
    NativeBalanceAnswer,
    NativeTokenBalance,
    TokenBalanceRow,
    TokenBalancesAnswer,
    chain_balances,
    chain_native_balance,
    from_holder,
    from_token_balance,
    native_balance,
)
from .sequence_checks import (
    CHAIN_CURSOR,
    MAX_ACCOUNTS,
    MAX_CONTRACTS,
    ChainKey,
    Paging,
    address,
    address_list,
    contract_status,
    cursor_address,
    cursor_int,
    erc20_wanted,
    of_chain,
    status_allows,
)
from .sequence_fanout import ChainAnswer, chain_id_of, fan_out, select
from .sequence_wire import (
    AccountTokensRequest,
    BalanceUpdatesRequest,
    NativeBalanceRequest,
    TokenBalancesFilter,
    TokenBalancesRequest,
    invalid_argument,
)

# What one chain gives GetTokenBalances*: its block, its token rows, native balances (if asked).
ChainTokens = tuple[Header, list[TokenBalance], list[int]]


# -- GetTokenBalancesSummary / GetTokenBalancesDetails ----------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceFilter:
    """A checked ``TokenBalancesFilter``; contract sets in lower case."""

    accounts: list[str]
    status: str
    erc20: bool
    white: set[str]
    black: set[str]

    @classmethod
    def of(cls, flt: TokenBalancesFilter) -> BalanceFilter:
        accounts = address_list(
            flt.accountAddresses, "filter.accountAddresses", required=True, limit=MAX_ACCOUNTS
        )
        status = contract_status(flt.contractStatus)
        erc20 = erc20_wanted(flt.contractTypes)
        white = address_list(flt.contractWhitelist, "filter.contractWhitelist", limit=MAX_CONTRACTS)
        black = address_list(flt.contractBlacklist, "filter.contractBlacklist", limit=MAX_CONTRACTS)
        lower = {a.lower() for a in white}, {a.lower() for a in black}
        return cls(accounts, status, erc20, *lower)

    def keeps(self, item: TokenBalance) -> bool:
        contract = item.token.address.lower()
        if item.balance <= 0 or not status_allows(self.status, item.token):
            return False
        return not ((self.white and contract not in self.white) or contract in self.black)


async def token_balances(
    tokens: TokenService, request: TokenBalancesRequest
) -> TokenBalancesAnswer:
    """Both methods: ERC-20 balances have no per-token-id detail, so the rows are the same."""
    flt = request.filter or TokenBalancesFilter()
    checked = BalanceFilter.of(flt)
    metadata = not request.omitMetadata
    paging = Paging.of(request.page, CHAIN_CURSOR)
    natives_wanted = not flt.omitNativeBalances and paging.after is None
    engines = select(tokens, request)

    async def work(engine: NetworkEngine) -> ChainTokens:
        answer = await tokens.accounts_tokens(engine, checked.accounts, read_tokens=checked.erc20)
        natives: list[int] = []
        if natives_wanted:
            reads = (tokens.native_balance(engine, a, answer.block) for a in checked.accounts)
            natives = list(await asyncio.gather(*reads))
        return answer.block, answer.items, natives

    answers = await fan_out(engines, work)
    rows: list[tuple[ChainKey, TokenBalanceRow]] = []
    for chain in answers:
        if chain.value is None or not checked.erc20:
            continue
        for item in filter(checked.keeps, chain.value[1]):
            key = (chain.chain_id, item.account.lower(), item.token.address.lower())
            rows.append((key, from_token_balance(chain.chain_id, item, metadata)))
    rows, page = paging.merge(rows)
    balances = [
        chain_balances(c.chain_id, c.error, of_chain(rows, c.chain_id), block_of(c))
        for c in answers
    ]
    natives = [natives_of(c, checked.accounts) for c in answers] if natives_wanted else []
    return TokenBalancesAnswer(page=page, nativeBalances=natives, balances=balances)


async def account_tokens(tokens: TokenService, request: AccountTokensRequest) -> BalancesPageAnswer:
    """``GetTokenBalances``: the Details rows of one account (one contract, if named), with
    metadata only when ``includeMetadata``; no native balances (upstream has none here)."""
    account = address(request.accountAddress, "accountAddress")
    if request.tokenID:
        raise invalid_argument("tokenID: only ERC-20 balances are indexed, which have no token ids")
    contract = request.contractAddress
    whitelist = [address(contract, "contractAddress")] if contract else None
    details = TokenBalancesRequest(
        chainIds=request.chainIds,
        networks=request.networks,
        filter=TokenBalancesFilter(
            accountAddresses=[account], contractWhitelist=whitelist, omitNativeBalances=True
        ),
        omitMetadata=not request.includeMetadata,
        page=request.page,
    )
    answer = await token_balances(tokens, details)
    return BalancesPageAnswer(page=answer.page, balances=answer.balances)


def block_of(chain: ChainAnswer[ChainTokens]) -> Header | None:
    return None if chain.value is None else chain.value[0]


def natives_of(
    chain: ChainAnswer[ChainTokens], accounts: list[str]
) -> ChainBalances[NativeTokenBalance]:
    """One chain's native balances of ``accounts``, in their order."""
    results: list[NativeTokenBalance] = []
    if chain.value is not None:
        symbol = chain.engine.settings.native.symbol
        values = chain.value[2]
        results = [
            native_balance(chain.chain_id, a, symbol, v)
            for a, v in zip(accounts, values, strict=True)
        ]
    return chain_balances(chain.chain_id, chain.error, results, block_of(chain))


# -- GetNativeTokenBalance --------------------------------------------------------------------


async def native(tokens: TokenService, request: NativeBalanceRequest) -> NativeBalanceAnswer:
    account = address(request.accountAddress, "accountAddress")
    engines = select(tokens, request)

    async def work(engine: NetworkEngine) -> tuple[Header, int]:
        header = await tokens.block(engine, None)
        return header, await tokens.native_balance(engine, account, header)

    balances = []
    for chain in await fan_out(engines, work):
        result, block = None, None
        if chain.value is not None:
            block, value = chain.value
            symbol = chain.engine.settings.native.symbol
            result = native_balance(chain.chain_id, account, symbol, value)
        balances.append(chain_native_balance(chain.chain_id, chain.error, result, block))
    return NativeBalanceAnswer(balances=balances)


# -- GetBalanceUpdates ------------------------------------------------------------------------


def last_seen(request: BalanceUpdatesRequest) -> tuple[int, str | None]:
    """The checked ``(lastBlockNumber, lastBlockHash)`` resume point; block 0 needs no hash."""
    last_block = request.lastBlockNumber or 0
    if last_block < 0:
        raise invalid_argument("lastBlockNumber must not be negative")
    last_hash = request.lastBlockHash or None
    if last_block > 0 and last_hash is None:
        raise invalid_argument(
            "lastBlockHash is missing: a non-zero lastBlockNumber needs the hash of that "
            "block (the pair is a reorg-safe cursor)"
        )
    if last_hash is not None and not is_hash(last_hash):
        raise invalid_argument("lastBlockHash is not 32 bytes of 0x-hex")
    return last_block, last_hash


async def balance_updates(
    tokens: TokenService, request: BalanceUpdatesRequest
) -> BalancesPageAnswer:
    """One chain only: node trouble fails the call instead of giving an ``errorReason``."""
    contract = address(request.contractAddress, "contractAddress")
    last_block, last_hash = last_seen(request)
    engines = select(tokens, request)
    if len(engines) != 1:
        raise invalid_argument(
            "GetBalanceUpdates reads one chain: name exactly one in chainIds or networks"
        )
    (engine,) = engines
    paging = Paging.of(request.page, (cursor_int, cursor_address))
    answer = await read_updates(tokens, engine, contract, last_block, last_hash, paging)
    await tokens.require_tokens(engine, answer.block, [contract])  # else InvalidArgument
    chain_id = chain_id_of(engine)
    items, page = paging.cut(answer.items, lambda row: (row.last_block, row.account.lower()))
    results = [from_holder(chain_id, contract, row, None) for row in items]
    return BalancesPageAnswer(
        page=page, balances=[chain_balances(chain_id, None, results, answer.block)]
    )


async def read_updates(
    tokens: TokenService,
    engine: NetworkEngine,
    contract: str,
    last_block: int,
    last_hash: str | None,
    paging: Paging,
) -> Answer[list[HolderBalance]]:
    """The page's rows and one more; a replaced ``lastBlockHash`` says what to do about it."""
    try:
        return await tokens.balance_updates(
            engine,
            contract,
            last_block,
            last_hash if last_block > 0 else None,
            page_after=None if paging.after is None else (paging.after[0], paging.after[1]),
            limit=paging.size + 1,
        )
    except CatalogError as exc:
        if exc.error.code == BLOCK_MISMATCH.code:
            details = exc.details or {}
            raise invalid_argument(
                f"lastBlockHash mismatch: {last_hash} is not the canonical block "
                f"{last_block} (canonical hash {details.get('canonical_hash')}); a reorg "
                "replaced it: resume from an earlier cursor"
            ) from None
        raise  # the endpoint's error edge words it
