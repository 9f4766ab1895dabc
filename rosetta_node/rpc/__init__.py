"""Node access: the only package that speaks JSON-RPC."""

from .client import Call, RpcClient, RpcError

__all__ = ["Call", "RpcClient", "RpcError"]
