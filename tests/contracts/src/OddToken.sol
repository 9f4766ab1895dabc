// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @notice A balanceOf that misbehaves on purpose, chosen by the account's last byte, to test
/// the node's one-call balance reader (rosetta_node/contracts/BalanceReader.sol) against what
/// one eth_call per token answers:
///   0x01 reverts; 0x02 spends ~2.5M gas (more than the reader allows one call) then answers 42;
///   0x03 returns two words; 0x04 returns nothing; 0x06 never returns (runs out of whatever gas
///   it is given); any other: 3 x the address as a number.
contract OddToken {
    function balanceOf(address account) external view returns (uint256) {
        uint256 mode = uint256(uint160(account)) & 0xff;
        if (mode == 1) revert("OddToken: no balance for you");
        if (mode == 2) {
            uint256 acc = uint256(uint160(account));
            for (uint256 i = 0; i < 20_000; i++) {
                acc = uint256(keccak256(abi.encode(acc)));
            }
            return acc == 0 ? 41 : 42; // (never 0: keeps the loop's work)
        }
        if (mode == 6) {
            uint256 spin = uint256(uint160(account));
            while (spin != 0) {
                spin = uint256(keccak256(abi.encode(spin))) | 1;
            }
            return spin;
        }
        if (mode == 3) {
            assembly {
                mstore(0, 7)
                mstore(32, 8)
                return(0, 64)
            }
        }
        if (mode == 4) {
            assembly {
                return(0, 0)
            }
        }
        return uint256(uint160(account)) * 3;
    }
}
