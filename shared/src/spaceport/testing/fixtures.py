"""Fixtures over the session's real servers: a NATS connection, an event store, a pool.

Each test gets its own stream, subject prefix and Postgres schema, so tests never share state.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import asyncpg
import nats
import pytest
from nats.aio.client import Client

from spaceport.events import EventRegistry
from spaceport.eventstore import EventStore
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import Platform, running_platform


@pytest.fixture
async def nc(infra: InfraUrls) -> AsyncIterator[Client]:
    client = await nats.connect(infra.nats_url)
    yield client
    await client.drain()


@pytest.fixture
def registry() -> EventRegistry:
    """Tests register their own event types on it."""
    return EventRegistry()


@pytest.fixture
async def store(nc: Client, registry: EventRegistry, unique_name: str) -> EventStore:
    event_store = EventStore(nc, registry, stream=f"T_{unique_name.upper()}", prefix=f"e{unique_name}")
    await event_store.ensure_stream()
    return event_store


@pytest.fixture
async def pool(infra: InfraUrls) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(infra.database_url, min_size=1, max_size=8)
    assert created is not None
    yield created
    await created.close()


@pytest.fixture(scope="session")
def platform(infra: InfraUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """Every service and the gateway as real processes, once per test session."""
    with running_platform(infra, tmp_path_factory.mktemp("platform")) as running:
        yield running


@contextlib.asynccontextmanager
async def own_settings(infra: InfraUrls, unique_name: str, service: str) -> AsyncIterator[Settings]:
    """Settings of `service` with a database, stream and subject prefixes of its own (a fresh
    database named `unique_name`, dropped afterwards), for tests that run a service's runtime."""
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{unique_name}"')
        base, _, _ = infra.database_url.rpartition("/")
        yield Settings(
            service_name=service,
            nats_url=infra.nats_url,
            database_url=f"{base}/{unique_name}",
            event_stream=f"T_{unique_name.upper()}",
            event_prefix=f"e{unique_name}",
            command_prefix=f"c{unique_name}",
            otel_exporter="none",
        )
        await admin.execute(f'DROP DATABASE "{unique_name}" WITH (FORCE)')
    finally:
        await admin.close()
