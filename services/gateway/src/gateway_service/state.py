"""What the gateway's handlers share: the RPC client, the auth cache, the rate limiter, probes."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import asyncpg
import msgspec
from faststream.nats import NatsBroker
from minio import Minio

from spaceport.contracts.space import SERVICE as SPACE
from spaceport.contracts.space import Authenticate, AuthInvalidated, Caught, Principal, Written
from spaceport.messaging import RpcClient
from spaceport.settings import Settings

AUTH_TTL = 30.0  # bounds a missed invalidation broadcast: then a revoked key works this long elsewhere
MAX_TRACKED = 10_000
log = logging.getLogger(__name__)
_invalidation = msgspec.json.Decoder(AuthInvalidated)


class Landed(Protocol):
    """A write's reply: the stream position the write landed at."""

    @property
    def position(self) -> int: ...


W = TypeVar("W", bound=Landed)


@dataclass
class RateLimiter:
    """A token bucket per credential, in this process: `rate` per second, up to `burst` at once."""

    rate: float
    burst: int
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0 when allowed (one token spent); else the seconds until a token is back."""
        now = time.monotonic()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate
        if len(self._buckets) > MAX_TRACKED:
            self._buckets.clear()
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0


@dataclass
class Gateway:
    settings: Settings
    broker: NatsBroker
    rpc: RpcClient
    pool: asyncpg.Pool
    s3: Minio
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(1000.0, 2000))
    _auth_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)
    _auth_generation: int = 0  # bumped by every invalidation

    async def principal(self, token: str) -> Principal:
        """Who `token` is; cached briefly so every request does not cost a round trip."""
        now = time.monotonic()
        hit = self._auth_cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._auth_generation
        principal = await self.rpc.request(SPACE, Authenticate(token=token), Principal)
        if generation != self._auth_generation:  # invalidated meanwhile: the answer may predate it
            return principal
        if len(self._auth_cache) > MAX_TRACKED:
            self._auth_cache.clear()
        self._auth_cache[token] = (now + AUTH_TTL, principal)
        return principal

    def invalidated(self, payload: bytes) -> None:
        """An `AuthInvalidated` broadcast (from any gateway's request): drop every cached principal.

        Revocations are rare, so the whole cache goes; the next request of each token re-authenticates.
        """
        self._auth_cache.clear()
        self._auth_generation += 1
        try:
            change = _invalidation.decode(payload)
        except msgspec.DecodeError:
            log.warning("auth cache cleared on an unreadable invalidation: %r", payload[:200])
            return
        log.debug("auth cache cleared: %s in %s", change.reason, change.environment_id)

    def forget(self, *, environment_id: str | None = None, actor: str | None = None) -> None:
        """Drop cached principals after a rotation or removal, so this replica sees it at once."""
        stale = [
            token
            for token, (_, p) in self._auth_cache.items()
            if p.environment_id == environment_id or (actor is not None and p.actor == actor)
        ]
        for token in stale:
            self._auth_cache.pop(token, None)

    async def caught_up(self, position: int) -> None:
        """Read-your-writes for writes answered `{success: true}`: wait until the space read model has them."""
        if position:
            await self.rpc.request(SPACE, Caught(position=position), Written)

    async def space_write(self, command: msgspec.Struct, reply_type: type[W]) -> W:
        """Send `command` to the space service; answer once its read model has the write (`caught_up`)."""
        written = await self.rpc.request(SPACE, command, reply_type)
        await self.caught_up(written.position)
        return written

    async def s3_ok(self) -> bool:
        return await asyncio.to_thread(self._s3_probe)

    def _s3_probe(self) -> bool:
        self.s3.bucket_exists(self.settings.s3_bucket)
        return True
