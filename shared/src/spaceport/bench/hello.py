"""The HTTP ceiling of the concurrency part: a bare ASGI app answering every request with a
fixed JSON body of HELLO_BODY_BYTES bytes, served by granian exactly as the gateway is (ASGI,
HELLO_WORKERS workers: the concurrency part gives it the gateway's count). `python -m
spaceport.bench.hello` (HELLO_PORT)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_SIZE = max(16, int(os.environ.get("HELLO_BODY_BYTES", "300")))
BODY = b'{"data":{"id":"us_sp_hello","pad":"' + b"x" * (_SIZE - 37) + b'"}}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:  # drain a request body, as a real handler would
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    from granian.constants import Interfaces
    from granian.server import Server

    Server(
        "spaceport.bench.hello:app",
        address="127.0.0.1",
        port=int(os.environ.get("HELLO_PORT", "8099")),
        interface=Interfaces.ASGI,
        workers=int(os.environ.get("HELLO_WORKERS", "1")),  # the bench gives it the gateway's count
        log_enabled=False,
    ).serve()
