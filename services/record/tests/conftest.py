"""Fixtures of the record service's tests against the session's real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls


@pytest.fixture
async def record_settings(infra: InfraUrls, unique_name: str) -> AsyncIterator[Settings]:
    """Settings of a record service with its own database, stream and subject prefixes."""
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f"CREATE DATABASE {unique_name}")
    await admin.close()
    base, _, _ = infra.database_url.rpartition("/")
    yield Settings(
        service_name="record",
        nats_url=infra.nats_url,
        database_url=f"{base}/{unique_name}",
        event_stream=f"T_{unique_name.upper()}",
        event_prefix=f"e{unique_name}",
        command_prefix=f"c{unique_name}",
        otel_exporter="none",
    )
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f"DROP DATABASE {unique_name} WITH (FORCE)")
    await admin.close()
