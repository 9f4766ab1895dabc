"""Rosetta (Mesh) wire types as msgspec Structs.

Requests are decoded straight into these types (msgspec validates types as it parses);
responses are encoded from them with ``omit_defaults`` so optional fields stay off the wire.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Base(msgspec.Struct, omit_defaults=True):
    pass


class SubNetworkIdentifier(Base):
    network: str
    metadata: dict[str, Any] | None = None


class NetworkIdentifier(Base):
    blockchain: str
    network: str
    sub_network_identifier: SubNetworkIdentifier | None = None


class BlockIdentifier(Base):
    index: int
    hash: str


class PartialBlockIdentifier(Base):
    index: int | None = None
    hash: str | None = None


class SubAccountIdentifier(Base):
    address: str
    metadata: dict[str, Any] | None = None


class AccountIdentifier(Base):
    address: str
    sub_account: SubAccountIdentifier | None = None
    metadata: dict[str, Any] | None = None


class Currency(Base):
    symbol: str
    decimals: int
    metadata: dict[str, Any] | None = None


class Amount(Base):
    value: str
    currency: Currency
    metadata: dict[str, Any] | None = None


class OperationIdentifier(Base):
    index: int
    network_index: int | None = None


class Operation(Base):
    operation_identifier: OperationIdentifier
    type: str
    related_operations: list[OperationIdentifier] | None = None
    status: str | None = None
    account: AccountIdentifier | None = None
    amount: Amount | None = None
    metadata: dict[str, Any] | None = None


class TransactionIdentifier(Base):
    hash: str


class Transaction(Base):
    transaction_identifier: TransactionIdentifier
    operations: list[Operation]
    metadata: dict[str, Any] | None = None


class Block(Base):
    block_identifier: BlockIdentifier
    parent_block_identifier: BlockIdentifier
    timestamp: int
    transactions: list[Transaction]
    metadata: dict[str, Any] | None = None


class Version(Base):
    rosetta_version: str
    node_version: str
    middleware_version: str | None = None
    metadata: dict[str, Any] | None = None


class OperationStatus(Base):
    status: str
    successful: bool


class ErrorBody(Base):
    code: int
    message: str
    retriable: bool
    description: str | None = None
    details: dict[str, Any] | None = None


class Allow(Base):
    operation_statuses: list[OperationStatus]
    operation_types: list[str]
    errors: list[ErrorBody]
    historical_balance_lookup: bool
    call_methods: list[str]
    balance_exemptions: list[dict[str, Any]]
    mempool_coins: bool
    timestamp_start_index: int | None = None
    block_hash_case: str | None = None
    transaction_hash_case: str | None = None


class SyncStatus(Base):
    current_index: int | None = None
    target_index: int | None = None
    stage: str | None = None
    synced: bool | None = None


# --- requests -------------------------------------------------------------------------------


class Request(msgspec.Struct):
    pass


class MetadataRequest(Request):
    metadata: dict[str, Any] | None = None


class NetworkRequest(Request):
    network_identifier: NetworkIdentifier
    metadata: dict[str, Any] | None = None


class AccountBalanceRequest(Request):
    network_identifier: NetworkIdentifier
    account_identifier: AccountIdentifier
    block_identifier: PartialBlockIdentifier | None = None
    currencies: list[Currency] | None = None


class AccountCoinsRequest(Request):
    network_identifier: NetworkIdentifier
    account_identifier: AccountIdentifier
    include_mempool: bool = False
    currencies: list[Currency] | None = None


class BlockRequest(Request):
    network_identifier: NetworkIdentifier
    block_identifier: PartialBlockIdentifier


class BlockTransactionRequest(Request):
    network_identifier: NetworkIdentifier
    block_identifier: BlockIdentifier
    transaction_identifier: TransactionIdentifier


class MempoolTransactionRequest(Request):
    network_identifier: NetworkIdentifier
    transaction_identifier: TransactionIdentifier


class EventsBlocksRequest(Request):
    network_identifier: NetworkIdentifier
    offset: int | None = None
    limit: int | None = None


class SearchTransactionsRequest(Request):
    network_identifier: NetworkIdentifier
    operator: str | None = None
    max_block: int | None = None
    offset: int | None = None
    limit: int | None = None
    transaction_identifier: TransactionIdentifier | None = None
    account_identifier: AccountIdentifier | None = None
    coin_identifier: dict[str, Any] | None = None
    currency: Currency | None = None
    status: str | None = None
    type: str | None = None
    address: str | None = None
    success: bool | None = None


class CallRequest(Request):
    network_identifier: NetworkIdentifier
    method: str
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)


# --- responses ------------------------------------------------------------------------------


class NetworkListResponse(Base):
    network_identifiers: list[NetworkIdentifier]


class NetworkStatusResponse(Base):
    current_block_identifier: BlockIdentifier
    current_block_timestamp: int
    genesis_block_identifier: BlockIdentifier
    sync_status: SyncStatus
    peers: list[dict[str, Any]]
    oldest_block_identifier: BlockIdentifier | None = None


class NetworkOptionsResponse(Base):
    version: Version
    allow: Allow


class AccountBalanceResponse(Base):
    block_identifier: BlockIdentifier
    balances: list[Amount]
    metadata: dict[str, Any] | None = None


class BlockResponse(Base):
    block: Block | None = None
    other_transactions: list[TransactionIdentifier] | None = None


class BlockTransactionResponse(Base):
    transaction: Transaction


class MempoolResponse(Base):
    transaction_identifiers: list[TransactionIdentifier]


class MempoolTransactionResponse(Base):
    transaction: Transaction
    metadata: dict[str, Any] | None = None


class CallResponse(Base):
    result: dict[str, Any]
    idempotent: bool


class BlockEvent(Base):
    sequence: int
    block_identifier: BlockIdentifier
    type: str  # block_added or block_removed


class EventsBlocksResponse(Base):
    max_sequence: int
    events: list[BlockEvent]
    # Ours: the newest block of the history this answer was read with (None: empty history).
    block_identifier: BlockIdentifier | None = None


class BlockTransaction(Base):
    block_identifier: BlockIdentifier
    transaction: msgspec.Raw  # the Transaction as /block gave it, stored encoded


class SearchTransactionsResponse(Base):
    transactions: list[BlockTransaction]
    total_count: int
    next_offset: int | None = None
    # Ours: the newest block of the history this answer was read with (None: empty history).
    block_identifier: BlockIdentifier | None = None
