"""Composition root of the space service: the one place that reads settings and wires adapters."""

from __future__ import annotations

from space_service.application.handlers import SpaceHandlers
from space_service.projections.directory import SpaceDirectory
from spaceport import runtime, telemetry
from spaceport.contracts import space as contract
from spaceport.contracts import workbook
from spaceport.contracts.space import CreateEnvironment
from spaceport.settings import Settings


def build(settings: Settings) -> tuple[runtime.ServiceRuntime, SpaceHandlers]:
    # Workbook events too: the directory counts a space's workbooks (and their activity).
    rt = runtime.ServiceRuntime(settings, (*contract.EVENTS, *workbook.EVENTS))
    # The projection (its schema) is named after the service, as is the pool's search_path.
    rt.add_projection(SpaceDirectory(settings.event_prefix, name=settings.service_name))
    handlers = SpaceHandlers(rt)
    handlers.register()
    return rt, handlers


async def ensure_dev_environment(handlers: SpaceHandlers, secret_key: str) -> None:
    """`make run`'s development environment, keyed by the launcher's stored secret key.

    The environment id derives from the key, so every restart finds the same environment.
    """
    if not secret_key:
        return
    cmd = CreateEnvironment(name="development", idempotency_key=f"dev-environment:{secret_key}")
    await handlers.create_environment(cmd, secret_key=secret_key)


def main() -> None:
    settings = Settings.from_env("space")
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    rt, handlers = build(settings)
    runtime.run(rt, after_start=lambda: ensure_dev_environment(handlers, settings.dev_secret_key))
