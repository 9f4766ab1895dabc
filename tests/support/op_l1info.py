"""The OP Stack's L1-attributes deposit and user deposits, encoded as op-node encodes them.

Every L2 block starts with the L1-attributes deposit: the depositor account calls the L1Block
predeploy with the L1 origin and the fee parameters op-geth then charges with. Its calldata
format follows the fork of the block (op-geth core/types/rollup_cost.go):

- Ecotone ``setL1BlockValuesEcotone`` (164 bytes);
- Isthmus ``setL1BlockValuesIsthmus`` (176: the operator fee scalar and constant added); the
  block that activates Jovian still carries this one;
- Jovian ``setL1BlockValuesJovian`` (178: the DA footprint gas scalar added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp
from eth_utils import keccak

# Predeploys and system accounts (OP Stack specs, op-geth params/protocol_params.go).
SEQUENCER_FEE_VAULT = "0x4200000000000000000000000000000000000011"
L2_TO_L1_MESSAGE_PASSER = "0x4200000000000000000000000000000000000016"
L1_BLOCK = "0x4200000000000000000000000000000000000015"
BASE_FEE_VAULT = "0x4200000000000000000000000000000000000019"
L1_FEE_VAULT = "0x420000000000000000000000000000000000001A"
OPERATOR_FEE_VAULT = "0x420000000000000000000000000000000000001B"
DEPOSITOR = "0xDeaDDEaDDeAdDeAdDEAdDEaddeAddEAdDEAd0001"  # sender of the L1-attributes deposit
# Selectors of the L1Block setters (op-geth core/types/rollup_cost.go).
ECOTONE_SELECTOR = bytes.fromhex("440a5e20")  # setL1BlockValuesEcotone()
ISTHMUS_SELECTOR = bytes.fromhex("098999be")  # setL1BlockValuesIsthmus()
JOVIAN_SELECTOR = bytes.fromhex("3db6be2b")  # setL1BlockValuesJovian()
ECOTONE, ISTHMUS, JOVIAN = "ecotone", "isthmus", "jovian"  # the calldata formats
L1_INFO_GAS = 1_000_000  # op-node's RegolithSystemTxGas
DEPOSIT_TX_TYPE = 0x7E


@dataclass(frozen=True)
class L1Origin:
    """What the L1-attributes deposit tells the L2 about its L1 origin and the fee parameters.

    Defaults: OP mainnet's Ecotone scalars and a non-zero operator fee, so every fee op-geth
    charges (L1 data fee, operator fee) is non-zero.
    """

    number: int
    timestamp: int
    hash: bytes
    base_fee: int = 7 * 10**9
    blob_base_fee: int = 3 * 10**9
    base_fee_scalar: int = 5227
    blob_base_fee_scalar: int = 1_014_213
    sequence_number: int = 0
    batcher_hash: bytes = bytes(12) + bytes.fromhex("6887246668a3b87f54deb3b94ba47a6f63f32985")
    operator_fee_scalar: int = 1_500  # Isthmus: gasUsed * scalar / 1e6 + constant;
    operator_fee_constant: int = 10**9  # Jovian: gasUsed * scalar * 100 + constant
    da_footprint_gas_scalar: int = 400  # Jovian; the OP Stack's default

    @staticmethod
    def made_up(l2_number: int, timestamp: int, **fields: Any) -> L1Origin:
        """A fictitious L1 block for L2 block ``l2_number`` (one L1 origin per L2 block)."""
        number = 1_000 + l2_number
        hash_ = keccak(b"rosetta-node L1 block" + number.to_bytes(8, "big"))
        return L1Origin(number=number, timestamp=max(timestamp - 12, 0), hash=hash_, **fields)


def l1_info_calldata(origin: L1Origin, fmt: str = ISTHMUS) -> bytes:
    """The L1-attributes calldata in format ``fmt`` (see the module docstring), packed."""
    selector = {ECOTONE: ECOTONE_SELECTOR, ISTHMUS: ISTHMUS_SELECTOR, JOVIAN: JOVIAN_SELECTOR}
    data = (
        selector[fmt]
        + origin.base_fee_scalar.to_bytes(4, "big")
        + origin.blob_base_fee_scalar.to_bytes(4, "big")
        + origin.sequence_number.to_bytes(8, "big")
        + origin.timestamp.to_bytes(8, "big")
        + origin.number.to_bytes(8, "big")
        + origin.base_fee.to_bytes(32, "big")
        + origin.blob_base_fee.to_bytes(32, "big")
        + origin.hash
        + origin.batcher_hash
    )
    if fmt != ECOTONE:
        data += origin.operator_fee_scalar.to_bytes(4, "big")
        data += origin.operator_fee_constant.to_bytes(8, "big")
    if fmt == JOVIAN:
        data += origin.da_footprint_gas_scalar.to_bytes(2, "big")
    return data


def source_hash(domain: int, l1_hash: bytes, index: int) -> bytes:
    """op-node's deposit source hash: keccak(domain ‖ keccak(L1 block hash ‖ index))."""
    return keccak(domain.to_bytes(32, "big") + keccak(l1_hash + index.to_bytes(32, "big")))


@dataclass(frozen=True)
class Deposit:
    """A deposit transaction (type 0x7e). ``to=None`` creates a contract; ``mint=None`` mints
    nothing; ``source_hash=None``: a user deposit's, from the block's L1 origin and position."""

    sender: str
    to: str | None
    mint: int | None = None
    value: int = 0
    gas: int = 100_000
    data: bytes = b""
    is_system: bool = False
    source_hash: bytes | None = None

    def raw(self) -> bytes:
        """``0x7e ‖ rlp([sourceHash, from, to, mint, value, gas, isSystemTx, data])``."""
        if self.source_hash is None:
            raise ValueError("a deposit needs its source hash to be encoded")
        fields = [
            self.source_hash,
            bytes.fromhex(self.sender[2:]),
            b"" if self.to is None else bytes.fromhex(self.to[2:]),
            b"" if self.mint is None else self.mint,
            self.value,
            self.gas,
            self.is_system,
            self.data,
        ]
        return bytes([DEPOSIT_TX_TYPE]) + rlp.encode(fields)

    def hash(self) -> str:
        return "0x" + keccak(self.raw()).hex()


def l1_info_deposit(origin: L1Origin, fmt: str = ISTHMUS) -> Deposit:
    """The L1-attributes deposit op-node puts first in every block."""
    return Deposit(
        sender=DEPOSITOR,
        to=L1_BLOCK,
        gas=L1_INFO_GAS,
        data=l1_info_calldata(origin, fmt),
        source_hash=source_hash(1, origin.hash, origin.sequence_number),
    )
