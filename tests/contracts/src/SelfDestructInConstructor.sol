// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title SelfDestructSelfInConstructor
/// @notice Created with value and destroyed to itself in the same transaction (its constructor):
/// under Cancun (EIP-6780) the account is deleted at the end of the transaction, so the value is
/// burnt. The deployed code is empty (the constructor halts in SELFDESTRUCT).
contract SelfDestructSelfInConstructor {
    constructor() payable {
        selfdestruct(payable(address(this)));
    }
}

/// @title SelfDestructToInConstructor
/// @notice Created with value and destroyed to `to` in its constructor: the value moves to `to`,
/// the account is deleted at the end of the transaction (nothing burnt unless more ETH arrives).
contract SelfDestructToInConstructor {
    constructor(address payable to) payable {
        selfdestruct(to);
    }
}
