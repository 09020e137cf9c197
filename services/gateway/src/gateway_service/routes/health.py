"""`GET /health`: NATS, Postgres, S3 and every service answering."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, get

from gateway_service.state import Gateway
from spaceport.contracts.health import Ping, Pong

SERVICES = ("space", "workbook", "record", "file", "job")


async def _check(coro: Any) -> dict[str, Any]:
    try:
        detail = await asyncio.wait_for(coro, timeout=3.0)
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"ok": True, **(detail if isinstance(detail, dict) else {})}


async def _nats(gateway: Gateway) -> dict[str, Any]:
    info = await gateway.broker.connection.jetstream().account_info()
    return {"streams": info.streams}


async def _postgres(gateway: Gateway) -> dict[str, Any]:
    async with gateway.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    return {}


async def _s3(gateway: Gateway) -> dict[str, Any]:
    await gateway.s3_ok()
    return {}


async def _service(gateway: Gateway, name: str) -> dict[str, Any]:
    pong = await gateway.rpc.request(name, Ping(), Pong, timeout=2.0)
    if not pong.database:
        raise RuntimeError("service cannot reach its database")
    return {"projections": {p.name: p.position for p in pong.projections}}


@get("/health")
async def health(gateway: Gateway) -> Response[dict[str, Any]]:
    names = ["nats", "postgres", "s3", *SERVICES]
    checks = [_nats(gateway), _postgres(gateway), _s3(gateway), *(_service(gateway, n) for n in SERVICES)]
    results = await asyncio.gather(*(_check(c) for c in checks))
    report = dict(zip(names, results, strict=True))
    healthy = all(r["ok"] for r in results)
    return Response({"status": "ok" if healthy else "degraded", "checks": report}, status_code=200 if healthy else 503)
