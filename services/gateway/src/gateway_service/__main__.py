"""`python -m gateway_service`: serve the API with granian.

GATEWAY_WORKERS (default `auto`: one per core this process may run on, at most 8): gateway
processes sharing the port. Each has its own auth cache (every one gets the invalidation
broadcasts) and its own rate limiter; the per-key limit (SPACEPORT_RATE_LIMIT_PER_SECOND and
_BURST) is split between them, so it stays the gateway's whatever the worker count.
SPACEPORT_LOOP=asyncio: asyncio's event loop instead of uvloop's (as the services, `spaceport.runtime`).
"""

import os
import sys

from granian.constants import Interfaces, Loops
from granian.server import Server

from gateway_service.workers import WorkersError, configured_workers, split_rate_limit
from spaceport.settings import Settings, uses_uvloop

try:
    workers = configured_workers()
except WorkersError as error:
    sys.exit(f"gateway: {error}")
settings = Settings.from_env("gateway")
# The workers are granian's children and read their settings from this environment.
os.environ.update(split_rate_limit(settings.rate_limit_per_second, settings.rate_limit_burst, workers))
Server(
    "gateway_service.app:server_app",
    address=settings.gateway_host,
    port=settings.gateway_port,
    interface=Interfaces.ASGI,
    factory=True,
    loop=Loops.uvloop if uses_uvloop() else Loops.asyncio,
    workers=workers,
).serve()
