"""The relay: Flatfile events to a JetStream stream, for in-cluster NATS subscribers.

A transactional outbox read by position: the feed table is the outbox, `feed_relay` holds the
relay's checkpoint (its own schema, so a rebuild of the feed neither resets nor compares it).
Each event is published with `Nats-Msg-Id` = its id, and the checkpoint moves after the
publishes of a batch were acknowledged; a crash in between re-publishes at most that batch, and
the stream's duplicate window drops the repeats, so each id is stored once. One relay publishes
at a time across replicas (a Postgres advisory lock, as projections hold their lease).

Subjects: `<feed_prefix>.<environment_id>.<space_id or _>.<domain>.<topic, ':' as '_'>`, e.g.
`flatfile.us_env_x.us_sp_y.job.job_ready`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from nats.aio.client import Client
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from job_service.feed.notify import FeedSignal
from spaceport import readmodel
from spaceport.projection import lease
from spaceport.runtime import Loop
from spaceport.settings import Settings

SCHEMA = "feed_relay"
NAME = "relay"
BATCH = 200
DUPLICATE_WINDOW = 120.0
MAX_AGE = 7 * 24 * 3600.0  # in-cluster subscribers get a week; older events stay listed over HTTP
log = logging.getLogger(__name__)


def subject(prefix: str, environment_id: str, space_id: str | None, domain: str, topic: str) -> str:
    return f"{prefix}.{environment_id}.{space_id or '_'}.{domain}.{topic.replace(':', '_')}"


def stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.feed_stream,
        subjects=[f"{settings.feed_prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        num_replicas=settings.stream_replicas,
        max_age=MAX_AGE,
        duplicate_window=DUPLICATE_WINDOW,
    )


class Relay(Loop):
    """Tails `feed.event` by position and publishes each event once (background work)."""

    task_name = "feed-relay"

    def __init__(
        self, settings: Settings, pool: Callable[[], asyncpg.Pool], nats: Callable[[], Client], signal: FeedSignal
    ) -> None:
        super().__init__()
        self._settings = settings
        self._pool = pool
        self._nats = nats
        self._signal = signal
        self.position = 0

    async def start(self) -> None:
        async with self._pool().acquire() as conn:
            await readmodel.migrate(conn, SCHEMA, None)
        await self.ensure_stream()
        await super().start()

    async def ensure_stream(self) -> None:
        js = self._nats().jetstream()
        try:
            await js.stream_info(self._settings.feed_stream)
        except NotFoundError:
            try:
                await js.add_stream(stream_config(self._settings))
            except APIError:
                await js.stream_info(self._settings.feed_stream)  # another replica created it first

    async def run(self) -> None:
        key = f"feed-relay:{self._settings.feed_stream}"
        while True:
            try:
                async with lease.lease(self._pool(), key) as held:
                    if held:
                        await self._pump()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed relay: publishing failed; retrying from its checkpoint")
            await asyncio.sleep(lease.LEASE_RETRY)

    async def _pump(self) -> None:
        self.position = await self._checkpoint()
        while True:
            signal = self._signal.signal()
            if not await self.relay_once():
                await self._signal.wait(signal, 1.0)

    async def relay_once(self) -> int:
        """Publish the next batch after the checkpoint; the number published."""
        async with self._pool().acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, position, environment_id, space_id, domain, topic, body FROM feed.event"
                " WHERE position > $1 ORDER BY position LIMIT $2",
                self.position,
                BATCH,
            )
        if not rows:
            return 0
        js = self._nats().jetstream()
        prefix = self._settings.feed_prefix
        for row in rows:
            to = subject(prefix, row["environment_id"], row["space_id"], row["domain"], row["topic"])
            ack = await js.publish(to, row["body"].encode(), headers={"Nats-Msg-Id": row["id"]})
            if row["topic"] == "space:deleted" and row["space_id"]:
                await self._erase(row["environment_id"], row["space_id"], ack.seq)
        self.position = rows[-1]["position"]
        await self._save(self.position)
        return len(rows)

    async def _erase(self, environment_id: str, space_id: str, before: int) -> None:
        """Erasure: a deleted space's earlier relayed events go from the stream (its
        `space:deleted`, at `before`, stays for subscribers); idempotent, so safe to redo."""
        js = self._nats().jetstream()
        filter_subject = f"{self._settings.feed_prefix}.{environment_id}.{space_id}.>"
        await js.purge_stream(self._settings.feed_stream, subject=filter_subject, seq=before)

    async def _checkpoint(self) -> int:
        async with self._pool().acquire() as conn:
            value = await conn.fetchval(f"SELECT position FROM {SCHEMA}.projection_checkpoint WHERE name = $1", NAME)
        return int(value or 0)

    async def _save(self, position: int) -> None:
        async with self._pool().acquire() as conn:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.projection_checkpoint (name, position) VALUES ($1, $2)"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
                NAME,
                position,
            )
