"""Sequence gateway ``GetTokenBalancesByContract``: balances of given contracts, either of
given accounts or of every holder.

With accounts the chains are asked at once and their rows merged by (chain, contract,
account). Without, chains are read one after another, contract by contract, each holder
list in the index's order, until the page is full; one block per chain for the whole page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..addresses import ZERO_ADDRESS as ZERO
from ..engine.chain import Header
from ..engine.node import NetworkEngine
from ..index.service import Answer, TokenBalance, TokenService
from .sequence_answers import (
    BalancesPageAnswer,
    TokenBalanceRow,
    chain_balances,
    from_holder,
    from_token_balance,
)
from .sequence_checks import (
    CHAIN_CURSOR,
    MAX_ACCOUNTS,
    MAX_CONTRACTS,
    ChainKey,
    Paging,
    address_list,
    contract_status,
    of_chain,
    status_allows,
)
from .sequence_fanout import chain_id_of, fan_out, select
from .sequence_wire import ByContractRequest, invalid_argument

Rows = list[tuple[ChainKey, TokenBalanceRow]]


async def by_contract(tokens: TokenService, request: ByContractRequest) -> BalancesPageAnswer:
    if request.filter is None:
        raise invalid_argument("filter.contractAddresses is required")
    flt = request.filter
    contracts = address_list(
        flt.contractAddresses, "filter.contractAddresses", required=True, limit=MAX_CONTRACTS
    )
    accounts = address_list(flt.accountAddresses, "filter.accountAddresses", limit=MAX_ACCOUNTS)
    status = contract_status(flt.contractStatus)
    metadata = not request.omitMetadata
    paging = Paging.of(request.page, CHAIN_CURSOR)
    engines = sorted(select(tokens, request), key=chain_id_of)
    if accounts:
        return await of_accounts(tokens, engines, contracts, accounts, status, metadata, paging)
    scan = HolderScan(tokens, status, metadata, paging)
    return await scan.page(engines, sorted(c.lower() for c in contracts))


async def of_accounts(
    tokens: TokenService,
    engines: list[NetworkEngine],
    contracts: list[str],
    accounts: list[str],
    status: str,
    metadata: bool,
    paging: Paging,
) -> BalancesPageAnswer:
    """Given accounts: their non-zero balances of these contracts, by (contract, account)."""
    wanted = {c.lower() for c in contracts}

    async def work(engine: NetworkEngine) -> Answer[list[TokenBalance]]:
        answer = await tokens.accounts_tokens(engine, accounts)
        # A named contract that is not an ERC-20 here is this chain's errorReason.
        await tokens.require_tokens(engine, answer.block, contracts)
        return answer

    answers = await fan_out(engines, work)
    rows: Rows = []
    for chain in answers:
        if chain.value is None:
            continue
        for item in chain.value.items:
            contract = item.token.address.lower()
            if contract not in wanted or item.balance <= 0:
                continue
            if not status_allows(status, item.token):
                continue
            key = (chain.chain_id, contract, item.account.lower())
            rows.append((key, from_token_balance(chain.chain_id, item, metadata)))
    rows, page = paging.merge(rows)
    balances = [
        chain_balances(
            c.chain_id,
            c.error,
            of_chain(rows, c.chain_id),
            None if c.value is None else c.value.block,
        )
        for c in answers
    ]
    return BalancesPageAnswer(page=page, balances=balances)


@dataclass(slots=True)
class HolderScan:
    """One holders page across chains. The cursor names the last row's (chain, contract,
    account); ``found`` holds the rows so far, one more than the page when more follow."""

    tokens: TokenService
    status: str
    metadata: bool
    paging: Paging
    found: Rows = field(default_factory=list)

    @property
    def want(self) -> int:
        return self.paging.size + 1

    async def page(self, engines: list[NetworkEngine], ordered: list[str]) -> BalancesPageAnswer:
        """Chains by id, contracts by address (``ordered``), holders in the index's order."""
        position = self.paging.after
        outcomes: list[tuple[int, str | None, Header | None]] = []
        for engine in engines:
            chain_id = chain_id_of(engine)
            skip = len(self.found) > self.paging.size or (
                position is not None and chain_id < position[0]
            )
            contracts = [] if skip else ordered
            (chain,) = await fan_out([engine], functools.partial(self.chain, ordered=contracts))
            if chain.error is not None:  # a failed chain gives no rows, even those it found
                self.found[:] = [f for f in self.found if f[0][0] != chain_id]
            outcomes.append((chain_id, chain.error, chain.value))
        rows, page = self.paging.cut(self.found, lambda r: r[0])
        balances = [
            chain_balances(chain_id, error, of_chain(rows, chain_id), block)
            for chain_id, error, block in outcomes
        ]
        return BalancesPageAnswer(page=page, balances=balances)

    async def chain(self, engine: NetworkEngine, ordered: list[str]) -> Header:
        """One chain's part of the page; the block it was read at."""
        # One block for the whole page of this chain: the index's block now.
        first = ordered[0] if ordered else ZERO
        header = (await self.tokens.holders(engine, first, limit=0)).block
        await self.tokens.require_tokens(engine, header, ordered)
        position = self.paging.after
        for contract in ordered:
            if len(self.found) >= self.want:
                break
            resume: str | None = None
            if position is not None and chain_id_of(engine) == position[0]:
                if contract < position[1]:
                    continue
                if contract == position[1]:
                    resume = position[2]
            await self.holders_of(engine, contract, resume, header)
        return header

    async def holders_of(
        self, engine: NetworkEngine, contract: str, resume: str | None, header: Header
    ) -> None:
        """Append non-zero holders of ``contract`` after ``resume`` until the page is full."""
        chain_id = chain_id_of(engine)
        info = await self.tokens.token_info(engine, contract, header)
        if not status_allows(self.status, info):
            return
        after = resume
        while len(self.found) < self.want:
            need = self.want - len(self.found)
            answer = await self.tokens.holders(
                engine, contract, after=after, limit=need, at_block=header.number
            )
            for row in answer.items:
                after = row.account
                if row.balance > 0:
                    key = (chain_id, contract, row.account.lower())
                    listed = info if self.metadata else None
                    self.found.append((key, from_holder(chain_id, contract, row, listed)))
            if len(answer.items) < need:
                return
