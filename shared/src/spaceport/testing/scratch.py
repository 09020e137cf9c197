"""Events folded through a real projection into a scratch schema, to test it or queries on it.

What a projection's consumer would deliver, in stream order, applied in one transaction; no
runner, checkpoint or server but Postgres. Contract tests use it to hold a fake read model
(folded in Python from the same store) and the Postgres query objects to the same answers; the
corpus tests apply recorded events with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spaceport import readmodel
from spaceport.events import StoredEvent
from spaceport.ports import EventStorePort
from spaceport.projection import Projection
from spaceport.subjects import subject_matches


def delivered(events: Iterable[StoredEvent], projection: Projection) -> list[StoredEvent]:
    """The events a projection's consumer is given: those on one of its filter subjects, in order."""
    wanted = projection.filter_subjects
    return [e for e in events if any(subject_matches(f, e.subject) for f in wanted)]


async def apply(
    conn: readmodel.Conn, projection: Projection, events: Sequence[StoredEvent], schema: str, *, batch: bool = False
) -> None:
    """Migrate `schema` with the projection's migrations and apply `events` to it in one
    transaction, one `apply` per event or (`batch`) one `apply_batch` call. Raises on the first
    failure: no poison-event isolation here."""
    await readmodel.migrate(conn, schema, projection.migrations)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(schema)}")
        if batch:
            await projection.apply_batch(conn, events)  # type: ignore[attr-defined]  # optional on the protocol
            return
        for event in events:
            await projection.apply(conn, event)


async def project(conn: readmodel.Conn, store: EventStorePort, projection: Projection, schema: str) -> None:
    """Migrate `schema` and apply every event of `store` that `projection` subscribes to."""
    events = [s async for s in store.read(f"{store.prefix}.>")]
    await apply(conn, projection, delivered(events, projection), schema)
