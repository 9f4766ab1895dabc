// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Child
/// @notice Created by Factory (CREATE / CREATE2) with value; accepts ETH afterwards.
contract Child {
    constructor() payable {}

    receive() external payable {}
}
