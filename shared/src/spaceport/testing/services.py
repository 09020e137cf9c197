"""Every service as its bootstrap wires it, without servers: its event registry and projections.

Replay tests take the projections from here rather than listing them, so a projection a service
adds is replayed too. Building a runtime connects to nothing; it is never started.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

import msgspec

from spaceport import cli
from spaceport.events import EventRegistry
from spaceport.projection import Projection
from spaceport.runtime import ServiceRuntime
from spaceport.settings import Settings
from spaceport.testing.platform import SERVICES


@dataclass(frozen=True)
class ServiceProjection:
    """One projection as a service runs it: decoded with that service's registry."""

    service: str
    registry: EventRegistry
    projection: Projection

    @property
    def id(self) -> str:
        return f"{self.service}:{self.projection.name}"


def runtimes(settings: Settings | None = None) -> dict[str, ServiceRuntime]:
    """service name -> its runtime as `bootstrap.build` returns it (services without one skipped)."""
    base = settings or Settings(otel_exporter="none", guest_token_secret="replay")  # noqa: S106 - unset, it logs a warning
    found: dict[str, ServiceRuntime] = {}
    for name in SERVICES:
        module_name = f"{name}_service.bootstrap"
        if importlib.util.find_spec(f"{name}_service") is None or importlib.util.find_spec(module_name) is None:
            continue  # the gateway has no event-sourced runtime
        found[name] = cli.service_runtime(name, _named(base, name))
    return found


def projections(settings: Settings | None = None) -> list[ServiceProjection]:
    return [
        ServiceProjection(service=name, registry=runtime.registry, projection=projection)
        for name, runtime in runtimes(settings).items()
        for projection in runtime.projections
    ]


def _named(settings: Settings, service: str) -> Settings:
    return msgspec.structs.replace(settings, service_name=service)
