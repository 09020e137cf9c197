"""Fixtures of the job service's tests against the session's real servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest

from job_service import bootstrap
from spaceport.runtime import ServiceRuntime
from spaceport.testing.fixtures import own_settings
from spaceport.testing.infra import InfraUrls


@pytest.fixture
async def rt(infra: InfraUrls, unique_name: str) -> AsyncIterator[ServiceRuntime]:
    """A job service of its own (database, streams, and its own feed stream and prefix), started."""
    async with own_settings(infra, unique_name, "job") as base:
        settings = msgspec.structs.replace(base, feed_stream=f"F_{unique_name.upper()}", feed_prefix=f"f{unique_name}")
        runtime, _ = bootstrap.build(settings)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()
