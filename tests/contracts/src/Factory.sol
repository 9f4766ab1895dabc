// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Child} from "./Child.sol";

/// @title Factory
/// @notice Deploys Child contracts with value via CREATE and CREATE2 (internal create frames
/// that move ETH). Any msg.value above `v` stays in the factory.
contract Factory {
    event Created(address child, uint256 value);

    receive() external payable {}

    function create(uint256 v) external payable returns (address) {
        address child = address(new Child{value: v}());
        emit Created(child, v);
        return child;
    }

    function create2(bytes32 salt, uint256 v) external payable returns (address) {
        address child = address(new Child{salt: salt, value: v}());
        emit Created(child, v);
        return child;
    }
}
