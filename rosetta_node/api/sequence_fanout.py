"""Choosing the chains of a Sequence gateway request and asking them all at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..engine.node import NetworkEngine
from ..errors import CatalogError
from ..index.service import TokenService
from .guard import Failure, guard
from .sequence_wire import ChainSelection, cause, invalid_argument, reason

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
        # No time limit of its own: the request's bounds every chain.
        outcome = await guard(work(engine), f"chain {engine.name}")
        if isinstance(outcome, Failure):
            return ChainAnswer(engine, error=cause(outcome))
        return ChainAnswer(engine, outcome)

    return list(await asyncio.gather(*(one(e) for e in engines)))
