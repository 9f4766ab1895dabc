// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {
    SelfDestructSelfInConstructor,
    SelfDestructToInConstructor
} from "./SelfDestructInConstructor.sol";

/// @title SelfDestructChild
/// @notice Created by SelfDestructFactory; destroyed on demand, and keeps accepting ETH (its code
/// runs until the end of the transaction that destroyed it).
contract SelfDestructChild {
    constructor() payable {}

    receive() external payable {}

    function destroy(address payable to) external {
        selfdestruct(to);
    }
}

/// @title SelfDestructFactory
/// @notice Creates and destroys children within one transaction (EIP-6780: such accounts are
/// deleted at the end of the transaction, burning whatever they hold then), including ETH sent to
/// a child after it self-destructed, and the same inside a frame that reverts (nothing happens).
/// `to == address(0)` means "the child itself" everywhere. msg.value funds each call; any excess
/// stays in the factory.
contract SelfDestructFactory {
    event Created(address child, uint256 value);
    event RevertedChild(address child, uint256 value);

    error ChildGone(address child);

    receive() external payable {}

    /// @notice Child with `v`, destroyed to `to`; then `late` sent straight to the dead child and
    /// `nested` through this.relay (factory -> factory -> child).
    function createDestroyAndFund(address payable to, uint256 v, uint256 late, uint256 nested)
        external
        payable
        returns (address)
    {
        SelfDestructChild child = new SelfDestructChild{value: v}();
        emit Created(address(child), v);
        child.destroy(to == address(0) ? payable(address(child)) : to);
        _fundDead(payable(address(child)), late, nested);
        return address(child);
    }

    /// @notice Child whose constructor self-destructs (to itself or `to`), then `late` and
    /// `nested` sent to its (code-less) address.
    function createSelfDestructing(address payable to, uint256 v, uint256 late, uint256 nested)
        external
        payable
        returns (address child)
    {
        if (to == address(0)) {
            child = address(new SelfDestructSelfInConstructor{value: v}());
        } else {
            child = address(new SelfDestructToInConstructor{value: v}(to));
        }
        emit Created(child, v);
        _fundDead(payable(child), late, nested);
    }

    /// @notice Children A (`va`) and B (`vb`): B destroyed to itself, then A destroyed to B, so
    /// A's balance lands in an account that is deleted at the end of the transaction.
    function destroyIntoDead(uint256 va, uint256 vb) external payable {
        SelfDestructChild a = new SelfDestructChild{value: va}();
        SelfDestructChild b = new SelfDestructChild{value: vb}();
        emit Created(address(a), va);
        emit Created(address(b), vb);
        b.destroy(payable(address(b)));
        a.destroy(payable(address(b)));
    }

    /// @notice Runs createDestroyThenRevert with msg.value in a nested frame that reverts, and
    /// catches it: the child's creation, destruction and value all roll back; the factory keeps
    /// msg.value.
    function createDestroyInRevertedFrame(address payable to) external payable {
        try this.createDestroyThenRevert{value: msg.value}(to) {
            revert("inner frame did not revert");
        } catch (bytes memory reason) {
            require(reason.length == 36 && bytes4(reason) == ChildGone.selector, "other revert");
            address child;
            assembly {
                child := mload(add(reason, 36))
            }
            emit RevertedChild(child, msg.value);
        }
    }

    /// @notice Child with msg.value, destroyed to `to`, then always reverts with its address.
    function createDestroyThenRevert(address payable to) external payable {
        SelfDestructChild child = new SelfDestructChild{value: msg.value}();
        child.destroy(to == address(0) ? payable(address(child)) : to);
        revert ChildGone(address(child));
    }

    /// @notice Forwards msg.value to `to`: a nested value frame.
    function relay(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        require(ok, "relay failed");
    }

    function _fundDead(address payable child, uint256 late, uint256 nested) private {
        if (late > 0) {
            (bool ok, ) = child.call{value: late}("");
            require(ok, "late send failed");
        }
        if (nested > 0) this.relay{value: nested}(child);
    }
}
