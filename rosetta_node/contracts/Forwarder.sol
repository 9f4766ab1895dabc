// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Forwarder
/// @notice Moves ETH through internal calls so tests see value transfers that only a call
/// tracer reveals: nested calls, reverted inner calls, fan-out and whole-tx reverts.
contract Forwarder {
    receive() external payable {}

    /// Sends msg.value to `to`; reverts if the inner call fails.
    function forward(address payable to) external payable {
        _send(to, msg.value);
    }

    /// Sends msg.value through every Forwarder in `hops` in turn, then to `to`, so the value
    /// moves through one nested internal call per hop.
    function forwardChain(address[] calldata hops, address payable to) external payable {
        if (hops.length == 0) {
            _send(to, msg.value);
        } else {
            Forwarder(payable(hops[0])).forwardChain{value: msg.value}(hops[1:], to);
        }
    }

    /// Sends msg.value to `to` but tolerates failure: a reverted inner value transfer inside a
    /// successful transaction. On failure the value stays in this contract.
    function tryForward(address payable to) external payable returns (bool ok) {
        (ok, ) = to.call{value: msg.value}("");
    }

    /// Splits msg.value equally between `tos`; the remainder stays in this contract.
    function forwardMany(address payable[] calldata tos) external payable {
        require(tos.length > 0, "Forwarder: no recipients");
        uint256 share = msg.value / tos.length;
        for (uint256 i = 0; i < tos.length; i++) {
            _send(tos[i], share);
        }
    }

    /// Forwards msg.value, then reverts the whole transaction.
    function forwardThenRevert(address payable to) external payable {
        _send(to, msg.value);
        revert("Forwarder: forwardThenRevert");
    }

    /// Sends this contract's whole balance to `to`.
    function sweep(address payable to) external {
        _send(to, address(this).balance);
    }

    function _send(address payable to, uint256 amount) private {
        (bool ok, ) = to.call{value: amount}("");
        require(ok, "Forwarder: send failed");
    }
}
