//go:build tools

// Package tools pins go-ethereum: geth for the tests and conformance runs, and the library
// that the pre-merge chain generator (./premerge) builds its chain with.
package tools

import _ "github.com/ethereum/go-ethereum/cmd/geth"
