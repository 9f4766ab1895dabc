//go:build tools

// Package tools pins op-geth (the OP Stack's execution client) for the OP Stack tests: its
// go.mod module path is go-ethereum's, so go.mod requires go-ethereum and replaces it with
// op-geth, the way the Optimism monorepo pins it.
package tools

import _ "github.com/ethereum/go-ethereum/cmd/geth"
