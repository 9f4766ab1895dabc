"""The Call API group: a fixed set of read-only node methods with named parameters.

Parameters are named (Rosetta's ``parameters`` is an object) and mapped to the node's
positional ones. A block is named Rosetta-style with ``block_identifier: {index?, hash?}``
(default: latest); a call pinned by hash is idempotent, anything else is not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..addresses import is_hash, parse_address
from ..errors import (
    CALL_METHOD_UNSUPPORTED,
    CALL_REVERTED,
    INVALID_CALL_PARAMETERS,
    CatalogError,
)
from ..rpc import RpcError
from ..types import CallRequest, CallResponse
from .node import Networks
from .node_errors import is_missing_history, missing_history

_HEX = re.compile(r"0x[0-9a-fA-F]*")

Params = dict[str, Any]


def _bad(method: str, reason: str) -> CatalogError:
    return CatalogError(INVALID_CALL_PARAMETERS, {"method": method, "reason": reason})


def _address(method: str, params: Params, key: str, required: bool = True) -> str | None:
    value = params.get(key)
    if value is None and not required:
        return None
    address = parse_address(value)
    if address is None:
        raise _bad(method, f"{key} must be a 20-byte 0x-hex address")
    return address


def _hash(method: str, params: Params, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not is_hash(value):
        raise _bad(method, f"{key} must be a 32-byte 0x-hex hash")
    return value.lower()


def _hex(method: str, params: Params, key: str, default: str | None = None) -> str | None:
    value = params.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise _bad(method, f"{key} must be 0x-prefixed hex")
    return value


def _block(method: str, params: Params) -> tuple[Any, bool]:
    """(EIP-1898 block parameter, idempotent)."""
    ident = params.get("block_identifier")
    if ident is None:
        return "latest", False
    if not isinstance(ident, dict):
        raise _bad(method, "block_identifier must be an object {index?, hash?}")
    if ident.get("hash") is not None:
        return {"blockHash": _hash(method, ident, "hash")}, True
    index = ident.get("index")
    if index is None:
        return "latest", False
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _bad(method, "block_identifier.index must be a non-negative integer")
    return hex(index), False


def _bool(method: str, params: Params, key: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, bool):
        raise _bad(method, f"{key} must be a boolean")
    return value


def _eth_call(method: str, p: Params) -> tuple[list[Any], bool]:
    tx: dict[str, Any] = {"to": _address(method, p, "to"), "data": _hex(method, p, "data", "0x")}
    sender = _address(method, p, "from", required=False)
    if sender:
        tx["from"] = sender
    for key in ("value", "gas"):
        value = _hex(method, p, key)
        if value is not None:
            tx[key] = value
    block, idempotent = _block(method, p)
    return [tx, block], idempotent


def _account_state(method: str, p: Params) -> tuple[list[Any], bool]:
    block, idempotent = _block(method, p)
    args: list[Any] = [_address(method, p, "address")]
    if method == "eth_getStorageAt":
        args.append(_hex(method, p, "position", None) or "0x0")
    return [*args, block], idempotent


def _block_by_number(method: str, p: Params) -> tuple[list[Any], bool]:
    index = p.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _bad(method, "index must be a non-negative integer")
    return [hex(index), _bool(method, p, "full_transactions")], False


def _block_by_hash(method: str, p: Params) -> tuple[list[Any], bool]:
    return [_hash(method, p, "hash"), _bool(method, p, "full_transactions")], True


def _by_tx_hash(method: str, p: Params) -> tuple[list[Any], bool]:
    # A transaction's receipt or inclusion can change with a reorg: not idempotent.
    return [_hash(method, p, "tx_hash")], False


def _no_params(method: str, p: Params) -> tuple[list[Any], bool]:
    return [], method == "eth_chainId"


CALL_METHODS: dict[str, Callable[[str, Params], tuple[list[Any], bool]]] = {
    "eth_call": _eth_call,
    "eth_getBalance": _account_state,
    "eth_getCode": _account_state,
    "eth_getTransactionCount": _account_state,
    "eth_getStorageAt": _account_state,
    "eth_getBlockByNumber": _block_by_number,
    "eth_getBlockByHash": _block_by_hash,
    "eth_getTransactionByHash": _by_tx_hash,
    "eth_getTransactionReceipt": _by_tx_hash,
    "eth_blockNumber": _no_params,
    "eth_chainId": _no_params,
}


class CallService:
    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    async def call(self, request: CallRequest) -> CallResponse:
        engine = self.networks.get(request.network_identifier)
        build = CALL_METHODS.get(request.method)
        if build is None:
            raise CatalogError(
                CALL_METHOD_UNSUPPORTED,
                {"method": request.method[:64], "supported": sorted(CALL_METHODS)},
            )
        args, idempotent = build(request.method, request.parameters)
        try:
            result = await engine.rpc.call(request.method, args)
        except RpcError as exc:
            if is_missing_history(exc):
                raise missing_history(exc, {"method": request.method}) from None
            raise CatalogError(
                CALL_REVERTED,
                {
                    "method": request.method,
                    "node_code": exc.code,
                    "node_message": exc.message[:500],
                    "node_data": exc.data if isinstance(exc.data, str) else None,
                },
            ) from None
        return CallResponse(result={"result": result}, idempotent=idempotent)
