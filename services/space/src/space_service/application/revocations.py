"""Tells every gateway that credentials may have stopped working, so none keeps serving them from its cache."""

from __future__ import annotations

import logging

import msgspec
import nats.errors

from spaceport.contracts.space import AUTH_INVALIDATE_SUBJECT, AuthInvalidated
from spaceport.runtime import ServiceRuntime

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()


async def announce(runtime: ServiceRuntime, position: int, change: AuthInvalidated) -> None:
    """Publish `change` (core NATS, fire and forget) once the read model applied `position`.

    After the projection, not just after the append: a gateway that re-authenticates on the
    broadcast must already see the revocation, or it would cache the old principal again.
    Best effort: the write has succeeded either way, and the gateways' cache TTL bounds a miss.
    """
    if position <= 0:  # nothing was appended: nothing changed
        return
    for runner in runtime.runners:
        if not await runner.wait_for(position):
            log.warning("%s not at %d yet; announcing %s anyway", runner.projection.name, position, change.reason)
    try:
        await runtime.broker.connection.publish(AUTH_INVALIDATE_SUBJECT, _encoder.encode(change))
    except (nats.errors.Error, OSError):
        log.exception(
            "could not announce %s; other gateways may accept old credentials until their cache expires", change.reason
        )
