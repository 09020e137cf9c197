"""`python -m gateway_service`: serve the API with granian.

GATEWAY_WORKERS (default 1): gateway processes sharing the port. Each has its own auth cache
(every one gets the invalidation broadcasts) and its own rate limiter (the per-key limit is then
per process).
"""

import os

from granian.constants import Interfaces
from granian.server import Server

from spaceport.settings import Settings

settings = Settings.from_env("gateway")
Server(
    "gateway_service.app:server_app",
    address=settings.gateway_host,
    port=settings.gateway_port,
    interface=Interfaces.ASGI,
    factory=True,
    workers=max(1, int(os.environ.get("GATEWAY_WORKERS", "1"))),
).serve()
