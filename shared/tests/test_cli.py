"""`spaceport projections rebuild <service>` against real servers, in a database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest

from spaceport import cli
from spaceport.contracts.space import EVENTS, SpaceCreated
from spaceport.events import EventRegistry
from spaceport.eventstore import AggregateRef, EventStore
from spaceport.settings import Settings
from spaceport.testing.fixtures import own_settings
from spaceport.testing.infra import InfraUrls


@pytest.fixture
async def settings(infra: InfraUrls, unique_name: str) -> AsyncIterator[Settings]:
    """The job service's settings, pointed at a fresh stream and a fresh database."""
    async with own_settings(infra, unique_name, "job") as own:
        yield own


async def test_rebuild_replays_the_stream_into_the_live_schema(settings: Settings) -> None:
    nc = await nats.connect(settings.nats_url)
    store = EventStore(nc, EventRegistry(EVENTS), stream=settings.event_stream, prefix=settings.event_prefix)
    await store.ensure_stream()
    for i in range(3):
        ref = AggregateRef(
            environment_id="us_env_cli", space_id=f"us_sp_cli{i}", aggregate="space", aggregate_id=f"us_sp_cli{i}"
        )
        await store.append(
            ref,
            [SpaceCreated(space_id=ref.aggregate_id, environment_id="us_env_cli", name=f"s{i}")],
            expected_version=0,
        )
    try:
        rebuilt = await cli.rebuild("job", settings)
        assert rebuilt == [p.name for p in cli.service_runtime("job", settings).projections]
        assert rebuilt[:3] == ["job", "feed", "metrics"]  # read model, feed, metrics (then any newer ones)
        conn = await asyncpg.connect(settings.database_url)
        try:
            names = await conn.fetch("SELECT name FROM job.known_space ORDER BY name")
            position = await conn.fetchval("SELECT position FROM job.projection_checkpoint WHERE name = 'job'")
            topics = await conn.fetch("SELECT topic FROM feed.event ORDER BY position")
        finally:
            await conn.close()
        assert [r["name"] for r in names] == ["s0", "s1", "s2"]
        assert [r["topic"] for r in topics] == ["space:created"] * 3
        assert position == await store.last_seq()
    finally:
        await nc.jetstream().delete_stream(settings.event_stream)
        await nc.drain()


async def test_unknown_service_is_an_operator_error(settings: Settings) -> None:
    with pytest.raises(cli.CliError, match="no service named"):
        await cli.rebuild("nosuch", settings)
