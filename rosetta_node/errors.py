"""The one Rosetta error catalog.

Every failure the node can return is a ``CatalogError`` raised with one of the entries below.
Codes and messages never change for a given entry; request context goes in ``details``.
``/network/options`` lists the whole catalog, so clients know every error up front.
Each entry also has a ``Kind`` (client, node, index, internal): the translator APIs choose
their own status and error name by it, never by the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """Whose failure an entry is: each API's edge chooses its answer by this (and the entry)."""

    CLIENT = "client"  # the request is wrong: the client must change it
    NODE = "node"  # the RPC node failed, is behind or lacks the data
    INDEX = "index"  # the Transfer-log or history index is missing or behind
    INTERNAL = "internal"  # a bug: logged


@dataclass(frozen=True, slots=True)
class ErrorDef:
    code: int
    message: str
    retriable: bool
    description: str
    kind: Kind  # not part of the Rosetta Error: /network/options lists the fields above


def _client(code: int, message: str, retriable: bool, description: str) -> ErrorDef:
    return ErrorDef(code, message, retriable, description, Kind.CLIENT)


def _node(code: int, message: str, retriable: bool, description: str) -> ErrorDef:
    return ErrorDef(code, message, retriable, description, Kind.NODE)


def _index(code: int, message: str, retriable: bool, description: str) -> ErrorDef:
    return ErrorDef(code, message, retriable, description, Kind.INDEX)


# Request errors (client must change the request).
MALFORMED_JSON = _client(
    1, "Request body is not valid JSON", False, "The body could not be parsed."
)
INVALID_REQUEST = _client(
    2,
    "Request does not match the schema",
    False,
    "A field is missing, has the wrong type or an invalid value; details name the field.",
)
UNKNOWN_NETWORK = _client(
    3, "Network is not supported", False, "The network_identifier names no configured network."
)
INVALID_ADDRESS = _client(
    4, "Invalid account address", False, "An address must be 20 bytes of 0x-prefixed hex."
)
BLOCK_NOT_FOUND = _client(
    5, "Block not found", False, "No block with this hash is on the node's chain."
)
BLOCK_MISMATCH = _client(
    6,
    "Block index and hash name different blocks",
    False,
    "Both index and hash were given, but the block with that hash has another index.",
)
INVALID_BLOCK_IDENTIFIER = _client(
    7,
    "Invalid block identifier",
    False,
    "A block index must be a non-negative integer and a hash 32 bytes of 0x-prefixed hex.",
)
UNKNOWN_CURRENCY = _client(
    8,
    "Currency is not supported",
    False,
    "The currency is neither the native currency nor an ERC-20 given by metadata.contractAddress.",
)
TRANSACTION_NOT_FOUND = _client(
    9, "Transaction not found in block", False, "The block holds no transaction with this hash."
)
COINS_UNSUPPORTED = _client(
    10,
    "Coins are not supported on an account-based chain",
    False,
    "EVM chains keep balances per account; use /account/balance.",
)
CALL_METHOD_UNSUPPORTED = _client(
    11, "Call method is not supported", False, "See allow.call_methods in /network/options."
)
INVALID_CALL_PARAMETERS = _client(
    12, "Invalid call parameters", False, "The parameters do not fit the call method."
)
MEMPOOL_TX_NOT_FOUND = _client(
    13, "Transaction not found in mempool", False, "The node's mempool holds no such transaction."
)
CALL_REVERTED = _client(
    14,
    "Call reverted or was rejected by the node",
    False,
    "The node executed the call and returned an error; details carry the node's answer.",
)
API_KEY_REQUIRED = _client(
    15,
    "API key is missing or not valid",
    False,
    "This node requires an API key (the X-Api-Key header) on this route.",
)
RATE_LIMITED = _client(
    16,
    "Rate limit exceeded",
    True,
    "Too many requests from this key or address; details say after how many seconds to retry.",
)
CLIENT_TOO_SLOW = _client(
    17,
    "Request was not received in time",
    True,
    "The client did not send the whole request (head and body) within the node's client_timeout.",
)
BLOCK_BEFORE_HISTORY = _client(
    18,
    "Block is before the history this network serves",
    False,
    "Blocks below oldest_block_identifier of /network/status are not served: on OP Mainnet, "
    "the legacy (pre-Bedrock) blocks, which op-geth holds but cannot trace.",
)
NOT_A_TOKEN = _client(
    19,
    "Contract is not an ERC-20 token",
    False,
    "The address is a precompile, an account with an EIP-7702 delegation, or a contract that"
    " answers neither totalSupply() nor balanceOf with one uint256 at this block; details name"
    " the contract, the block and the reason.",
)
# Node trouble (retry later).
NODE_UNAVAILABLE = _node(
    20, "Node is unavailable", True, "The RPC node could not be reached or failed to answer."
)
NODE_TIMEOUT = _node(21, "Node timed out", True, "The RPC node did not answer in time.")
NODE_ERROR = _node(
    22,
    "Node returned an unexpected answer",
    True,
    "The RPC node answered with an error or a malformed result.",
)
NODE_NOT_READY = _node(
    23,
    "Node is not ready",
    True,
    "The chain head has no real timestamp yet, or the node is still starting.",
)
WRONG_CHAIN = _node(
    24,
    "Node serves another chain than configured",
    True,
    "The RPC node's chain id differs from the configured chain id.",
)
BLOCK_NOT_YET_AVAILABLE = _node(
    25,
    "Block is not yet available",
    True,
    "The block index is above the node's current head.",
)
DATA_NOT_YET_AVAILABLE = _node(
    26,
    "Block data is not yet complete on the node",
    True,
    "Receipts or traces for this block are not yet served by the node.",
)
STATE_UNAVAILABLE = _node(
    27,
    "Historical state is not available on the node",
    False,
    "The node has pruned the state of this block; use an archive node.",
)
# Token index trouble.
INDEX_NOT_CONFIGURED = _index(
    31,
    "Token index is not configured for this network",
    False,
    "Holder and token-list answers need the Transfer-log index (index_db in the settings).",
)
INDEX_BEHIND = _index(
    32,
    "Token index has not reached this block yet",
    True,
    "The Transfer-log index is still catching up (or starting); ask again shortly.",
)
HISTORY_NOT_CONFIGURED = _index(
    33,
    "Transaction history is not configured for this network",
    False,
    "/events/blocks and /search/transactions need the history index (history = true and"
    " index_db or index_url in the settings).",
)
HISTORY_BEHIND = _index(
    34,
    "Transaction history has not reached this block yet",
    True,
    "The history index is still catching up (or starting); ask again shortly.",
)
INTERNAL_ERROR = ErrorDef(
    30,
    "Internal error",
    True,
    "An unexpected error occurred; it has been logged.",
    Kind.INTERNAL,
)

CATALOG: tuple[ErrorDef, ...] = tuple(
    v for v in list(globals().values()) if isinstance(v, ErrorDef)
)
assert len({e.code for e in CATALOG}) == len(CATALOG), "error codes must be unique"
assert len({e.message for e in CATALOG}) == len(CATALOG), "error messages must be unique"


class CatalogError(Exception):
    """A failure that maps to one catalog entry, with optional per-request details."""

    def __init__(self, error: ErrorDef, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{error.message} ({error.code})" + (f": {details}" if details else ""))
        self.error = error
        self.details = details
