"""ERC-20 ``Transfer`` logs: the topic, and parsing an ``eth_getLogs`` answer into blocks.

Pure functions over the node's JSON, kept apart from the node reads so a benchmark can
time the parsing on its own.
"""

from __future__ import annotations

from typing import Any

from .errors import Inconsistent
from .model import Transfer

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
_ADDRESS_PAD = "0" * 24
_UNSET: Any = object()


def parse_transfer(raw: dict[str, Any]) -> Transfer | None:
    """The (contract, from, to) of an ERC-20 Transfer log; None for other logs.

    ERC-721 Transfer logs (4 topics) and logs whose topics are not addresses are not ERC-20
    transfers. Runs once per log of a backfill, hence the plain style.
    """
    topics = raw.get("topics")
    if type(topics) is not list or len(topics) != 3:
        return None
    topic0, t1, t2 = topics
    if topic0 != TRANSFER_TOPIC and (type(topic0) is not str or topic0.lower() != TRANSFER_TOPIC):
        return None
    if (
        type(t1) is not str
        or type(t2) is not str
        or len(t1) != 66
        or len(t2) != 66
        or not t1.startswith(_ADDRESS_PAD, 2)
        or not t2.startswith(_ADDRESS_PAD, 2)
    ):
        return None
    contract = raw.get("address")
    if type(contract) is not str or len(contract) != 42:
        raise Inconsistent("log without a contract address")
    return Transfer(contract.lower(), "0x" + t1[26:].lower(), "0x" + t2[26:].lower())


def group_transfer_logs(
    answer: Any, start: int, end: int, pinned: str | None = None
) -> tuple[dict[int, tuple[str, list[Transfer]]], int]:
    """``({number: (blockHash, transfers)}, transfer count)`` of an eth_getLogs answer.

    Raises when the answer does not fit together: a log outside ``start..end``, two hashes
    for one number, a hash other than ``pinned``, a removed or malformed log.
    """
    if type(answer) is not list:
        raise Inconsistent("eth_getLogs answer is not a list")
    groups: dict[int, tuple[str, list[Transfer]]] = {}
    count = 0
    number_text: Any = _UNSET
    hash_text: Any = _UNSET
    transfers: list[Transfer] = []
    for raw in answer:
        if type(raw) is not dict:
            raise Inconsistent("a log is not an object")
        if raw.get("removed"):
            raise Inconsistent("a log is marked removed")
        # Logs come ordered by block: parse the block fields only when they change.
        if raw.get("blockNumber") != number_text or raw.get("blockHash") != hash_text:
            number_text, hash_text = raw.get("blockNumber"), raw.get("blockHash")
            try:
                number = int(number_text, 16)
                block_hash = hash_text.lower()
            except (AttributeError, TypeError, ValueError):
                raise Inconsistent("a log lacks blockNumber/blockHash") from None
            if not start <= number <= end:
                raise Inconsistent(f"log of block {number} outside {start}..{end}")
            if pinned is not None and block_hash != pinned:
                raise Inconsistent(f"log of block {block_hash}, asked for {pinned}")
            group = groups.get(number)
            if group is None:
                group = groups[number] = (block_hash, [])
            elif group[0] != block_hash:
                raise Inconsistent(f"logs of block {number} from two branches")
            transfers = group[1]
        transfer = parse_transfer(raw)
        if transfer is not None:
            transfers.append(transfer)
            count += 1
    return groups, count
