"""Everything a block's operations are made from, read in one batch pinned to its hash.

Receipts and call traces of its transactions; on ethash chains the headers of its uncles
(their miners are paid); at the DAO fork block the drained accounts' balances at the parent
block (the fork moves them before the first transaction). An incomplete answer is "not yet";
history a pruned node dropped is final (node_errors).
"""

from __future__ import annotations

from typing import Any

from ..errors import DATA_NOT_YET_AVAILABLE, NODE_ERROR, CatalogError
from .dao import DRAIN_LIST
from .forks import ChainRules
from .headers import BlockData, Header, hex_int
from .node_client import Call, NodeClient, NodeError
from .node_errors import block_data_error


async def complete_block(
    node: NodeClient, rules: ChainRules, header: Header, block: dict[str, Any], timeout: float
) -> BlockData:
    txs = block.get("transactions") or []
    # Uncles are read only where they are paid (ethash before the merge).
    paid = rules.block_reward(header.number, header.difficulty) > 0
    uncle_count = len(block.get("uncles") or ()) if paid else 0
    dao = rules.dao_fork_block == header.number and header.number > 0
    calls: list[Call] = []
    if txs:
        calls.append(NodeClient.block_receipts(header.hash))
        calls.append(NodeClient.block_traces(header.hash))
    calls.extend(NodeClient.uncle(header.hash, i) for i in range(uncle_count))
    if dao:
        parent = {"blockHash": header.parent_hash}
        calls.extend(NodeClient.balance(address, parent) for address in DRAIN_LIST)
    answers = await node.batch(calls, timeout=timeout) if calls else []
    context = {"block": header.number, "hash": header.hash}
    data = BlockData(header=header, block=block, receipts=[], traces=[])
    if txs:
        data.receipts = _check_receipts(header, txs, answers[0], context)
        data.traces = _check_traces(txs, answers[1], context)
        answers = answers[2:]
    data.uncles = [_check_uncle(answer, context) for answer in answers[:uncle_count]]
    if dao:
        for address, answer in zip(DRAIN_LIST, answers[uncle_count:], strict=True):
            if isinstance(answer, NodeError):
                raise block_data_error(answer, context)
            data.dao_balances[address] = hex_int(answer, "balance")
    return data


def _check_receipts(
    header: Header, txs: list[Any], answer: Any, context: dict[str, Any]
) -> list[dict[str, Any]]:
    if isinstance(answer, NodeError):
        raise block_data_error(answer, context)
    # Receipts can lag the block on some nodes: an incomplete set is "not yet", never used.
    if not isinstance(answer, list) or len(answer) != len(txs):
        raise CatalogError(DATA_NOT_YET_AVAILABLE, {**context, "reason": "receipts incomplete"})
    for tx, receipt in zip(txs, answer, strict=True):
        if (
            not isinstance(receipt, dict)
            or str(receipt.get("blockHash", "")).lower() != header.hash
            or receipt.get("transactionHash") != tx.get("hash")
        ):
            raise CatalogError(
                DATA_NOT_YET_AVAILABLE, {**context, "reason": "receipts do not match block"}
            )
    return answer


def _check_traces(txs: list[Any], answer: Any, context: dict[str, Any]) -> list[Any]:
    if isinstance(answer, NodeError):
        raise block_data_error(answer, context)
    if not isinstance(answer, list) or len(answer) != len(txs):
        raise CatalogError(DATA_NOT_YET_AVAILABLE, {**context, "reason": "traces incomplete"})
    frames = []
    for item in answer:
        if isinstance(item, dict) and "result" in item:
            item = item["result"]  # geth shape: {"txHash": ..., "result": frame}
        if not isinstance(item, dict) or "type" not in item:
            raise CatalogError(NODE_ERROR, {**context, "reason": "a transaction has no trace"})
        frames.append(item)
    return frames


def _check_uncle(answer: Any, context: dict[str, Any]) -> dict[str, Any]:
    if isinstance(answer, NodeError):
        raise block_data_error(answer, context)
    if not isinstance(answer, dict) or "miner" not in answer or "number" not in answer:
        raise CatalogError(DATA_NOT_YET_AVAILABLE, {**context, "reason": "uncle header missing"})
    return answer
