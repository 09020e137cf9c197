"""A record-service background worker on its own Postgres connection: reconnects after errors and
runs on one record process at a time (a Postgres advisory lock), as the sheet indexer and the
sheet purger do."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

import asyncpg

from spaceport.runtime import Loop

log = logging.getLogger(__name__)


class LockedWorker(Loop):
    """`serve(conn)` on a connection whose search path is the record schema, once this process
    holds `lock_key` (another record process doing the same work holds it otherwise)."""

    label: ClassVar[str] = "worker"  # in log lines: "sheet indexer", "sheet purger"
    lock_key: ClassVar[int] = 0

    def __init__(self, database_url: str, schema: str) -> None:
        super().__init__()
        self.database_url = database_url
        self.schema = schema

    async def run(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self.database_url, server_settings={"search_path": self.schema})
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("%s: cannot connect (%s); retrying", self.label, error)
                await asyncio.sleep(5.0)
                continue
            try:
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.lock_key):  # noqa: ASYNC110 - polls Postgres
                    await asyncio.sleep(5.0)  # another record process does this work
                await self.serve(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("%s: %s; reconnecting", self.label, error)
                await asyncio.sleep(2.0)
            finally:
                if not conn.is_closed():
                    await conn.close()

    async def serve(self, conn: asyncpg.Connection[Any]) -> None:
        raise NotImplementedError
