//go:build tools

// Package tools pins the rosetta-cli (mesh-cli) version used by conformance/run.
// Build it with: go install github.com/coinbase/rosetta-cli (from this directory).
// `go install github.com/coinbase/rosetta-cli@v0.10.4` cannot be used: the module proxy
// refuses the deprecation lookup (@v/list) that an @version install performs.
package tools

import _ "github.com/coinbase/rosetta-cli"
