"""The auth broadcast on core NATS: what the space service publishes besides its events."""

from __future__ import annotations

import logging

import msgspec
import nats.errors
from faststream.nats import NatsBroker

from spaceport.contracts.space import AUTH_INVALIDATE_SUBJECT, AuthInvalidated

log = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()


class AuthBroadcast:
    """`Broadcast` on `AUTH_INVALIDATE_SUBJECT`: fire and forget, no queue group, so every gateway gets it."""

    def __init__(self, broker: NatsBroker) -> None:
        self.broker = broker

    async def __call__(self, change: AuthInvalidated) -> None:
        try:
            await self.broker.connection.publish(AUTH_INVALIDATE_SUBJECT, _encoder.encode(change))
        except (nats.errors.Error, OSError):
            log.exception(
                "could not announce %s; other gateways may accept old credentials until their cache expires",
                change.reason,
            )
