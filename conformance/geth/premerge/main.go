// Command premerge writes a small, deterministic, mainnet-like pre-merge chain for tests:
// PoW (ethash) from Frontier through the DAO fork, Byzantium, Constantinople, London, the
// merge, Shanghai and Cancun, with uncles, DAO refunds, pre-Byzantium receipts and
// SELFDESTRUCT cases, so that a real geth can import it and serve it as an archive node.
//
// Usage: premerge -out DIR. It writes DIR/genesis.json (for geth init), DIR/chain.rlp
// (blocks 1..N for geth import), DIR/sentinel-1.rlp and sentinel-2.rlp (empty blocks N+1 and
// N+2, imported later by a conformance run to end each rosetta-cli check) and DIR/facts.json
// (what the chain contains).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"

	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/triedb"
)

// Fork schedule (block numbers unless noted). chain_makers spaces blocks 10s apart.
const (
	chainID             = 4242
	homesteadBlock      = 5
	daoForkBlock        = 8
	eip150Block         = 12
	eip155Block         = 14 // EIP-158 too
	byzantiumBlock      = 20
	constantinopleBlock = 30 // Petersburg too
	istanbulBlock       = 35 // Muir Glacier too
	berlinBlock         = 40
	londonBlock         = 45
	arrowGlacierBlock   = 50 // Gray Glacier too
	mergeBlock          = 60 // first PoS block; TTD is the total difficulty of block 59
	shanghaiBlock       = 65 // shanghaiTime is this block's timestamp
	cancunBlock         = 75 // cancunTime is this block's timestamp
	lastBlock           = 90
	sentinels           = 2 // empty blocks after lastBlock, one per rosetta-cli check:data pass

	genesisTime       = 1_600_000_000
	blockInterval     = 10
	genesisDifficulty = 131_072
	genesisGasLimit   = 8_000_000
)

func blockTime(n uint64) uint64 { return genesisTime + blockInterval*n }

func chainConfig() *params.ChainConfig {
	b := func(n int64) *big.Int { return big.NewInt(n) }
	shanghai, cancun := blockTime(shanghaiBlock), blockTime(cancunBlock)
	return &params.ChainConfig{
		ChainID:             b(chainID),
		HomesteadBlock:      b(homesteadBlock),
		DAOForkBlock:        b(daoForkBlock),
		DAOForkSupport:      true,
		EIP150Block:         b(eip150Block),
		EIP155Block:         b(eip155Block),
		EIP158Block:         b(eip155Block),
		ByzantiumBlock:      b(byzantiumBlock),
		ConstantinopleBlock: b(constantinopleBlock),
		PetersburgBlock:     b(constantinopleBlock),
		IstanbulBlock:       b(istanbulBlock),
		MuirGlacierBlock:    b(istanbulBlock),
		BerlinBlock:         b(berlinBlock),
		LondonBlock:         b(londonBlock),
		ArrowGlacierBlock:   b(arrowGlacierBlock),
		GrayGlacierBlock:    b(arrowGlacierBlock),
		ShanghaiTime:        &shanghai,
		CancunTime:          &cancun,
		// A placeholder (0 would mean merged at genesis) replaced by the real terminal
		// total difficulty once the chain is generated; the generator switches to PoS
		// by difficulty (SetPoS), which is also how geth tells PoS blocks on import.
		TerminalTotalDifficulty: big.NewInt(math.MaxInt64),
		Ethash:                  &params.EthashConfig{},
		BlobScheduleConfig:      &params.BlobScheduleConfig{Cancun: params.DefaultCancunBlobConfig},
	}
}

func main() {
	out := flag.String("out", "", "directory to write genesis.json, chain.rlp and facts.json into")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: premerge -out DIR")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "premerge:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	g := newGenerator()
	genesis := g.genesis()

	db := rawdb.NewMemoryDatabase()
	tdb := triedb.NewDatabase(db, triedb.HashDefaults)
	genesisBlock := genesis.MustCommit(db, tdb)
	tdb.Close()

	// geth wraps ethash in the beacon engine and never checks PoW seals (ethash faker),
	// so the same engine generates the chain here.
	g.engine = beacon.New(ethash.NewFaker())
	g.db = db
	// Empty sentinel blocks after the chain's last (sentinel-1.rlp, ...), imported into a
	// running geth only when a conformance run asks for them (admin_importChain).
	blocks, receipts := core.GenerateChain(g.config, genesisBlock, g.engine, db, lastBlock+sentinels, g.block)
	sentinel := blocks[lastBlock:]
	blocks, receipts = blocks[:lastBlock], receipts[:lastBlock]

	// The terminal PoW block is the last one with difficulty; TTD is its total difficulty.
	td := new(big.Int).Set(genesisBlock.Difficulty())
	for _, blk := range blocks {
		if blk.Difficulty().Sign() == 0 {
			break
		}
		td.Add(td, blk.Difficulty())
	}
	g.config.TerminalTotalDifficulty = td

	f := g.finish(genesisBlock, blocks, receipts)
	if err := writeJSON(filepath.Join(out, "genesis.json"), genesis); err != nil {
		return err
	}
	if err := writeChain(filepath.Join(out, "chain.rlp"), blocks); err != nil {
		return err
	}
	for i, blk := range sentinel {
		name := fmt.Sprintf("sentinel-%d.rlp", i+1)
		if err := writeChain(filepath.Join(out, name), []*types.Block{blk}); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(out, "facts.json"), f)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// writeChain writes blocks as concatenated RLP, the format geth export writes and geth
// import reads (header, txs, uncles, withdrawals).
func writeChain(path string, blocks []*types.Block) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(fh)
	for _, blk := range blocks {
		if err := rlp.Encode(w, blk); err != nil {
			fh.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}
