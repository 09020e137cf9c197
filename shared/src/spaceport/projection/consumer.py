"""The projection's durable JetStream pull consumer, and the batches fetched from it.

Postgres, not the consumer, is the authority on position: whenever the two may disagree, the
consumer is recreated at checkpoint + 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from spaceport.eventstore import EventStore
from spaceport.projection.protocol import Projection
from spaceport.projection.pull import FETCH_MAX_BYTES, BoundedPull

log = logging.getLogger(__package__)  # the package's logger: log lines keep the name they always had


def durable_name(projection: str) -> str:
    """The name of `projection`'s durable consumer (its replicas, in any process, share it)."""
    return f"proj_{projection}"


def deliver_from(start: int) -> tuple[DeliverPolicy, int | None]:
    """Deliver policy and start sequence of a consumer that begins at stream sequence `start`."""
    return (DeliverPolicy.BY_START_SEQUENCE, start) if start > 1 else (DeliverPolicy.ALL, None)


class DurableConsumer:
    """`proj_<name>` on the event stream, shared by every replica of the projection."""

    def __init__(self, store: EventStore, projection: Projection, *, batch_size: int, ack_wait: float) -> None:
        self._store = store
        self._projection = projection
        self._batch_size = batch_size
        self._ack_wait = ack_wait

    @property
    def name(self) -> str:
        return durable_name(self._projection.name)

    def config(self, start: int) -> ConsumerConfig:
        policy, start_seq = deliver_from(start)
        return ConsumerConfig(
            durable_name=self.name,
            deliver_policy=policy,
            opt_start_seq=start_seq,
            ack_policy=AckPolicy.ALL,
            ack_wait=self._ack_wait,
            filter_subjects=list(self._projection.filter_subjects),
            max_ack_pending=self._batch_size * 4,
        )

    async def ensure(self, position: int) -> None:
        """Create the consumer after `position`, or recreate it there if it no longer fits."""
        js, stream = self._store.js, self._store.stream
        try:
            info = await js.consumer_info(stream, self.name)
        except NotFoundError:
            await js.add_consumer(stream, self.config(position + 1))
            return
        behind = info.ack_floor is not None and (info.ack_floor.stream_seq or 0) > position
        configured = info.config.filter_subjects or ([info.config.filter_subject] if info.config.filter_subject else [])
        if behind or sorted(configured) != sorted(self._projection.filter_subjects):
            # The read model is behind what the consumer acknowledged (restored or rebuilt
            # database), or the projection now reads other subjects (a new release folds a new
            # kind of event): replay from the database's checkpoint with today's filter. Events
            # of a newly added kind older than the checkpoint need a rebuild of the projection.
            await self.recreate(position)

    async def recreate(self, position: int) -> None:
        """Drop whatever an earlier session fetched without committing: start again after `position`."""
        with contextlib.suppress(NotFoundError):
            await self._store.js.delete_consumer(self._store.stream, self.name)
        await self._store.js.add_consumer(self._store.stream, self.config(position + 1))

    async def bind(self) -> Batches:
        """A subscription whose every fetch is bounded in bytes too (`pull.py`: why)."""
        max_bytes = getattr(self._projection, "fetch_max_bytes", None) or FETCH_MAX_BYTES
        sub = BoundedPull(self._store.nc, self._store.stream, self.name, max_bytes=max_bytes)
        return Batches(await sub.subscribe(), self._projection.name)


class Batches:
    """One bound subscription and the batch prefetched on it while the previous one commits."""

    def __init__(self, sub: BoundedPull, projection: str) -> None:
        self._sub = sub
        self._projection = projection
        self._ahead: asyncio.Task[list[Msg]] | None = None
        self._delivered: int | None = None  # consumer sequence of the last message handed out

    async def next(self, size: int, *, prefetch: bool) -> list[Msg] | None:
        """The next batch; [] when there is none; None if the fetch failed.

        After a full batch, the one after it is fetched at once (`prefetch`): more events are
        probably waiting, and fetching them during the commit's round trips overlaps NATS and
        Postgres.
        """
        msgs = await self._fetch(size)
        self._ahead = None
        if prefetch and msgs is not None and len(msgs) >= size:
            self._ahead = asyncio.create_task(self._sub.fetch(size, timeout=1.0))
        return msgs

    async def _fetch(self, size: int) -> list[Msg] | None:
        try:
            msgs = await (self._ahead if self._ahead is not None else self._sub.fetch(size, timeout=1.0))
        except (TimeoutError, nats.errors.TimeoutError):
            return []  # nats-py also answers a server-side fetch timeout with an empty list
        except Exception:
            # Part of a batch may have been delivered to us and lost: resume from the checkpoint.
            log.exception("projection %s: fetch failed; resuming from the checkpoint", self._projection)
            return None
        return msgs if self._contiguous(msgs) else None

    def _contiguous(self, msgs: list[Msg]) -> bool:
        """Every delivery of this session in order, none missing. The client drops messages when
        its pending queue overflows (a slow consumer) and a late fetch reply can be lost; acking
        what came after them (AckAll) would acknowledge them unapplied. So a gap in the
        consumer's delivery sequence ends the session: it resumes from the checkpoint."""
        for msg in msgs:
            delivered = msg.metadata.sequence.consumer
            if self._delivered is not None and delivered <= self._delivered:
                log.warning(
                    "projection %s: the consumer delivers %d after %d (restored, e.g. by a NATS restart);"
                    " resuming from the checkpoint",
                    self._projection,
                    delivered,
                    self._delivered,
                )
                return False
            if self._delivered is not None and delivered != self._delivered + 1:
                log.error(
                    "projection %s: deliveries %d..%d never arrived (dropped by the client?);"
                    " resuming from the checkpoint",
                    self._projection,
                    self._delivered + 1,
                    delivered - 1,
                )
                return False
            self._delivered = delivered
        return True

    async def drop_prefetched(self) -> None:
        """Cancel a prefetch and wait for it; its messages go unacked (the consumer is recreated)."""
        await _cancelled(self._ahead)
        self._ahead = None

    async def close(self) -> None:
        await self.drop_prefetched()
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()


async def _cancelled(task: asyncio.Task[list[Msg]] | None) -> None:
    if task is not None:
        task.cancel()
        await asyncio.wait([task])  # never raises the task's error; our own cancellation propagates
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it as never retrieved
