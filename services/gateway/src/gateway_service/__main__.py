"""`python -m gateway_service`: serve the API with granian."""

from granian.constants import Interfaces
from granian.server import Server

from spaceport.settings import Settings

settings = Settings.from_env("gateway")
Server(
    "gateway_service.app:create_app",
    address=settings.gateway_host,
    port=settings.gateway_port,
    interface=Interfaces.ASGI,
    factory=True,
    workers=1,
).serve()
