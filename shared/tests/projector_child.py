"""Run as a child process by test_projection: a projector that dies (os._exit) right after its
Postgres commit and before its ack, the way a SIGKILL or power cut would leave it."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
import nats
from counter import EVENTS
from nats.aio.msg import Msg
from test_projection import Totals

from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.projection import ProjectionRunner


class ExitAfterCommit(ProjectionRunner):
    async def after_commit(self, msgs: list[Msg]) -> None:
        os._exit(17)


async def main(nats_url: str, dsn: str, stream: str, prefix: str, name: str) -> None:
    client = await nats.connect(nats_url)
    store = EventStore(client, EventRegistry(EVENTS), stream=stream, prefix=prefix)
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    runner = ExitAfterCommit(store, pool, Totals(name, prefix), batch_size=100, ack_wait=1.0)
    await runner.start()
    await asyncio.sleep(60)  # the runner exits the process long before this
    sys.exit(3)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
