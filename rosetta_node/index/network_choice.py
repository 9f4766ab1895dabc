"""Which configured networks a token request names: by chain id or by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..engine.node import NetworkEngine, Networks
from ..errors import UNKNOWN_NETWORK, CatalogError


class NetworkChoice:
    """The networks of a multi-chain answer; an unknown one names what is configured."""

    def __init__(self, networks: Networks) -> None:
        self.networks = networks

    def all(self) -> list[NetworkEngine]:
        return self.networks.all()

    def select(
        self, chain_ids: Iterable[int] | None = None, names: Iterable[str] | None = None
    ) -> list[NetworkEngine]:
        """Networks by chain id or by name (network, or blockchain/network); None: all.

        An unknown id or name is an error naming what is configured.
        """
        chain_ids = list(chain_ids or [])
        names = [n.lower() for n in names or []]
        if not chain_ids and not names:
            return self.all()
        chosen: list[NetworkEngine] = []
        for chain_id in chain_ids:
            chosen.append(self.by_chain_id(chain_id))
        for name in names:
            chosen.append(self.by_name(name))
        return list({id(e): e for e in chosen}.values())

    def _unknown(self, details: dict[str, Any]) -> CatalogError:
        configured: list[Any] = [
            {"chainId": e.chain_id, "network": e.name} for e in self.all() if e.chain_id
        ]
        return CatalogError(UNKNOWN_NETWORK, {**details, "configured": configured})

    def by_chain_id(self, chain_id: int) -> NetworkEngine:
        for engine in self.all():
            if engine.chain_id == chain_id:
                return engine
        raise self._unknown({"chainId": chain_id})

    def by_name(self, name: str) -> NetworkEngine:
        wanted = name.lower()
        for engine in self.all():
            ident = engine.identifier
            if ident is None:
                continue
            if wanted in (ident.network.lower(), engine.name.lower(), str(engine.chain_id)):
                return engine
        raise self._unknown({"network": name[:64]})
