"""The one error edge: run a request's work and turn every failure into one ``Failure``.

The ladder is written once, here: the time limit, a node error no service mapped (the node
client's ``NodeError``, a catalog error whose origin some dialects word apart), any other
catalog error, anything else (logged). Each API then renders a ``Failure`` in its own
wire format (its dialect): Rosetta Errors in :mod:`.errors`, webrpc errors in
:mod:`.sequence_wire`, ``{code, message}`` bodies in :mod:`.chainbase_wire`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from ..engine.node_errors import NodeError
from ..errors import INTERNAL_ERROR, NODE_TIMEOUT, CatalogError, ErrorDef
from .body import reading_body, too_slow

log = logging.getLogger(__name__)

T = TypeVar("T")


class Origin(Enum):
    """How the work failed: some dialects word a failure by this, not only by its entry."""

    TIMEOUT = "timeout"  # the guard's own time limit ran out
    CATALOG = "catalog"  # a CatalogError raised by a service
    NODE = "node"  # a NodeError no service mapped to something narrower
    UNEXPECTED = "unexpected"  # any other exception: a bug, logged with its traceback


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request (or one chain of a fan-out): a catalog entry with its details."""

    error: ErrorDef
    details: dict[str, Any] | None
    origin: Origin


async def guard(
    work: Awaitable[T],
    where: str,
    limit: float | None = None,
    keep: tuple[type[Exception], ...] = (),
) -> T | Failure:
    """``work``'s result, or its failure. ``limit`` bounds it in seconds (None: no bound);
    exceptions of a ``keep`` type (a dialect's own, already in wire form) pass through;
    ``where`` (the request path or the chain) names an unexpected error in the log."""
    try:
        if limit is None:
            return await work
        async with asyncio.timeout(limit):  # no task of its own: cheap on the hot path
            return await work
    except keep:
        raise
    except TimeoutError:
        if limit is None:  # not our limit: somebody else's timeout escaped, a bug
            return _unexpected(where)
        reason = f"the request took longer than {limit:g} s"
        if reading_body.get():  # the time ran out while the client was still sending
            slow = too_slow(reason + ", its body still arriving")
            return Failure(slow.error, slow.details, Origin.CATALOG)
        return Failure(NODE_TIMEOUT, {"reason": reason}, Origin.TIMEOUT)
    except NodeError as exc:  # (before CatalogError: a NodeError is one)
        return Failure(exc.error, exc.details, Origin.NODE)
    except CatalogError as exc:
        return Failure(exc.error, exc.details, Origin.CATALOG)
    except Exception:
        return _unexpected(where)


def _unexpected(where: str) -> Failure:
    log.exception("unhandled error on %s", where)
    return Failure(INTERNAL_ERROR, {"path": where}, Origin.UNEXPECTED)
