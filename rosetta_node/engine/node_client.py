"""The node client: the one code that names the node's methods, over :class:`RpcClient`.

Each read is a :data:`Call` built by a static method (``NodeClient.balance(address, pin)``,
``NodeClient.block("latest")``, ...), so callers never spell a JSON-RPC method. A caller sends
one call alone (:meth:`NodeClient.one`) or several in ONE JSON-RPC batch
(:meth:`NodeClient.batch`): a batch is one POST, and answers that must describe one block
(an account's balance, nonce and token balances; a block's receipts, traces and uncles)
rely on that.

Every error answer of the node becomes a :class:`NodeError` here, and only here: raised by
``one``, left in its slot by ``batch``. It is already a catalog error (NODE_ERROR), so one no
service maps to something narrower (node_errors.py) reaches the API edge as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import erc20
from ..rpc import Call, RpcClient, RpcError
from .node_errors import NodeError

__all__ = ["Call", "NodeClient", "NodeError"]

# A block parameter: a tag ("latest"), a hex number or EIP-1898's {"blockHash": ...}.
Pin = Any
CALL_TRACER = {"tracer": "callTracer"}


def _node_error(exc: RpcError) -> NodeError:
    return NodeError(exc.method, exc.code, exc.message, exc.data)


class NodeClient:
    """Typed reads of one node, sent alone or batched; node errors as :class:`NodeError`."""

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    @property
    def name(self) -> str:
        """A credential-free label of the node, for errors and logs."""
        return self.rpc.name

    async def one(self, call: Call, *, timeout: float | None = None) -> Any:
        """The answer to one call; raises NodeError for the node's error answer."""
        method, params = call
        try:
            return await self.rpc.call(method, params, timeout=timeout)
        except RpcError as exc:
            raise _node_error(exc) from None

    async def batch(self, calls: Sequence[Call], *, timeout: float | None = None) -> list[Any]:
        """The answers in call order, from one JSON-RPC batch (one POST up to the client's
        max_batch); a failed call is a NodeError in its slot, not raised."""
        results = await self.rpc.batch(calls, timeout=timeout)
        for i, result in enumerate(results):
            if isinstance(result, RpcError):
                results[i] = _node_error(result)
        return results

    # -- the node itself ------------------------------------------------------------------

    @staticmethod
    def chain_id() -> Call:
        return ("eth_chainId", [])

    @staticmethod
    def client_version() -> Call:
        return ("web3_clientVersion", [])

    @staticmethod
    def syncing() -> Call:
        return ("eth_syncing", [])

    @staticmethod
    def block_number() -> Call:
        return ("eth_blockNumber", [])

    @staticmethod
    def txpool_content() -> Call:
        return ("txpool_content", [])

    # -- blocks and transactions ------------------------------------------------------------

    @staticmethod
    def block(ref: int | str, full: bool = False) -> Call:
        """A block by number or by tag ("latest", "finalized", ...)."""
        return ("eth_getBlockByNumber", [hex(ref) if isinstance(ref, int) else ref, full])

    @staticmethod
    def block_by_hash(block_hash: str, full: bool = False) -> Call:
        return ("eth_getBlockByHash", [block_hash, full])

    @staticmethod
    def block_receipts(block_hash: str) -> Call:
        return ("eth_getBlockReceipts", [block_hash])

    @staticmethod
    def block_traces(block_hash: str) -> Call:
        """The call trace of each transaction of a block (callTracer frames)."""
        return ("debug_traceBlockByHash", [block_hash, CALL_TRACER])

    @staticmethod
    def uncle(block_hash: str, index: int) -> Call:
        return ("eth_getUncleByBlockHashAndIndex", [block_hash, hex(index)])

    @staticmethod
    def transaction(tx_hash: str) -> Call:
        return ("eth_getTransactionByHash", [tx_hash])

    @staticmethod
    def receipt(tx_hash: str) -> Call:
        return ("eth_getTransactionReceipt", [tx_hash])

    @staticmethod
    def logs(log_filter: dict[str, Any]) -> Call:
        return ("eth_getLogs", [log_filter])

    # -- state at a block ---------------------------------------------------------------------

    @staticmethod
    def balance(address: str, pin: Pin) -> Call:
        return ("eth_getBalance", [address, pin])

    @staticmethod
    def nonce(address: str, pin: Pin) -> Call:
        return ("eth_getTransactionCount", [address, pin])

    @staticmethod
    def code(address: str, pin: Pin) -> Call:
        return ("eth_getCode", [address, pin])

    @staticmethod
    def storage(address: str, position: str, pin: Pin) -> Call:
        return ("eth_getStorageAt", [address, position, pin])

    @staticmethod
    def proof(address: str, pin: Pin) -> Call:
        """The account's proof (no storage keys): balance and nonce, checkable by root."""
        return ("eth_getProof", [address, [], pin])

    @staticmethod
    def eth_call(tx: dict[str, Any], pin: Pin) -> Call:
        return ("eth_call", [tx, pin])

    # -- token contracts (ERC-20 calls) -------------------------------------------------------

    @staticmethod
    def balance_of(token: str, account: str, pin: Pin) -> Call:
        return NodeClient.eth_call({"to": token, "data": erc20.balance_of_data(account)}, pin)

    @staticmethod
    def token_metadata(contract: str, pin: Pin) -> list[Call]:
        """name(), symbol() and decimals(), in that order."""
        datas = (erc20.NAME, erc20.SYMBOL, erc20.DECIMALS)
        return [NodeClient.eth_call({"to": contract, "data": data}, pin) for data in datas]

    @staticmethod
    def total_supply(contract: str, pin: Pin) -> Call:
        return NodeClient.eth_call({"to": contract, "data": erc20.TOTAL_SUPPLY}, pin)

    @staticmethod
    def deployless(init_code: str, pin: Pin) -> Call:
        """An eth_call without ``to``: runs ``init_code`` and answers what it returns."""
        return NodeClient.eth_call({"data": init_code}, pin)
