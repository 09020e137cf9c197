"""The lease: a session-level Postgres advisory lock that makes one replica the active projector.

Replicas share one durable consumer, so without a lease two of them could commit batches out of
order and the checkpoint would skip the earlier batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

LEASE_RETRY = 1.0  # seconds between a standby replica's attempts to take the lease


def lease_key(stream: str, projection: str) -> str:
    return f"projection:{stream}:{projection}"


@contextlib.asynccontextmanager
async def lease(pool: asyncpg.Pool, key: str) -> AsyncIterator[bool]:
    """Try to take the lease on a connection of `pool`; yields whether it is held, frees it after.

    The connection stays checked out for the whole block: the lock lives as long as its session.
    """
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key):
            yield False
            return
        try:
            yield True
        finally:
            with contextlib.suppress(Exception):
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)
