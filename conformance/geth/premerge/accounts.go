package main

import (
	"crypto/ecdsa"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Keys and addresses come from fixed seeds so that two runs produce the same chain.

func seedKey(seed string) *ecdsa.PrivateKey {
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte("rosetta-node/premerge/" + seed)))
	if err != nil {
		panic(err)
	}
	return key
}

// seedAddress is a keyless address (a miner, or a fresh recipient nobody can spend from).
func seedAddress(seed string) common.Address {
	return common.BytesToAddress(crypto.Keccak256([]byte("rosetta-node/premerge/addr/" + seed))[12:])
}

type eoa struct {
	key  *ecdsa.PrivateKey
	addr common.Address
}

func newEOAs(n int) []eoa {
	out := make([]eoa, n)
	for i := range out {
		key := seedKey(fmt.Sprintf("eoa-%d", i))
		out[i] = eoa{key: key, addr: crypto.PubkeyToAddress(key.PublicKey)}
	}
	return out
}

func seedAddresses(prefix string, n int) []common.Address {
	out := make([]common.Address, n)
	for i := range out {
		out[i] = seedAddress(fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}
