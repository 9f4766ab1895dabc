package main

import "github.com/ethereum/go-ethereum/common"

// Hand-assembled EVM code. Old eras cannot run modern compiler output (no PUSH0 before
// Shanghai, no REVERT before Byzantium, no CREATE2 before Constantinople), so every
// snippet here uses only Frontier opcodes unless its comment says otherwise.

// deployCode wraps runtime code in init code that returns it:
//
//	PUSH1 len; DUP1; PUSH1 11; PUSH1 0; CODECOPY; PUSH1 0; RETURN; <runtime>
func deployCode(runtime []byte) []byte {
	if len(runtime) > 0xff {
		panic("runtime code too long for the PUSH1 deployer")
	}
	prefix := []byte{0x60, byte(len(runtime)), 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3}
	return append(prefix, runtime...)
}

// forwarderCode calls the address in calldata word 0 with the whole callvalue and
// calldata[32:] as input, ignoring the result (so an inner failure leaves the value here).
// Gas passed is GAS-40000: pre-EIP150 a call asking for more gas than is left fails, and
// 40000 covers the value-transfer and new-account surcharges.
//
//	PUSH1 32; CALLDATASIZE; SUB; DUP1; PUSH1 32; PUSH1 0; CALLDATACOPY   ; mem = cd[32:]
//	PUSH1 0; PUSH1 0; DUP3; PUSH1 0; CALLVALUE; PUSH1 0; CALLDATALOAD     ; out, in, value, to
//	PUSH2 40000; GAS; SUB; CALL; STOP
var forwarderCode = []byte{
	0x60, 0x20, 0x36, 0x03, 0x80, 0x60, 0x20, 0x60, 0x00, 0x37,
	0x60, 0x00, 0x60, 0x00, 0x82, 0x60, 0x00, 0x34, 0x60, 0x00, 0x35,
	0x61, 0x9c, 0x40, 0x5a, 0x03, 0xf1, 0x00,
}

// destructibleCode accepts plain payments; with calldata it selfdestructs to the address
// in calldata word 0 (pass its own address to destroy to itself).
//
//	CALLDATASIZE; ISZERO; PUSH1 9; JUMPI; PUSH1 0; CALLDATALOAD; SELFDESTRUCT; JUMPDEST; STOP
var destructibleCode = []byte{0x36, 0x15, 0x60, 0x09, 0x57, 0x60, 0x00, 0x35, 0xff, 0x5b, 0x00}

// invalidCode is the designated INVALID opcode: every call fails and burns all its gas
// (the pre-Byzantium way to fail, as REVERT does not exist yet).
var invalidCode = []byte{0xfe}

// revertCode reverts with no data (Byzantium+).
//
//	PUSH1 0; PUSH1 0; REVERT
var revertCode = []byte{0x60, 0x00, 0x60, 0x00, 0xfd}

// selfDestructToSelfInit is init code that destroys the new contract to itself: deployed
// with value under Cancun (EIP-6780, created in the same tx) the value is burnt.
//
//	ADDRESS; SELFDESTRUCT
var selfDestructToSelfInit = []byte{0x30, 0xff}

// selfDestructToInit is init code that destroys the new contract, sending its value to to.
//
//	PUSH20 to; SELFDESTRUCT
func selfDestructToInit(to common.Address) []byte {
	return append(append([]byte{0x73}, to.Bytes()...), 0xff)
}

// factoryCode CREATEs a child with the callvalue whose init code (CALLER; SELFDESTRUCT)
// returns the value to the factory, then pays the destroyed child the callvalue again.
// Under Cancun the child is deleted at the end of the transaction, so that payment is burnt.
//
//	PUSH2 0x33ff; PUSH1 0; MSTORE                    ; mem[30:32] = CALLER SELFDESTRUCT
//	PUSH1 2; PUSH1 30; CALLVALUE; CREATE            ; child
//	PUSH1 0; PUSH1 0; PUSH1 0; PUSH1 0; CALLVALUE; DUP6; GAS; CALL; STOP
var factoryCode = []byte{
	0x61, 0x33, 0xff, 0x60, 0x00, 0x52,
	0x60, 0x02, 0x60, 0x1e, 0x34, 0xf0,
	0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x34, 0x85, 0x5a, 0xf1, 0x00,
}

// words left-pads addresses into 32-byte calldata words.
func words(addrs ...common.Address) []byte {
	out := make([]byte, 0, 32*len(addrs))
	for _, a := range addrs {
		out = append(out, common.LeftPadBytes(a.Bytes(), 32)...)
	}
	return out
}
