"""Pytest plugin (loaded with `-p spaceport.testing.plugin`): shared infrastructure fixtures.

Servers start lazily, the first time a test asks for `infra`, so pure unit-test runs
never pay for them.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from spaceport.testing.infra import InfraUrls, infra_backend, running_infra

__all__ = ["InfraUrls", "infra", "unique_name"]


def _announce(config: pytest.Config, message: str) -> None:
    """Write a line to the real terminal, even while pytest captures fd 1/2 for a fixture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    suspended = capture.global_and_fixture_disabled() if capture is not None else nullcontext()
    with suspended:
        if reporter is not None:
            reporter.write_line(message)
        else:
            print(message, file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[InfraUrls]:
    """NATS (JetStream), Postgres and S3 for the whole session, torn down at its end."""
    backend = infra_backend()
    _announce(request.config, f"spaceport: starting NATS, Postgres and S3 ({backend})...")
    started = time.monotonic()
    with running_infra(backend) as urls:
        _announce(request.config, f"spaceport: infra ready in {time.monotonic() - started:.1f}s")
        yield urls


@pytest.fixture
def unique_name() -> str:
    """Short lowercase identifier (e.g. `t3f9a2c1`) for per-test streams, schemas, buckets."""
    # Leading letter: valid as a Postgres schema, NATS stream and S3 bucket name alike.
    return "t" + uuid.uuid4().hex[:7]
