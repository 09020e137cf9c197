"""Fixtures of the record service's tests against the session's real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from spaceport.settings import Settings
from spaceport.testing.fixtures import own_settings
from spaceport.testing.infra import InfraUrls


@pytest.fixture
async def record_settings(infra: InfraUrls, unique_name: str) -> AsyncIterator[Settings]:
    """Settings of a record service with its own database, stream and subject prefixes."""
    async with own_settings(infra, unique_name, "record") as settings:
        yield settings
