"""Erasure of a deleted space's files: its `file` rows at once, its S3 objects soon after.

On `SpaceDeleted` the file projection (in its transaction) deletes the space's `file` rows and,
when it had any, lists the space in `erased_space`. The `ObjectPurger` (background work of the
file service) removes every object under the space's prefix (`<space_id>/`, where uploads go:
`domain.object_key`), in batches of the S3 multi-object delete, then the `erased_space` row.
A failed S3 call is retried on the next pass, so nothing is lost to a restart. A replay never
sees the space's files (their events are erased, `spaceport.crypto`), so it lists nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from spaceport.readmodel import Conn
from spaceport.runtime import Loop

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0
DELETE_BATCH = 1000  # keys per S3 multi-object delete (the protocol's maximum)


async def erase_space(conn: Conn, space_id: str) -> None:
    """The projection's part: the space's file rows go; its objects are listed for the purger."""
    status = await conn.execute("DELETE FROM file WHERE space_id = $1", space_id)
    if status != "DELETE 0":
        await conn.execute("INSERT INTO erased_space (space_id) VALUES ($1) ON CONFLICT DO NOTHING", space_id)


def remove_prefix(client: Minio, bucket: str, prefix: str) -> int:
    """Remove every object under `prefix` (blocking: run it in a thread); returns how many."""
    removed = 0
    batch: list[DeleteObject] = []

    def flush() -> None:
        errors = list(client.remove_objects(bucket, batch))
        if errors:
            raise OSError(f"S3 refused to remove {len(errors)} objects: {errors[0]}")

    for item in client.list_objects(bucket, prefix=prefix, recursive=True):
        if item.object_name is None:
            continue
        batch.append(DeleteObject(item.object_name))
        if len(batch) == DELETE_BATCH:
            flush()
            removed += len(batch)
            batch = []
    if batch:
        flush()
        removed += len(batch)
    return removed


class ObjectPurger(Loop):
    """Polls `erased_space` and removes the listed spaces' objects (module doc)."""

    task_name = "object-purger"

    def __init__(self, pool: Callable[[], asyncpg.Pool], client: Minio, bucket: str) -> None:
        super().__init__()
        self._pool = pool
        self._client = client
        self._bucket = bucket

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except (OSError, S3Error, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("object purger: %s; retrying", error)
            await asyncio.sleep(POLL_SECONDS)

    async def step(self) -> int:
        """One pass over the listed spaces; returns the objects removed."""
        removed = 0
        async with self._pool().acquire() as conn:
            rows = await conn.fetch("SELECT space_id FROM erased_space ORDER BY space_id LIMIT 100")
            for row in rows:
                space_id = row["space_id"]
                count = await asyncio.to_thread(remove_prefix, self._client, self._bucket, f"{space_id}/")
                await conn.execute("DELETE FROM erased_space WHERE space_id = $1", space_id)
                log.info("object purger: space %s erased (%d objects)", space_id, count)
                removed += count
        return removed
