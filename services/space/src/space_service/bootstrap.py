"""Composition root of the space service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from space_service.adapters.workbooks import RpcWorkbooks
from space_service.application import secretbox, tokens
from space_service.application.app import SpaceApplication
from space_service.application.retention import RetentionHandlers
from space_service.entrypoints import rpc
from space_service.entrypoints.broadcast import AuthBroadcast
from space_service.entrypoints.retention import RetentionSweeper
from space_service.projections.cache import SpaceCache
from space_service.projections.directory import SpaceDirectory
from space_service.projections.queries import DirectoryQueries
from space_service.projections.retention import RetentionQueries
from spaceport import runtime, telemetry
from spaceport.contracts import file, workbook
from spaceport.contracts import space as contract
from spaceport.contracts.space import CreateEnvironment
from spaceport.messaging import RpcClient
from spaceport.projection import ProjectionRunner
from spaceport.settings import Settings


def build(settings: Settings) -> tuple[runtime.ServiceRuntime, SpaceApplication]:
    # Workbook and file events too: the directory counts a space's workbooks and files (and their activity).
    rt = runtime.ServiceRuntime(settings, (*contract.EVENTS, *workbook.EVENTS, *file.EVENTS))
    # The projection (its schema) is named after the service, as is the pool's search_path.
    # GetSpace answers from this process while it holds the projection's lease (projections/cache.py).
    views = SpaceCache(lambda: _runner(rt, settings.service_name))
    rt.add_projection(SpaceDirectory(settings.event_prefix, name=settings.service_name, cache=views))
    app = SpaceApplication(
        rt.store,
        DirectoryQueries(lambda: rt.pool),
        rt.wait_for,
        AuthBroadcast(rt.broker),
        tokens.GuestTokens(secret=tokens.server_secret(settings), ttl=settings.guest_token_ttl),
        secrets_box=secretbox.box_of(settings),
        workbooks=RpcWorkbooks(RpcClient(rt.broker, settings.command_prefix, settings.request_timeout)),
        space_views=views,
    )
    rpc.bind(rt.rpc, app)
    # Data retention: policies, and the sweeper that expires spaces past them (one replica at a time).
    retention = RetentionHandlers(rt.store, RetentionQueries(lambda: rt.pool), rt.wait_for, app.spaces)
    sweeper = RetentionSweeper(retention, lambda: rt.pool, settings.retention_interval)
    rt.add_background(sweeper)
    rpc.bind_retention(rt.rpc, retention, sweeper)
    return rt, app


def _runner(rt: runtime.ServiceRuntime, name: str) -> ProjectionRunner | None:
    """The directory's runner once the runtime has started (None before, and while stopped)."""
    for runner in rt.runners:
        if runner.projection.name == name and isinstance(runner, ProjectionRunner):
            return runner
    return None


async def ensure_dev_environment(app: SpaceApplication, secret_key: str) -> None:
    """`make run`'s development environment, keyed by the launcher's stored secret key.

    The environment id derives from the key, so every restart finds the same environment.
    """
    if not secret_key:
        return
    cmd = CreateEnvironment(name="development", idempotency_key=f"dev-environment:{secret_key}")
    await app.create_environment(cmd, secret_key=secret_key)


def main() -> None:
    settings = Settings.from_env("space")
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    rt, app = build(settings)
    runtime.run(rt, after_start=lambda: ensure_dev_environment(app, settings.dev_secret_key))
