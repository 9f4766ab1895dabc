// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title SelfDestructOld
/// @notice A contract destroyed in a later transaction than its creation: under Cancun
/// (EIP-6780) SELFDESTRUCT only sends the balance (to itself: nothing changes) and the code stays.
contract SelfDestructOld {
    constructor() payable {}

    receive() external payable {}

    function destroy(address payable to) external {
        selfdestruct(to);
    }

    /// @notice Receives msg.value, then destroys to `to` in the same call.
    function fundAndDestroy(address payable to) external payable {
        selfdestruct(to);
    }
}
