package main

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/consensus"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
)

type txKind int

const (
	txAuto        txKind = iota // by era: legacy, then access-list (Berlin), then dynamic (London)
	txLegacy                    // EIP-155 protected once EIP-155 is active
	txUnprotected               // legacy without chain id, still valid in blocks after EIP-155
	txAccessList
	txDynamic
)

var (
	gwei  = big.NewInt(params.GWei)
	milli = big.NewInt(params.Ether / 1000)
)

// eth returns thousandths of an ether in wei.
func eth(thousandths int64) *big.Int { return new(big.Int).Mul(big.NewInt(thousandths), milli) }

type generator struct {
	config *params.ChainConfig
	engine consensus.Engine
	db     ethdb.Database

	eoas        []eoa
	miners      []common.Address // keyless miners
	uncleMiners []common.Address // keyless uncle miners (eoas[2] mines uncles too)
	fresh       []common.Address // keyless addresses that only ever receive
	coinbases   []common.Address // rotation: block n is mined by coinbases[n%len]
	daoFunded   []common.Address
	daoAlloc    map[common.Address]*big.Int

	contracts     map[string]common.Address
	contractOrder []string
	categories    map[string][]entry
	txMeta        map[common.Hash]txMeta
	uncleInfo     map[uint64][]uncleFact
}

type txMeta struct {
	from    common.Address
	created common.Address
}

func newGenerator() *generator {
	g := &generator{
		config:      chainConfig(),
		eoas:        newEOAs(8),
		miners:      seedAddresses("miner", 3),
		uncleMiners: seedAddresses("uncle-miner", 4),
		fresh:       seedAddresses("fresh", 16),
		contracts:   map[string]common.Address{},
		categories:  map[string][]entry{},
		txMeta:      map[common.Hash]txMeta{},
		uncleInfo:   map[uint64][]uncleFact{},
		daoAlloc:    map[common.Address]*big.Int{},
	}
	// Two of the five coinbases are EOAs that also send and receive transactions.
	g.coinbases = []common.Address{g.miners[0], g.miners[1], g.eoas[0].addr, g.miners[2], g.eoas[1].addr}
	// Every drained account holds a distinct balance, so a node whose list misses or adds
	// one account fails reconciliation at the fork block.
	for i, addr := range params.DAODrainList() {
		g.daoFunded = append(g.daoFunded, addr)
		g.daoAlloc[addr] = new(big.Int).Add(eth(int64(1500+10*i)), big.NewInt(int64(i+1)))
	}
	return g
}

func (g *generator) genesis() *core.Genesis {
	alloc := types.GenesisAlloc{}
	for _, e := range g.eoas {
		alloc[e.addr] = types.Account{Balance: eth(1_000_000)}
	}
	for addr, bal := range g.daoAlloc {
		alloc[addr] = types.Account{Balance: bal}
	}
	// The refund contract holds some ETH of its own before the fork adds the DAO's.
	alloc[params.DAORefundContract] = types.Account{Balance: eth(250)}
	// EIP-4788 beacon roots contract, present before Cancun as on mainnet.
	alloc[params.BeaconRootsAddress] = types.Account{Nonce: 1, Code: params.BeaconRootsCode, Balance: new(big.Int)}
	return &core.Genesis{
		Config:     g.config,
		Nonce:      0x42,
		Timestamp:  genesisTime,
		ExtraData:  []byte("rosetta-node premerge"),
		GasLimit:   genesisGasLimit,
		Difficulty: big.NewInt(genesisDifficulty),
		Alloc:      alloc,
	}
}

func (g *generator) coinbase(n uint64) common.Address { return g.coinbases[n%uint64(len(g.coinbases))] }

func (g *generator) note(category string, e entry) {
	g.categories[category] = append(g.categories[category], e)
}

func (g *generator) addContract(name string, addr common.Address) {
	if _, ok := g.contracts[name]; ok {
		panic("duplicate contract name " + name)
	}
	g.contracts[name] = addr
	g.contractOrder = append(g.contractOrder, name)
}

// send signs and adds a transaction of the given kind from an EOA; to == nil creates.
func (g *generator) send(b *core.BlockGen, kind txKind, from eoa, to *common.Address, value *big.Int, data []byte, gas uint64) *types.Transaction {
	n := b.Number().Uint64()
	if kind == txAuto {
		switch {
		case n >= londonBlock:
			kind = txDynamic
		case n >= berlinBlock:
			kind = txAccessList
		default:
			kind = txLegacy
		}
	}
	// Legacy gas prices vary per block before London; afterwards they stay above the
	// base fee (1 gwei at London, falling in these near-empty blocks).
	gasPrice := new(big.Int).Mul(big.NewInt(int64(1+n%3)), gwei)
	if n >= londonBlock {
		gasPrice = new(big.Int).Mul(big.NewInt(3), gwei)
	}
	nonce := b.TxNonce(from.addr)
	var txdata types.TxData
	switch kind {
	case txLegacy, txUnprotected:
		txdata = &types.LegacyTx{Nonce: nonce, GasPrice: gasPrice, Gas: gas, To: to, Value: value, Data: data}
	case txAccessList:
		var al types.AccessList
		if to != nil {
			al = types.AccessList{{Address: *to, StorageKeys: []common.Hash{{}}}}
			gas += params.TxAccessListAddressGas + params.TxAccessListStorageKeyGas
		}
		txdata = &types.AccessListTx{
			ChainID: g.config.ChainID, Nonce: nonce, GasPrice: gasPrice, Gas: gas,
			To: to, Value: value, Data: data, AccessList: al,
		}
	case txDynamic:
		txdata = &types.DynamicFeeTx{
			ChainID: g.config.ChainID, Nonce: nonce,
			GasTipCap: new(big.Int).Mul(big.NewInt(int64(1+n%2)), gwei),
			GasFeeCap: new(big.Int).Mul(big.NewInt(5), gwei),
			Gas:       gas, To: to, Value: value, Data: data,
		}
	}
	signer := b.Signer()
	if kind == txUnprotected {
		signer = types.HomesteadSigner{}
	}
	tx := types.MustSignNewTx(from.key, signer, txdata)
	meta := txMeta{from: from.addr}
	if to == nil {
		meta.created = crypto.CreateAddress(from.addr, nonce)
	}
	g.txMeta[tx.Hash()] = meta
	b.AddTx(tx)
	return tx
}

func (g *generator) transfer(b *core.BlockGen, from eoa, to common.Address, value *big.Int) *types.Transaction {
	return g.send(b, txAuto, from, &to, value, nil, params.TxGas)
}

func (g *generator) call(b *core.BlockGen, from eoa, to common.Address, value *big.Int, data []byte) *types.Transaction {
	return g.send(b, txAuto, from, &to, value, data, 300_000)
}

// create deploys init code with value and returns the tx and the new contract's address.
func (g *generator) create(b *core.BlockGen, from eoa, value *big.Int, init []byte) (*types.Transaction, common.Address) {
	tx := g.send(b, txAuto, from, nil, value, init, 300_000)
	return tx, g.txMeta[tx.Hash()].created
}

// deploy creates a named contract with the given runtime code.
func (g *generator) deploy(b *core.BlockGen, name string, from eoa, value *big.Int, runtime []byte) common.Address {
	tx, addr := g.create(b, from, value, deployCode(runtime))
	g.addContract(name, addr)
	if value.Sign() > 0 {
		g.note("create_with_value", txEntry(b, tx, entry{Contract: hex(addr), Value: value.String()}))
	}
	return addr
}

// uncle adds, as an uncle of the block being built, a side-chain block at height number
// mined by miner. The side block is generated on the real ancestor, so it is a valid
// header (DAO extra-data included); AddUncle then sets its time and difficulty.
func (g *generator) uncle(b *core.BlockGen, number uint64, miner common.Address) {
	parent := b.PrevBlock(int(number) - 2) // PrevBlock(i) is block i+1
	side, _ := core.GenerateChain(g.config, parent, g.engine, g.db, 1, func(_ int, sb *core.BlockGen) {
		sb.SetCoinbase(miner)
		if number < daoForkBlock || number >= daoForkBlock+params.DAOForkExtraRange.Uint64() {
			sb.SetExtra([]byte("uncle"))
		}
	})
	h := side[0].Header()
	b.AddUncle(h)
	n := b.Number().Uint64()
	reward := blockReward(n)
	uncleReward := new(big.Int).Mul(reward, new(big.Int).SetUint64(number+8-n))
	uncleReward.Div(uncleReward, big.NewInt(8))
	g.uncleInfo[n] = append(g.uncleInfo[n], uncleFact{
		Hash: h.Hash().Hex(), Number: number, Distance: n - number,
		Miner: hex(miner), Reward: uncleReward.String(),
	})
}

func (g *generator) withdraw(b *core.BlockGen, validator uint64, to common.Address, gweiAmount uint64) {
	b.AddWithdrawal(&types.Withdrawal{Validator: validator, Address: to, Amount: gweiAmount})
}

// blockReward is the static PoW reward of a block at height n (0 after the merge).
func blockReward(n uint64) *big.Int {
	switch {
	case n >= mergeBlock:
		return new(big.Int)
	case n >= constantinopleBlock:
		return eth(2000)
	case n >= byzantiumBlock:
		return eth(3000)
	default:
		return eth(5000)
	}
}

func txEntry(b *core.BlockGen, tx *types.Transaction, e entry) entry {
	e.Block = b.Number().Uint64()
	e.Tx = tx.Hash().Hex()
	return e
}

func hex(a common.Address) string { return a.Hex() }
