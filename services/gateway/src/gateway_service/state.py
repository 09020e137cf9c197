"""What the gateway's handlers share: the RPC client, the auth cache and infrastructure probes."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import asyncpg
from faststream.nats import NatsBroker
from minio import Minio

from spaceport.contracts.space import SERVICE as SPACE
from spaceport.contracts.space import Authenticate, Principal
from spaceport.messaging import RpcClient
from spaceport.settings import Settings

AUTH_TTL = 30.0


@dataclass
class Gateway:
    settings: Settings
    broker: NatsBroker
    rpc: RpcClient
    pool: asyncpg.Pool
    s3: Minio
    _auth_cache: dict[str, tuple[float, Principal]] = field(default_factory=dict)

    async def principal(self, token: str) -> Principal:
        """Who `token` is; cached briefly so every request does not cost a round trip."""
        now = time.monotonic()
        hit = self._auth_cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await self.rpc.request(SPACE, Authenticate(token=token), Principal)
        if len(self._auth_cache) > 10_000:
            self._auth_cache.clear()
        self._auth_cache[token] = (now + AUTH_TTL, principal)
        return principal

    async def s3_ok(self) -> bool:
        return await asyncio.to_thread(self._s3_probe)

    def _s3_probe(self) -> bool:
        self.s3.bucket_exists(self.settings.s3_bucket)
        return True
