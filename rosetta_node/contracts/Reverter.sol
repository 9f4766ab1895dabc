// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Reverter
/// @notice Refuses every ETH transfer, so a value transfer to it always fails.
contract Reverter {
    receive() external payable {
        revert("no");
    }
}
