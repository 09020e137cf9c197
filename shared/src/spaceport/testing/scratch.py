"""A store's events folded through a real projection into a scratch schema, to test queries on.

What a projection's consumer would deliver, in stream order, applied in one transaction; no
runner, checkpoint or server but Postgres. Contract tests use it to hold a fake read model
(folded in Python from the same store) and the Postgres query objects to the same answers.
"""

from __future__ import annotations

from spaceport import readmodel
from spaceport.events import StoredEvent
from spaceport.memstore import subject_matches
from spaceport.ports import EventStorePort
from spaceport.projection import Projection


async def project(conn: readmodel.Conn, store: EventStorePort, projection: Projection, schema: str) -> None:
    """Migrate `schema` and apply every event of `store` that `projection` subscribes to."""
    await readmodel.migrate(conn, schema, projection.migrations)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL search_path TO {readmodel.quote_ident(schema)}")
        for stored in await delivered(store, projection):
            await projection.apply(conn, stored)


async def delivered(store: EventStorePort, projection: Projection) -> list[StoredEvent]:
    """The events on the projection's filter subjects, in stream order (as one consumer gets them)."""
    wanted = projection.filter_subjects
    return [s async for s in store.read(f"{store.prefix}.>") if any(subject_matches(f, s.subject) for f in wanted)]
