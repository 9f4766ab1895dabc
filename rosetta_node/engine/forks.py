"""Which balance rules hold at a block: the chain's fork schedule and genesis allocations.

A chain's schedule comes from, in this order (the first found wins):

1. ``forks`` in the network's settings (geth's config key names, e.g. ``byzantiumBlock``);
2. the ``config`` section of the configured ``genesis_file``;
3. the built-in schedule of mainnet, sepolia or hoodi, chosen by the node's genesis *hash*,
   so a test chain signed with chain id 1 never gets mainnet's rules by accident;
4. none: then only what the blocks themselves show is used (post-merge rules).

Built in, by genesis hash: mainnet, sepolia and hoodi (from the pinned geth), OP Mainnet and
OP Sepolia (from the pinned op-geth's superchain registry), Base and Base Sepolia (from the
registry's last entries for them); see scripts/build_chaindata.py.

Only what changes balances is kept: whether the chain paid ethash block rewards and their
eras, the DAO fork, Cancun's SELFDESTRUCT rule, and on OP Stack chains the family, Jovian (the
operator fee's unit) and the Bedrock block (OP Mainnet's earlier blocks are legacy ones).
Everything else (receipts with ``root`` before Byzantium, no burn before London, the merge) is
read from the blocks themselves.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import msgspec

from ..settings import ConfigError
from .opstack import OP_STACK, OP_STACK_CHAIN_IDS

log = logging.getLogger(__name__)

ETHER = 10**18
# Block rewards of ethash eras (EIP-649 at Byzantium, EIP-1234 at Constantinople).
FRONTIER_REWARD = 5 * ETHER
BYZANTIUM_REWARD = 3 * ETHER
CONSTANTINOPLE_REWARD = 2 * ETHER

# The public networks we know, by genesis hash: (name, data file in rosetta_node/chaindata).
BUILT_IN = {
    "0xd4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3": "mainnet",
    "0x25a5cc106eea7138acab33231d7160d69cb777ee0c2c553fcddf5138993e6dd9": "sepolia",
    "0xbbe312868b376a3001692a646dd2d7d1e4406380dfd86b98aa8a34d1557c971b": "hoodi",
    # OP Mainnet's block 0 is its legacy genesis (op-geth core/superchain.go checks the same).
    "0x7ca38a1916c42007829c55e69d3e9a73265554b586a499015373241b8a3fa48b": "op-mainnet",
    "0x102de6ffb001480cc9b8b548fd05c34cd4f46ae4aa91759393db90ea0409887d": "op-sepolia",
    "0xf712aa9241cc24369b143cf6dce85f0902a9731e70d66818a3a5845b296c73dd": "base-mainnet",
    "0x0dcc9e089e30b90ddfc55be9a37dd15bc551aeee999d2e2b51414c54eaf934e4": "base-sepolia",
}
# Chain ids of the built-in networks: another genesis under one of them gets a warning.
BUILT_IN_CHAIN_IDS = frozenset({1, 11155111, 560048, 10, 11155420, 8453, 84532})


@dataclass(frozen=True, slots=True)
class ChainRules:
    """The balance rules of one chain, from its fork schedule."""

    source: str  # where the schedule came from, for the log and /network/options
    ethash: bool = False  # proof-of-work block rewards before the merge
    byzantium_block: int | None = None
    constantinople_block: int | None = None
    dao_fork_block: int | None = None  # only when the chain took the DAO fork
    cancun_time: int | None = None  # None: read from the block (Cancun header fields)
    family: str = "ethereum"  # or "op-stack": deposits, L1 and operator fees, fee vaults
    jovian_time: int | None = None  # OP Stack: the operator fee's new unit
    bedrock_block: int = 0  # OP Stack: the first block served (earlier ones are legacy)
    allocations: Mapping[str, int] = field(default_factory=dict)
    genesis_hash: str = ""  # the chain these rules were chosen for

    def block_reward(self, number: int, difficulty: int) -> int:
        """The ethash miner reward of block ``number``; 0 after the merge (difficulty 0) and
        for the genesis block, which nobody mined."""
        if not self.ethash or difficulty == 0 or number == 0:
            return 0
        if _reached(self.constantinople_block, number):
            return CONSTANTINOPLE_REWARD
        if _reached(self.byzantium_block, number):
            return BYZANTIUM_REWARD
        return FRONTIER_REWARD

    def is_jovian(self, timestamp: int) -> bool:
        return self.jovian_time is not None and timestamp >= self.jovian_time

    def is_cancun(self, timestamp: int, header_fields: Mapping[str, Any]) -> bool:
        """EIP-6780 in force: from the schedule if known, else from the header's blob fields."""
        if self.cancun_time is not None:
            return timestamp >= self.cancun_time
        return "excessBlobGas" in header_fields


def _reached(fork: int | None, number: int) -> bool:
    return fork is not None and number >= fork


def rules_from_config(
    config: Mapping[str, Any], source: str, allocations: Mapping[str, int] | None = None
) -> ChainRules:
    """Rules from a geth-style chain ``config`` (genesis file section or settings table)."""

    def number(key: str) -> int | None:
        value = config.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ConfigError(f"{source}: {key} must be a number")
        try:
            parsed = int(value, 0) if isinstance(value, str) else value
        except ValueError:
            raise ConfigError(f"{source}: {key} must be a number, not {value!r}") from None
        if parsed < 0:
            raise ConfigError(f"{source}: {key} must not be negative")
        return parsed

    dao_support = config.get("daoForkSupport", False)
    if not isinstance(dao_support, bool):
        raise ConfigError(f"{source}: daoForkSupport must be true or false")
    # geth runs a config without "clique" as ethash (blocks of difficulty 0 pay nothing); an
    # OP Stack chain (an "optimism" section) never paid proof-of-work rewards.
    op_stack = "optimism" in config
    ethash = "clique" not in config and not op_stack
    return ChainRules(
        source=source,
        ethash=ethash,
        byzantium_block=number("byzantiumBlock"),
        constantinople_block=number("constantinopleBlock"),
        dao_fork_block=number("daoForkBlock") if dao_support else None,
        cancun_time=number("cancunTime"),
        family="op-stack" if op_stack else "ethereum",
        jovian_time=number("jovianTime"),
        bedrock_block=number("bedrockBlock") or 0,
        allocations=dict(allocations or {}),
    )


def built_in(name: str) -> tuple[dict[str, Any], dict[str, int]]:
    """(config, allocations) of a built-in network, from the package's chaindata/."""
    data = resources.files("rosetta_node").joinpath("chaindata", f"{name}.json.gz").read_bytes()
    raw = msgspec.json.decode(gzip.decompress(data))
    alloc = {address: int(balance, 16) for address, balance in raw["alloc"].items()}
    return raw["config"], alloc


def choose_rules(
    genesis_hash: str,
    chain_id: int,
    settings_forks: Mapping[str, Any] | None,
    genesis_config: Mapping[str, Any] | None,
    genesis_allocations: Mapping[str, int] | None,
    family: str | None = None,
) -> ChainRules:
    """The rules for a network, by the order in the module docstring; logs which it uses.
    ``family`` (the setting) wins over the one the schedule or the chain id implies."""
    name = BUILT_IN.get(genesis_hash.lower())
    # The built-in data (mainnet's is 8,891 allocations) is read only when something uses it.
    wanted = genesis_allocations is None or not (settings_forks or genesis_config is not None)
    builtin_config, builtin_alloc = built_in(name) if name and wanted else (None, None)
    allocations = genesis_allocations if genesis_allocations is not None else builtin_alloc
    if settings_forks:
        rules = rules_from_config(settings_forks, "the forks setting", allocations)
    elif genesis_config is not None:
        rules = rules_from_config(genesis_config, "the genesis file's config", allocations)
    elif builtin_config is not None:
        rules = rules_from_config(builtin_config, f"built-in {name}", allocations)
    else:
        rules = ChainRules(source="none (post-merge rules)", allocations=allocations or {})
        if chain_id in BUILT_IN_CHAIN_IDS:
            log.warning(
                "chain id %d, but genesis %s is not that network's: no built-in fork schedule "
                "or allocations are used (give genesis_file for a chain of your own)",
                chain_id,
                genesis_hash,
            )
    if family is None and chain_id in OP_STACK_CHAIN_IDS:
        family = OP_STACK
    if family is not None and family != rules.family:
        rules = replace(rules, family=family, ethash=rules.ethash and family != OP_STACK)
    log.info(
        "chain id %d (%s): fork schedule from %s; genesis allocations from %s (%d accounts)",
        chain_id,
        rules.family,
        rules.source,
        "the genesis file"
        if genesis_allocations is not None
        else (f"built-in {name}" if name else "nowhere"),
        len(rules.allocations),
    )
    return rules
