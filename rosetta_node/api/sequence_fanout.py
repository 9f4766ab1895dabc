"""Choosing the chains of a Sequence gateway request and asking them all at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..engine.node import NetworkEngine
from ..errors import CatalogError
from ..index.service import TokenService
from ..rpc import RpcError
from .sequence_wire import ChainSelection, invalid_argument, reason

log = logging.getLogger(__name__)

V = TypeVar("V")


def chain_id_of(engine: NetworkEngine) -> int:
    return engine.chain_id or 0


@dataclass(slots=True)
class ChainAnswer(Generic[V]):
    """One chain's outcome: ``value``, or ``error`` (its ``errorReason``) when it failed."""

    engine: NetworkEngine
    value: V | None = None
    error: str | None = None

    @property
    def chain_id(self) -> int:
        return chain_id_of(self.engine)


def select(tokens: TokenService, request: ChainSelection) -> list[NetworkEngine]:
    """The chains named by ``chainIds``/``networks`` (all when none); unknown ones refused."""
    try:
        return tokens.select(request.chainIds, request.networks)
    except CatalogError as exc:
        configured = ", ".join(
            f"{e.chain_id} ({e.identifier.network})"
            for e in tokens.all()
            if e.identifier is not None
        )
        raise invalid_argument(
            f"{reason(exc)}; configured chains: {configured or 'none known yet'}"
        ) from None


async def fan_out(
    engines: Iterable[NetworkEngine], work: Callable[[NetworkEngine], Awaitable[V]]
) -> list[ChainAnswer[V]]:
    """``work`` on every chain at once; a chain's failure becomes its ``errorReason``."""

    async def one(engine: NetworkEngine) -> ChainAnswer[V]:
        try:
            return ChainAnswer(engine, await work(engine))
        except CatalogError as exc:
            return ChainAnswer(engine, error=reason(exc))
        except RpcError as exc:
            return ChainAnswer(engine, error=f"node error: {exc.message[:200]}")
        except Exception:
            log.exception("chain %s failed", engine.name)
            return ChainAnswer(engine, error="unexpected error; it has been logged")

    return list(await asyncio.gather(*(one(e) for e in engines)))
