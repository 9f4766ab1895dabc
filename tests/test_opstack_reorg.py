"""A reorg on a real op-geth, as an OP chain has one: the unsafe head replaced before it is safe.

op-geth's safe and finalized blocks trail its head here (``finality_lag``, as op-node's do),
and the last two blocks of the OP workload are replaced through the engine API by a longer
branch with other contents (a deposit minting to a new account, no pool transactions). Our
node, following with the history on, must answer the new branch block by block (every
account reconciled against op-geth, the vaults included), and its block-event log must show
the two blocks removed, newest first, then the new ones added.
"""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address

from tests.conftest import JsonRpc, NodeProcess, RosettaClient
from tests.history_support import events, history_tip, wait_history
from tests.support.op_workload import TOKEN_DECIMALS, TOKEN_NAME, TOKEN_SYMBOL, run_op_workload
from tests.support.opgeth import Deposit, OpGeth
from tests.support.reconcile import reconcile
from tests.workload import Token, write_token_list

pytestmark = pytest.mark.devnet

ETH = 10**18
REPLACED = 2  # blocks of the workload's end the reorg takes out


def test_a_reorg_of_the_unsafe_head_is_followed(tmp_path: Any) -> None:
    with OpGeth(finality_lag=REPLACED + 2) as chain:
        work = run_op_workload(chain)
        rpc = JsonRpc(chain.url)
        assert chain.workdir is not None
        env = {"ROSETTA_NODE_INDEX_DB": str(tmp_path / "index.sqlite"), "ROSETTA_NODE_HISTORY": "1"}
        env["ROSETTA_NODE_INDEX_POLL_INTERVAL"] = "0.2"
        args = ["--rpc-url", chain.url, "--chain-id", str(chain.chain_id)]
        args += ["--genesis-file", str(chain.workdir / "genesis.json")]
        tokens = tmp_path / "tokens.json"
        token = Token(work.token, TOKEN_NAME, TOKEN_SYMBOL, TOKEN_DECIMALS)
        write_token_list(tokens, [token], chain.chain_id)
        args += ["--token-list", str(tokens)]
        process = NodeProcess(args, env=env)
        try:
            process.wait()
            client = RosettaClient(process.url)
            (network,) = client.ok("/network/list", {})["network_identifiers"]
            wait_history(client, work.last, network=network)
            seen = len(events(client, network=network))
            old = {
                n: rpc("eth_getBlockByNumber", hex(n), False)["hash"]
                for n in range(work.last - REPLACED + 1, work.last + 1)
            }
            fork = rpc("eth_getBlockByNumber", hex(work.last - REPLACED), False)["hash"]
            newcomer = to_checksum_address(keccak(b"rosetta-node op reorg")[12:])
            minted = Deposit(newcomer, newcomer, mint=ETH, value=0, gas=30_000)
            chain.mine([minted], parent=fork, no_tx_pool=True)
            for _ in range(REPLACED):  # a longer branch than the one it replaces
                chain.mine(no_tx_pool=True)
            last = int(rpc("eth_blockNumber"), 16)
            assert last == work.last + 1
            for number, orphaned in old.items():
                assert rpc("eth_getBlockByNumber", hex(number), False)["hash"] != orphaned
            new_tip = rpc("eth_getBlockByNumber", hex(last), False)["hash"]
            wait_history(client, block_hash=new_tip, network=network)
            # Every block of the workload and of the new branch, as op-geth now has them.
            accounts = [*work.accounts, newcomer]
            result = reconcile(
                client, rpc, network, range(work.first, last + 1), accounts, [work.token]
            )
            assert result.by_type.get("DEPOSIT", 0) >= 5
            for number in old:
                answer = client.ok(
                    "/block", {"network_identifier": network, "block_identifier": {"index": number}}
                )
                hash_ = rpc("eth_getBlockByNumber", hex(number), False)["hash"]
                assert answer["block"]["block_identifier"]["hash"] == hash_
            found = events(client, seen, network=network)
            removed = [(e["block_identifier"]["index"], e["block_identifier"]["hash"])
                       for e in found if e["type"] == "block_removed"]  # fmt: skip
            assert removed == sorted(old.items(), reverse=True)
            added = [e["block_identifier"]["index"] for e in found if e["type"] == "block_added"]
            assert added == list(range(work.last - REPLACED + 1, last + 1))
            sequences = [e["sequence"] for e in found]
            assert sequences == list(range(sequences[0], sequences[0] + len(found)))
            tip = history_tip(client, network)
            assert tip == {"index": last, "hash": new_tip}
        finally:
            process.stop()
