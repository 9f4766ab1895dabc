"""rosetta-node: a self-hosted Rosetta (Mesh) Data API node for EVM chains."""

__version__ = "0.1.0"
ROSETTA_VERSION = "1.5.1"
