"""EIP-55 checksums: ours (rosetta_node.addresses.checksum) equals eth_utils' for any address."""

from __future__ import annotations

from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from rosetta_node.addresses import checksum, parse_address


@settings(max_examples=500, deadline=None)
@given(raw=st.binary(min_size=20, max_size=20), upper=st.booleans())
def test_checksum_equals_eth_utils(raw: bytes, upper: bool) -> None:
    text = "0x" + (raw.hex().upper() if upper else raw.hex())
    expected = to_checksum_address("0x" + raw.hex())
    assert checksum(text) == expected
    assert parse_address(text) == expected


def test_eip55_examples() -> None:
    # The examples of EIP-55 itself.
    for address in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert checksum(address.lower()) == address
