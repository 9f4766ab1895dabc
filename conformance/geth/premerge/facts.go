package main

import (
	"math/big"
	"sort"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// facts.json: what the chain holds, so tests can check our node against it. Amounts are
// decimal wei strings; addresses and hashes are 0x-hex (addresses checksummed).
type facts struct {
	ChainID          uint64 `json:"chain_id"`
	LastBlock        uint64 `json:"last_block"`
	GenesisHash      string `json:"genesis_hash"`
	GenesisTimestamp uint64 `json:"genesis_timestamp"`
	BlockInterval    uint64 `json:"block_interval"`

	ForkBlocks              map[string]uint64 `json:"fork_blocks"`     // first block of each fork
	ForkTimestamps          map[string]uint64 `json:"fork_timestamps"` // shanghai, cancun
	DAOForkBlock            uint64            `json:"dao_fork_block"`
	TerminalBlock           uint64            `json:"terminal_block"` // last PoW block
	MergeBlock              uint64            `json:"merge_block"`    // first PoS block
	TerminalTotalDifficulty string            `json:"terminal_total_difficulty"`
	FirstShanghaiBlock      uint64            `json:"first_shanghai_block"`
	FirstCancunBlock        uint64            `json:"first_cancun_block"`

	DAO        daoFact            `json:"dao"`
	Addresses  addressFacts       `json:"addresses"`
	Categories map[string][]entry `json:"categories"`
	Blocks     []blockFact        `json:"blocks"` // 1..N
	Txs        []txFact           `json:"txs"`
}

type entry struct {
	Block       uint64 `json:"block"`
	Tx          string `json:"tx,omitempty"`
	From        string `json:"from,omitempty"`
	To          string `json:"to,omitempty"`
	Contract    string `json:"contract,omitempty"`
	Beneficiary string `json:"beneficiary,omitempty"`
	Value       string `json:"value,omitempty"`
	Note        string `json:"note,omitempty"`
}

type daoFact struct {
	Block          uint64            `json:"block"`
	RefundContract string            `json:"refund_contract"`
	Drained        map[string]string `json:"drained"`        // funded drain-list account -> balance moved
	RefundGain     string            `json:"refund_gain"`    // sum moved into the refund contract
	DrainList      []string          `json:"drain_list"`     // all of params.DAODrainList()
	RefundBalance  string            `json:"refund_genesis"` // refund contract's own genesis balance
}

type addressFacts struct {
	EOAs                 []string          `json:"eoas"`         // have keys, send transactions
	Miners               []string          `json:"miners"`       // every block coinbase
	UncleMiners          []string          `json:"uncle_miners"` // every uncle coinbase
	Fresh                []string          `json:"fresh"`        // receive only, absent at genesis
	Contracts            map[string]string `json:"contracts"`    // name -> address
	WithdrawalRecipients []string          `json:"withdrawal_recipients"`
	System               map[string]string `json:"system"`
	// All is every address whose balance the chain sets or changes (the drain list's
	// never-funded accounts are left out: they stay at zero).
	All []string `json:"all"`
}

type uncleFact struct {
	Hash     string `json:"hash"`
	Number   uint64 `json:"number"`
	Distance uint64 `json:"distance"`
	Miner    string `json:"miner"`
	Reward   string `json:"reward"` // (uncle + 8 - block) * blockReward / 8
}

type withdrawalFact struct {
	Index      uint64 `json:"index"`
	Validator  uint64 `json:"validator"`
	Address    string `json:"address"`
	AmountGwei uint64 `json:"amount_gwei"`
}

type blockFact struct {
	Number      uint64           `json:"number"`
	Hash        string           `json:"hash"`
	Timestamp   uint64           `json:"timestamp"`
	Miner       string           `json:"miner"`
	Difficulty  string           `json:"difficulty"`
	PoS         bool             `json:"pos"`
	MinerReward string           `json:"miner_reward"` // static reward + reward/32 per uncle
	Fees        string           `json:"fees"`         // paid to the miner (tips after London)
	BurntFees   string           `json:"burnt_fees"`   // base fee * gas used
	Txs         []string         `json:"txs"`
	Uncles      []uncleFact      `json:"uncles"`
	Withdrawals []withdrawalFact `json:"withdrawals"`
}

type txFact struct {
	Hash     string `json:"hash"`
	Block    uint64 `json:"block"`
	Index    int    `json:"index"`
	Type     uint8  `json:"type"`
	From     string `json:"from"`
	To       string `json:"to,omitempty"`      // empty for contract creation
	Created  string `json:"created,omitempty"` // CREATE address, even if the creation failed
	Value    string `json:"value"`
	GasUsed  uint64 `json:"gas_used"`
	GasPrice string `json:"effective_gas_price"`
	Failed   bool   `json:"failed"`
	// Before Byzantium receipts carry a state root instead of a status.
	PreByzantiumReceipt bool `json:"pre_byzantium_receipt"`
	Protected           bool `json:"protected"`
}

func (g *generator) finish(genesis *types.Block, blocks []*types.Block, receipts []types.Receipts) *facts {
	shanghai, cancun := *g.config.ShanghaiTime, *g.config.CancunTime
	out := &facts{
		ChainID:          chainID,
		LastBlock:        uint64(len(blocks)),
		GenesisHash:      genesis.Hash().Hex(),
		GenesisTimestamp: genesisTime,
		BlockInterval:    blockInterval,
		ForkBlocks: map[string]uint64{
			"frontier": 0, "homestead": homesteadBlock, "dao": daoForkBlock,
			"eip150": eip150Block, "eip155": eip155Block, "eip158": eip155Block,
			"byzantium": byzantiumBlock, "constantinople": constantinopleBlock,
			"petersburg": constantinopleBlock, "istanbul": istanbulBlock,
			"muir_glacier": istanbulBlock, "berlin": berlinBlock, "london": londonBlock,
			"arrow_glacier": arrowGlacierBlock, "gray_glacier": arrowGlacierBlock,
			"merge": mergeBlock, "shanghai": shanghaiBlock, "cancun": cancunBlock,
		},
		ForkTimestamps:          map[string]uint64{"shanghai": shanghai, "cancun": cancun},
		DAOForkBlock:            daoForkBlock,
		TerminalBlock:           mergeBlock - 1,
		MergeBlock:              mergeBlock,
		TerminalTotalDifficulty: g.config.TerminalTotalDifficulty.String(),
		Categories:              g.categories,
	}
	addrs := newAddrSet()
	var eoas, fresh []string
	for _, e := range g.eoas {
		eoas = append(eoas, addrs.add(e.addr))
	}
	for _, a := range g.fresh {
		fresh = append(fresh, addrs.add(a))
	}

	// DAO.
	refundGain := new(big.Int)
	drained := map[string]string{}
	for _, a := range g.daoFunded {
		drained[addrs.add(a)] = g.daoAlloc[a].String()
		refundGain.Add(refundGain, g.daoAlloc[a])
	}
	var drainList []string
	for _, a := range params.DAODrainList() {
		drainList = append(drainList, a.Hex())
	}
	out.DAO = daoFact{
		Block: daoForkBlock, RefundContract: addrs.add(params.DAORefundContract),
		Drained: drained, RefundGain: refundGain.String(), DrainList: drainList,
		RefundBalance: eth(250).String(),
	}

	// Blocks, transactions, uncles, withdrawals.
	miners, uncleMiners, wdRecipients := newAddrSet(), newAddrSet(), newAddrSet()
	for i, blk := range blocks {
		n := blk.NumberU64()
		signer := types.MakeSigner(g.config, blk.Number(), blk.Time())
		bf := blockFact{
			Number: n, Hash: blk.Hash().Hex(), Timestamp: blk.Time(),
			Miner: addrs.add(blk.Coinbase()), Difficulty: blk.Difficulty().String(),
			PoS: blk.Difficulty().Sign() == 0, Txs: []string{}, Uncles: []uncleFact{},
			Withdrawals: []withdrawalFact{},
		}
		miners.add(blk.Coinbase())
		if n >= londonBlock && blk.BaseFee() == nil {
			panic("London block without base fee")
		}
		if n < shanghaiBlock == (blk.Time() >= shanghai) || n < cancunBlock == (blk.Time() >= cancun) {
			panic("fork timestamps out of line with block numbers")
		}
		if bf.PoS != (n >= mergeBlock) {
			panic("merge block out of line")
		}
		reward := blockReward(n)
		minerReward := new(big.Int).Set(reward)
		for _, u := range g.uncleInfo[n] {
			minerReward.Add(minerReward, new(big.Int).Div(reward, big.NewInt(32)))
			addrs.add(common.HexToAddress(u.Miner))
			uncleMiners.add(common.HexToAddress(u.Miner))
			bf.Uncles = append(bf.Uncles, u)
		}
		if len(bf.Uncles) != len(blk.Uncles()) {
			panic("uncle bookkeeping out of line")
		}
		for j, u := range blk.Uncles() {
			if u.Hash().Hex() != bf.Uncles[j].Hash {
				panic("uncle hash changed after AddUncle")
			}
		}
		bf.MinerReward = minerReward.String()
		fees, burnt := new(big.Int), new(big.Int)
		for j, tx := range blk.Transactions() {
			r := receipts[i][j]
			meta := g.txMeta[tx.Hash()]
			if from, err := types.Sender(signer, tx); err != nil || from != meta.from {
				panic("sender mismatch")
			}
			gasUsed := new(big.Int).SetUint64(r.GasUsed)
			price := r.EffectiveGasPrice
			tip := new(big.Int).Set(price)
			if blk.BaseFee() != nil {
				tip.Sub(tip, blk.BaseFee())
				burnt.Add(burnt, new(big.Int).Mul(gasUsed, blk.BaseFee()))
			}
			fees.Add(fees, new(big.Int).Mul(gasUsed, tip))
			tf := txFact{
				Hash: tx.Hash().Hex(), Block: n, Index: j, Type: tx.Type(),
				From: addrs.add(meta.from), Value: tx.Value().String(), GasUsed: r.GasUsed,
				GasPrice: price.String(), Failed: r.Status == types.ReceiptStatusFailed,
				PreByzantiumReceipt: len(r.PostState) > 0, Protected: tx.Protected(),
			}
			if tx.To() != nil {
				tf.To = addrs.add(*tx.To())
			} else {
				tf.Created = addrs.add(meta.created)
			}
			out.Txs = append(out.Txs, tf)
			bf.Txs = append(bf.Txs, tf.Hash)
		}
		bf.Fees, bf.BurntFees = fees.String(), burnt.String()
		for _, w := range blk.Withdrawals() {
			bf.Withdrawals = append(bf.Withdrawals, withdrawalFact{
				Index: w.Index, Validator: w.Validator, Address: addrs.add(w.Address), AmountGwei: w.Amount,
			})
			wdRecipients.add(w.Address)
		}
		if n == shanghaiBlock && out.FirstShanghaiBlock == 0 {
			out.FirstShanghaiBlock = n
		}
		if n == cancunBlock && out.FirstCancunBlock == 0 {
			out.FirstCancunBlock = n
		}
		out.Blocks = append(out.Blocks, bf)
		g.categorize(bf)
	}

	contracts := map[string]string{}
	for _, name := range g.contractOrder {
		contracts[name] = addrs.add(g.contracts[name])
	}
	out.Addresses = addressFacts{
		EOAs: eoas, Miners: miners.list, UncleMiners: uncleMiners.list, Fresh: fresh,
		Contracts: contracts, WithdrawalRecipients: wdRecipients.list,
		System: map[string]string{"beacon_roots": params.BeaconRootsAddress.Hex()},
	}
	all := append([]string(nil), addrs.list...)
	sort.Strings(all)
	out.Addresses.All = all
	return out
}

// categorize adds the block-level categories.
func (g *generator) categorize(bf blockFact) {
	e := entry{Block: bf.Number}
	switch {
	case len(bf.Uncles) == 1:
		g.note("uncle_blocks", e)
		g.note("one_uncle_blocks", e)
	case len(bf.Uncles) == 2:
		g.note("uncle_blocks", e)
		g.note("two_uncle_blocks", e)
	}
	if len(bf.Txs) == 0 {
		g.note("empty_blocks", e)
	}
	if len(bf.Txs) > 1 {
		g.note("multi_tx_blocks", e)
	}
	if len(bf.Withdrawals) > 0 {
		g.note("withdrawal_blocks", e)
	}
}

// addrSet keeps addresses in first-seen order.
type addrSet struct {
	seen map[common.Address]bool
	list []string
}

func newAddrSet() *addrSet { return &addrSet{seen: map[common.Address]bool{}, list: []string{}} }

func (s *addrSet) add(a common.Address) string {
	if !s.seen[a] {
		s.seen[a] = true
		s.list = append(s.list, a.Hex())
	}
	return a.Hex()
}
