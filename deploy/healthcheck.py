"""Container health check: `python deploy/healthcheck.py <service>`; exit 0 when healthy.

gateway: `GET /health` answers at all (200, or 503 while a dependency is down: the gateway
process itself is alive). Other services: `cmd.<service>.ping` over NATS answers and the service
reaches its database. The ping goes to the service's queue group, so with several replicas on
one NATS any replica may answer; orchestrators with per-replica probes should prefer process
liveness.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request


def gateway() -> bool:
    url = f"http://127.0.0.1:{os.environ.get('GATEWAY_PORT', '8080')}/health"
    try:
        with urllib.request.urlopen(url, timeout=4):
            return True
    except urllib.error.HTTPError:
        return True  # 503 "degraded": this process serves; a dependency is down
    except OSError:
        return False


async def service(name: str) -> bool:
    import nats  # noqa: PLC0415 - only the service checks need it

    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"), connect_timeout=3)
    try:
        reply = await nc.request(f"cmd.{name}.ping", b"{}", timeout=3)
    finally:
        await nc.close()
    return bool(json.loads(reply.data).get("ok", {}).get("database"))


def main(name: str) -> int:
    try:
        healthy = gateway() if name == "gateway" else asyncio.run(service(name))
    except Exception as error:  # any failure is "unhealthy", with the reason in `docker inspect`
        print(f"unhealthy: {type(error).__name__}: {error}")
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SPACEPORT_SERVICE", "gateway")))
