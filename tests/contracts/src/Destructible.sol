// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Destructible
/// @notice SELFDESTRUCT that sends the balance away. Under Cancun (EIP-6780) the code is only
/// deleted when created in the same transaction, so this contract survives `destroy` and can
/// be funded and destroyed again.
contract Destructible {
    constructor() payable {}

    receive() external payable {}

    function destroy(address payable to) external {
        selfdestruct(to);
    }
}
