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
from ..errors import CALL_METHOD_UNSUPPORTED, INVALID_CALL_PARAMETERS, CatalogError
from ..types import CallRequest, CallResponse
from .node import Networks
from .node_client import Call, NodeClient, NodeError
from .node_errors import call_error

_HEX = re.compile(r"0x[0-9a-fA-F]*")

Params = dict[str, Any]


def _bad(method: str, reason: str) -> CatalogError:
    return CatalogError(INVALID_CALL_PARAMETERS, {"method": method, "reason": reason})


def _address(method: str, params: Params, key: str) -> str:
    address = parse_address(params.get(key))
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


# Each allowed method: its named parameters checked and made into the node call, and
# whether the answer is idempotent.
Build = Callable[[str, Params], tuple[Call, bool]]


def _eth_call(method: str, p: Params) -> tuple[Call, bool]:
    tx: dict[str, Any] = {"to": _address(method, p, "to"), "data": _hex(method, p, "data", "0x")}
    if p.get("from") is not None:
        tx["from"] = _address(method, p, "from")
    for key in ("value", "gas"):
        value = _hex(method, p, key)
        if value is not None:
            tx[key] = value
    block, idempotent = _block(method, p)
    return NodeClient.eth_call(tx, block), idempotent


def _account(read: Callable[[str, Any], Call]) -> Build:
    """A read of one account at a block (balance, code, nonce)."""

    def build(method: str, p: Params) -> tuple[Call, bool]:
        block, idempotent = _block(method, p)
        return read(_address(method, p, "address"), block), idempotent

    return build


def _storage(method: str, p: Params) -> tuple[Call, bool]:
    block, idempotent = _block(method, p)
    address = _address(method, p, "address")
    position = _hex(method, p, "position", None) or "0x0"
    return NodeClient.storage(address, position, block), idempotent


def _block_by_number(method: str, p: Params) -> tuple[Call, bool]:
    index = p.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise _bad(method, "index must be a non-negative integer")
    return NodeClient.block(index, _bool(method, p, "full_transactions")), False


def _block_by_hash(method: str, p: Params) -> tuple[Call, bool]:
    full = _bool(method, p, "full_transactions")
    return NodeClient.block_by_hash(_hash(method, p, "hash"), full), True


def _by_tx_hash(read: Callable[[str], Call]) -> Build:
    # A transaction's receipt or inclusion can change with a reorg: not idempotent.
    return lambda method, p: (read(_hash(method, p, "tx_hash")), False)


def _fixed(call: Call, idempotent: bool) -> Build:
    """A method without parameters."""
    return lambda method, p: (call, idempotent)


# The allow-list: the method names clients may pass (Rosetta's call_methods).
CALL_METHODS: dict[str, Build] = {
    "eth_call": _eth_call,
    "eth_getBalance": _account(NodeClient.balance),
    "eth_getCode": _account(NodeClient.code),
    "eth_getTransactionCount": _account(NodeClient.nonce),
    "eth_getStorageAt": _storage,
    "eth_getBlockByNumber": _block_by_number,
    "eth_getBlockByHash": _block_by_hash,
    "eth_getTransactionByHash": _by_tx_hash(NodeClient.transaction),
    "eth_getTransactionReceipt": _by_tx_hash(NodeClient.receipt),
    "eth_blockNumber": _fixed(NodeClient.block_number(), False),
    "eth_chainId": _fixed(NodeClient.chain_id(), True),
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
        call, idempotent = build(request.method, request.parameters)
        try:
            result = await engine.node.one(call)
        except NodeError as exc:
            raise call_error(exc, request.method) from None
        return CallResponse(result={"result": result}, idempotent=idempotent)
