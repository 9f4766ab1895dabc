"""Sequence Indexer Gateway wire shapes: request structs, webrpc errors, answer objects.

Field names and casing are the upstream ones (``services/indexer/indexer.gen.go`` of
go-sequence, the ``IndexerGateway`` service). Every request field is optional and accepts
``null``: the official Go client sends ``null`` for nil slices and pointers, ``""`` for an unset
``contractStatus`` and the body ``null`` for methods without arguments. Unknown fields are
ignored (``networkType``, ``omitPrices``, ``metadataOptions``: accepted, no effect here).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..index.service import HolderBalance, TokenBalance, TokenInfo


class WebrpcError(Exception):
    """A webrpc error answer: ``{error, code, msg, cause?, status}`` with HTTP ``status``."""

    def __init__(
        self,
        name: str,
        code: int,
        msg: str,
        status: int,
        cause: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{name} {code}: {msg}" + (f": {cause}" if cause else ""))
        self.name = name
        self.code = code
        self.msg = msg
        self.status = status
        self.cause = cause
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.name, "code": self.code, "msg": self.msg}
        if self.cause:
            out["cause"] = self.cause
        out["status"] = self.status
        return out


def bad_route(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadRoute", -2, "bad route", 404, cause)


def bad_method(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadMethod", -3, "bad method", 405, cause)


def bad_request(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcBadRequest", -4, "bad request", 400, cause)


def internal_error(cause: str) -> WebrpcError:
    return WebrpcError("WebrpcInternalError", -7, "internal error", 500, cause)


def unauthorized(cause: str) -> WebrpcError:
    return WebrpcError("Unauthorized", 1000, "Unauthorized access", 401, cause)


def access_key_not_found(cause: str) -> WebrpcError:
    return WebrpcError("AccessKeyNotFound", 1101, "Access key not found", 401, cause)


def rate_limited(retry_after: int) -> WebrpcError:
    return WebrpcError(
        "RateLimited",
        1007,
        "Rate-limited. Please slow down.",
        429,
        f"too many requests; retry after {retry_after} s",
        {"Retry-After": str(retry_after)},
    )


def timeout(cause: str) -> WebrpcError:
    return WebrpcError("Timeout", 1900, "Request timed out", 408, cause)


def unavailable(cause: str) -> WebrpcError:
    return WebrpcError("Unavailable", 2002, "Unavailable resource", 400, cause)


def invalid_argument(cause: str) -> WebrpcError:
    return WebrpcError("InvalidArgument", 2001, "Invalid argument", 400, cause)


# -- requests -----------------------------------------------------------------------------


class Page(msgspec.Struct):
    """Upstream ``Page``: we read ``page``, ``pageSize`` and ``after`` (our cursor string)."""

    page: int | None = None
    pageSize: int | None = None
    after: Any = None
    more: Any = None
    column: Any = None
    before: Any = None
    sort: Any = None


class TokenBalancesFilter(msgspec.Struct):
    accountAddresses: list[str] | None = None
    contractStatus: str | None = None
    contractTypes: list[str] | None = None
    contractWhitelist: list[str] | None = None
    contractBlacklist: list[str] | None = None
    omitNativeBalances: bool | None = None
    omitPrices: bool | None = None


class TokenBalancesByContractFilter(msgspec.Struct):
    contractAddresses: list[str] | None = None
    accountAddresses: list[str] | None = None
    contractStatus: str | None = None


class ChainSelection(msgspec.Struct):
    chainIds: list[int] | None = None
    networks: list[str] | None = None
    networkType: Any = None


class TokenBalancesRequest(ChainSelection):
    filter: TokenBalancesFilter | None = None
    omitMetadata: bool | None = None
    page: Page | None = None


class ByContractRequest(ChainSelection):
    filter: TokenBalancesByContractFilter | None = None
    omitMetadata: bool | None = None
    page: Page | None = None


class BalanceUpdatesRequest(ChainSelection):
    contractAddress: str | None = None
    lastBlockNumber: int | None = None
    lastBlockHash: str | None = None
    page: Page | None = None


class NativeBalanceRequest(ChainSelection):
    accountAddress: str | None = None
    omitPrices: bool | None = None


class GetChainsRequest(msgspec.Struct):
    networkType: Any = None


class NoArguments(msgspec.Struct):
    pass


# -- answers ------------------------------------------------------------------------------


def contract_info(chain_id: int, info: TokenInfo) -> dict[str, Any]:
    """Upstream ``ContractInfo`` from the token list, else the contract's own metadata.

    ``extensions.verified`` says whether the contract is in the network's token list (what
    ``contractStatus`` VERIFIED selects).
    """
    out: dict[str, Any] = {
        "chainId": chain_id,
        "address": info.address.lower(),
        "name": info.name or "",
        "type": "ERC20",
        "symbol": info.symbol or "",
    }
    if info.decimals is not None:
        out["decimals"] = info.decimals
    if info.logo_uri:
        out["logoURI"] = info.logo_uri
    out["deployed"] = True
    out["extensions"] = (
        {"verified": True, "verifiedBy": "token list"} if info.listed else {"verified": False}
    )
    return out


def token_balance(
    chain_id: int,
    contract: str,
    account: str,
    balance: int,
    last_block: int,
    last_hash: str,
    info: TokenInfo | None = None,
) -> dict[str, Any]:
    """Upstream ``TokenBalance`` of an ERC-20; ``blockNumber``/``blockHash``: its last change.

    ``info`` adds ``contractInfo`` (left out with ``omitMetadata``).
    """
    out: dict[str, Any] = {
        "contractType": "ERC20",
        "contractAddress": contract.lower(),
        "accountAddress": account.lower(),
        "balance": str(balance),
        "blockHash": last_hash.lower(),
        "blockNumber": last_block,
        "chainId": chain_id,
    }
    if info is not None:
        out["contractInfo"] = contract_info(chain_id, info)
    return out


def from_token_balance(chain_id: int, row: TokenBalance, metadata: bool) -> dict[str, Any]:
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
) -> dict[str, Any]:
    return token_balance(
        chain_id, contract, row.account, row.balance, row.last_block, row.last_hash, info
    )


def native_balance(chain_id: int, account: str, symbol: str, balance: int) -> dict[str, Any]:
    """Upstream ``NativeTokenBalance`` (the name is the symbol: no native name is configured)."""
    return {
        "accountAddress": account.lower(),
        "chainId": chain_id,
        "name": symbol,
        "symbol": symbol,
        "balance": str(balance),
    }
