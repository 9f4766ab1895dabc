package main

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// block builds block n (i+1): what each block holds, era by era. Blocks not listed are
// empty. Category names (g.note) are the keys of facts.json "categories".
func (g *generator) block(i int, b *core.BlockGen) {
	n := uint64(i + 1)
	if n >= mergeBlock {
		// PoS: difficulty 0, no block or uncle rewards. Before Shanghai the config alone
		// cannot tell (no merge netsplit block), so mark it, before any transaction runs.
		b.SetPoS()
	}
	b.SetCoinbase(g.coinbase(n))
	e := g.eoas
	f := g.fresh
	c := func(name string) common.Address { return g.contracts[name] }
	miner := g.coinbase(n)

	switch n {
	// Frontier.
	case 1:
		g.transfer(b, e[0], e[1].addr, eth(1000))
		tx := g.transfer(b, e[1], f[0], eth(500))
		g.note("transfer_to_fresh", txEntry(b, tx, entry{To: hex(f[0])}))
	case 2:
		g.deploy(b, "invalid", e[3], eth(0), invalidCode)
		g.deploy(b, "forwarder1", e[4], eth(1000), forwarderCode)
	case 3:
		g.deploy(b, "destructible1", e[5], eth(2000), destructibleCode)
		g.deploy(b, "forwarder2", e[3], eth(0), forwarderCode)
	case 4:
		g.uncle(b, 3, g.uncleMiners[0])
		tx := g.send(b, txLegacy, e[1], ptr(c("invalid")), eth(1000), nil, 60_000)
		g.note("failed_pre_byzantium", txEntry(b, tx, entry{To: hex(c("invalid")), Note: "INVALID opcode"}))
		g.transfer(b, e[2], e[3].addr, eth(250))
	// Homestead.
	case 5:
		tx := g.call(b, e[4], c("forwarder1"), eth(500), words(c("forwarder2"), f[1]))
		g.note("nested_value_forwarding", txEntry(b, tx, entry{To: hex(c("forwarder1")), Beneficiary: hex(f[1])}))
	case 7:
		g.uncle(b, 5, g.uncleMiners[1])
		g.uncle(b, 6, e[2].addr)
		tx := g.transfer(b, e[0], e[6].addr, eth(1000)) // e[0] mines this block
		g.note("miner_sends", txEntry(b, tx, entry{From: hex(miner)}))
	// DAO fork (extra-data "dao-hard-fork" on blocks 8..17, set by chain_makers).
	case 8:
		g.transfer(b, e[6], f[2], eth(100))
	case 9:
		tx := g.call(b, e[6], c("forwarder1"), eth(1000), words(c("invalid")))
		g.note("failed_inner_call", txEntry(b, tx, entry{To: hex(c("forwarder1")), Note: "inner INVALID; value stays in forwarder1"}))
		tx = g.transfer(b, e[3], e[1].addr, eth(300)) // e[1] mines this block
		g.note("miner_receives", txEntry(b, tx, entry{To: hex(miner)}))
	case 10:
		tx := g.call(b, e[5], c("destructible1"), eth(0), words(e[7].addr))
		g.note("selfdestruct_to_other_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible1")), Beneficiary: hex(e[7].addr)}))
		tx, addr := g.create(b, e[2], eth(1000), invalidCode)
		g.note("failed_pre_byzantium", txEntry(b, tx, entry{Contract: hex(addr), Note: "CREATE with value, init code INVALID"}))
	case 11:
		g.uncle(b, 5, g.uncleMiners[2])
		g.transfer(b, e[7], f[2], eth(100))
	// EIP-150.
	case 12:
		g.deploy(b, "destructible2", e[5], eth(3000), destructibleCode)
	case 13:
		g.deploy(b, "destructible3", e[1], eth(1000), destructibleCode)
		g.transfer(b, e[0], f[3], eth(10))
	// EIP-155/158.
	case 14:
		g.transfer(b, e[2], e[3].addr, eth(200))
		g.transfer(b, e[0], f[3], eth(20))
	case 15:
		tx := g.call(b, e[5], c("destructible2"), eth(0), words(c("destructible2")))
		g.note("selfdestruct_to_self_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible2")), Note: "pre-merge: balance burnt"}))
	case 16:
		tx := g.send(b, txUnprotected, e[4], ptr(f[4]), eth(400), nil, params.TxGas)
		g.note("unprotected_after_eip155", txEntry(b, tx, entry{To: hex(f[4])}))
	case 17:
		tx := g.send(b, txLegacy, e[6], ptr(c("invalid")), eth(300), nil, 50_000)
		g.note("failed_pre_byzantium", txEntry(b, tx, entry{To: hex(c("invalid")), Note: "INVALID opcode"}))
	case 18:
		g.transfer(b, e[7], e[0].addr, eth(100))
		g.transfer(b, e[0], e[1].addr, eth(100))
		g.transfer(b, e[1], e[2].addr, eth(100))
	// Byzantium.
	case 20:
		g.deploy(b, "reverter", e[3], eth(0), revertCode)
		tx := g.send(b, txLegacy, e[4], ptr(c("invalid")), eth(200), nil, 50_000)
		g.note("failed_post_byzantium", txEntry(b, tx, entry{To: hex(c("invalid")), Note: "INVALID opcode"}))
	case 21:
		tx := g.send(b, txLegacy, e[5], ptr(c("reverter")), eth(1000), nil, 50_000)
		g.note("failed_post_byzantium", txEntry(b, tx, entry{To: hex(c("reverter")), Note: "REVERT"}))
		tx = g.call(b, e[6], c("forwarder2"), eth(700), words(c("reverter")))
		g.note("failed_inner_call", txEntry(b, tx, entry{To: hex(c("forwarder2")), Note: "inner REVERT; value stays in forwarder2"}))
	case 22:
		g.uncle(b, 19, g.uncleMiners[0])
		g.uncle(b, 18, g.uncleMiners[3])
		tx := g.transfer(b, e[0], f[5], eth(300)) // e[0] mines this block
		g.note("miner_sends", txEntry(b, tx, entry{From: hex(miner)}))
	case 23:
		tx, addr := g.create(b, e[2], eth(1000), revertCode)
		g.note("failed_post_byzantium", txEntry(b, tx, entry{Contract: hex(addr), Note: "CREATE with value, init code REVERTs"}))
	case 25:
		g.uncle(b, 20, e[2].addr)
		g.transfer(b, e[2], e[3].addr, eth(500)) // e[2] also mines the uncle
	case 26:
		g.deploy(b, "destructible4", e[7], eth(1000), destructibleCode)
	case 27:
		tx := g.call(b, e[0], c("forwarder1"), eth(600), words(c("forwarder2"), f[6]))
		g.note("nested_value_forwarding", txEntry(b, tx, entry{To: hex(c("forwarder1")), Beneficiary: hex(f[6])}))
	case 28:
		g.transfer(b, e[1], e[4].addr, eth(200))
	// Constantinople + Petersburg.
	case 30:
		tx := g.call(b, e[1], c("destructible3"), eth(0), words(c("destructible3")))
		g.note("selfdestruct_to_self_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible3")), Note: "pre-merge: balance burnt"}))
	case 31:
		g.transfer(b, e[3], e[4].addr, eth(100))
		g.transfer(b, e[4], e[5].addr, eth(100))
	case 32:
		g.deploy(b, "destructible8", e[6], eth(500), destructibleCode)
	case 33:
		g.uncle(b, 32, g.uncleMiners[1])
		g.uncle(b, 28, g.uncleMiners[2])
		g.transfer(b, e[7], f[7], eth(50))
	case 34:
		tx := g.call(b, e[6], c("destructible8"), eth(0), words(e[5].addr))
		g.note("selfdestruct_to_other_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible8")), Beneficiary: hex(e[5].addr)}))
	// Istanbul + Muir Glacier.
	case 35:
		g.transfer(b, e[2], e[6].addr, eth(300))
	case 37:
		g.uncle(b, 35, g.uncleMiners[3])
		tx := g.send(b, txLegacy, e[3], ptr(c("reverter")), eth(100), nil, 50_000)
		g.note("failed_post_byzantium", txEntry(b, tx, entry{To: hex(c("reverter")), Note: "REVERT"}))
	// Berlin: access-list transactions.
	case 40:
		g.transfer(b, e[2], f[6], eth(200))
		tx := g.call(b, e[3], c("forwarder1"), eth(100), words(e[4].addr))
		g.note("nested_value_forwarding", txEntry(b, tx, entry{To: hex(c("forwarder1")), Beneficiary: hex(e[4].addr)}))
		g.send(b, txLegacy, e[5], ptr(e[6].addr), eth(100), nil, params.TxGas)
	case 42:
		g.transfer(b, e[4], e[5].addr, eth(100))
	// London: dynamic-fee transactions, base fee burnt.
	case 45:
		g.transfer(b, e[4], e[5].addr, eth(300))
		g.transfer(b, e[5], f[8], eth(200))
		g.send(b, txLegacy, e[6], ptr(e[7].addr), eth(100), nil, params.TxGas)
		g.send(b, txAccessList, e[7], ptr(e[0].addr), eth(100), nil, params.TxGas)
	case 47:
		g.uncle(b, 46, g.uncleMiners[1])
		tx := g.transfer(b, e[0], e[1].addr, eth(100)) // e[0] mines this block
		g.note("miner_sends", txEntry(b, tx, entry{From: hex(miner)}))
	// Arrow Glacier + Gray Glacier.
	case 50:
		tx := g.call(b, e[6], c("forwarder2"), eth(200), words(c("reverter")))
		g.note("failed_inner_call", txEntry(b, tx, entry{To: hex(c("forwarder2")), Note: "inner REVERT; value stays in forwarder2"}))
	case 52:
		tx := g.send(b, txDynamic, e[7], ptr(c("reverter")), eth(100), nil, 50_000)
		g.note("failed_post_byzantium", txEntry(b, tx, entry{To: hex(c("reverter")), Note: "REVERT"}))
	case 53:
		g.uncle(b, 52, g.uncleMiners[2])
		g.uncle(b, 47, e[2].addr)
		g.transfer(b, e[0], e[2].addr, eth(100))
		g.send(b, txAccessList, e[1], ptr(e[3].addr), eth(100), nil, params.TxGas)
	case 55:
		g.transfer(b, e[3], f[9], eth(100))
	case 57, 58, 59: // 59 is the terminal PoW block
		g.transfer(b, e[int(n)-54], e[int(n)-53].addr, eth(100))
	// The merge: PoS from here, fee recipients still rotate.
	case 60:
		g.transfer(b, e[4], f[9], eth(100))
	case 62:
		tx := g.call(b, e[7], c("destructible4"), eth(0), words(c("destructible4")))
		g.note("selfdestruct_to_self_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible4")), Note: "post-merge: balance burnt"}))
		g.deploy(b, "destructible5", e[5], eth(2000), destructibleCode)
		tx = g.transfer(b, e[3], e[0].addr, eth(100)) // e[0] is this block's fee recipient
		g.note("miner_receives", txEntry(b, tx, entry{To: hex(miner)}))
	case 63:
		g.deploy(b, "destructible6", e[6], eth(1000), destructibleCode)
		g.deploy(b, "factory", e[2], eth(0), factoryCode)
		g.deploy(b, "destructible7", e[1], eth(700), destructibleCode)
	// Shanghai: withdrawals.
	case 65:
		g.withdraw(b, 1, e[0].addr, 1_000_000_000)
		g.withdraw(b, 2, g.miners[0], 2_000_000_000) // a miner, and a withdrawal-only account
		g.withdraw(b, 3, f[10], 500_000_000)
		g.transfer(b, e[3], e[4].addr, eth(100))
	case 66:
		g.withdraw(b, 4, e[1].addr, 300_000_000) // e[1] is also this block's fee recipient
		g.transfer(b, e[2], e[3].addr, eth(100))
	case 68:
		tx := g.call(b, e[1], c("destructible7"), eth(0), words(c("destructible7")))
		g.note("selfdestruct_to_self_pre_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible7")), Note: "Shanghai: balance burnt"}))
	case 70:
		g.withdraw(b, 5, e[2].addr, 100_000_000)
		g.withdraw(b, 6, g.miners[1], 100_000_000)
	case 72:
		tx := g.call(b, e[0], c("forwarder1"), eth(400), words(c("forwarder2"), f[11]))
		g.note("nested_value_forwarding", txEntry(b, tx, entry{To: hex(c("forwarder1")), Beneficiary: hex(f[11])}))
	// Cancun: EIP-6780 SELFDESTRUCT.
	case 75:
		tx, addr := g.create(b, e[0], eth(1000), selfDestructToSelfInit)
		g.note("create_selfdestruct_to_self_cancun", txEntry(b, tx, entry{Contract: hex(addr), Value: eth(1000).String(), Note: "value burnt"}))
		g.addContract("cancun_self_destroyed", addr)
		tx, addr = g.create(b, e[1], eth(1500), selfDestructToInit(f[12]))
		g.note("create_and_destroy_same_tx_cancun", txEntry(b, tx, entry{Contract: hex(addr), Beneficiary: hex(f[12]), Value: eth(1500).String()}))
		g.addContract("cancun_destroyed_to_other", addr)
	case 76:
		child := crypto.CreateAddress(c("factory"), b.TxNonce(c("factory")))
		tx := g.call(b, e[2], c("factory"), eth(800), nil)
		g.note("paid_after_destroy_cancun", txEntry(b, tx, entry{Contract: hex(child), To: hex(c("factory")), Value: eth(800).String(), Note: "second payment to the destroyed child is burnt"}))
		g.addContract("factory_child", child)
		g.withdraw(b, 7, e[3].addr, 250_000_000)
	case 77:
		tx := g.call(b, e[5], c("destructible5"), eth(0), words(c("destructible5")))
		g.note("old_contract_destroy_to_self_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible5")), Note: "balance and code kept"}))
	case 78:
		tx := g.call(b, e[6], c("destructible6"), eth(0), words(e[7].addr))
		g.note("old_contract_destroy_to_other_cancun", txEntry(b, tx, entry{Contract: hex(c("destructible6")), Beneficiary: hex(e[7].addr), Note: "balance moved, code kept"}))
	case 80:
		g.withdraw(b, 8, g.miners[2], 400_000_000)
		g.withdraw(b, 9, e[4].addr, 400_000_000)
		g.transfer(b, e[5], f[13], eth(100))
	case 82:
		g.transfer(b, e[3], e[4].addr, eth(100))
		g.send(b, txLegacy, e[4], ptr(e[5].addr), eth(100), nil, params.TxGas)
	case 85:
		g.withdraw(b, 10, f[14], 1_000_000_000)
		g.transfer(b, e[6], f[15], eth(100))
	case 88:
		g.transfer(b, e[7], e[0].addr, eth(100))
	case lastBlock:
		g.transfer(b, e[7], e[0].addr, eth(100))
		g.transfer(b, e[0], e[7].addr, eth(50))
	}
}

func ptr(a common.Address) *common.Address { return &a }
