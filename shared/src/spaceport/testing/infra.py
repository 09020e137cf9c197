"""Throwaway NATS + Postgres + S3 for a test session: containers if Docker runs, else binaries."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from spaceport.devinfra.process import InfraStartError, wait_until
from spaceport.devinfra.servers import (
    docker_available,
    s3_ready,
    start_concurrently,
    start_nats,
    start_postgres,
    start_s3,
)

__all__ = ["InfraUrls", "infra_backend", "running_infra"]

T = TypeVar("T")

# Set to "docker" or "embedded" to override the automatic choice.
BACKEND_ENV = "SPACEPORT_TEST_INFRA"
S3_ACCESS_KEY = "spaceport"
S3_SECRET_KEY = "spaceport-secret"  # noqa: S105 - throwaway test credential
PG_PASSWORD = "postgres"  # noqa: S105 - throwaway container credential


@dataclass(frozen=True)
class InfraUrls:
    """How tests reach the session's servers."""

    nats_url: str
    database_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str


def infra_backend() -> str:
    """ "docker" or "embedded": what `running_infra` will use."""
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced in ("docker", "embedded"):
        return forced
    return "docker" if docker_available() else "embedded"


@contextmanager
def running_infra(backend: str | None = None) -> Iterator[InfraUrls]:
    """Start all three servers in parallel; stop them (and delete their data) on exit."""
    backend = backend or infra_backend()
    with ExitStack() as stack:
        if backend == "docker":
            yield _start_containers(stack)
        else:
            base_dir = Path(tempfile.mkdtemp(prefix="spaceport-test-"))
            # Registered first so it runs last, after every server has stopped.
            stack.callback(shutil.rmtree, base_dir, ignore_errors=True)
            yield _start_embedded(stack, base_dir)


def _start_all(stack: ExitStack, starters: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    def register(_name: str, handle: Any) -> None:
        stack.callback(handle.stop)

    return start_concurrently(starters, register)


def _retrying(start: Callable[[int], T], attempts: int = 3) -> Callable[[], T]:
    """Start on fresh free ports (and a fresh data dir) up to `attempts` times.

    A port found free can be taken by another process before the server binds it (the three
    servers start in parallel and SeaweedFS alone opens seven ports), so a clash is retried.
    """

    def attempt() -> T:
        for number in range(attempts):
            try:
                return start(number)
            except InfraStartError:
                if number == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    return attempt


def _start_embedded(stack: ExitStack, base_dir: Path) -> InfraUrls:
    started = _start_all(
        stack,
        {
            "nats": _retrying(lambda n: start_nats(base_dir / f"nats{n}")),
            # Crash safety is pointless for a cluster deleted at session end; speed is not.
            "postgres": _retrying(lambda n: start_postgres(base_dir / f"postgres{n}", durable=False)),
            "s3": _retrying(
                lambda n: start_s3(base_dir / f"s3{n}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY)
            ),
        },
    )
    return InfraUrls(
        nats_url=started["nats"].url,
        database_url=started["postgres"].dsn,
        s3_endpoint=started["s3"].endpoint,
        s3_access_key=S3_ACCESS_KEY,
        s3_secret_key=S3_SECRET_KEY,
    )


def _start_containers(stack: ExitStack) -> InfraUrls:
    # Imported lazily: testcontainers pulls in the docker SDK, irrelevant without Docker.
    from testcontainers.community.minio import MinioContainer  # noqa: PLC0415
    from testcontainers.community.nats import NatsContainer  # noqa: PLC0415
    from testcontainers.community.postgres import PostgresContainer  # noqa: PLC0415

    minio = MinioContainer(image="minio/minio", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY)
    # Current MinIO images only read the ROOT_* names; the class sets the legacy ones.
    minio.with_env("MINIO_ROOT_USER", S3_ACCESS_KEY).with_env("MINIO_ROOT_PASSWORD", S3_SECRET_KEY)
    containers = {
        "nats": NatsContainer("nats:2.12", jetstream=True),
        "postgres": PostgresContainer(
            "postgres:17",
            username="postgres",
            password=PG_PASSWORD,
            dbname="postgres",
            driver=None,
        ),
        "s3": minio,
    }

    def start_minio() -> Any:
        # Unlike the NATS and Postgres classes, MinioContainer.start() does not wait.
        minio.start()
        address = minio.get_config()["endpoint"]
        wait_until(lambda: s3_ready(address, S3_ACCESS_KEY, S3_SECRET_KEY), 60, "MinIO")
        return minio

    starters: dict[str, Callable[[], Any]] = {name: c.start for name, c in containers.items()}
    starters["s3"] = start_minio
    started = _start_all(stack, starters)
    s3_config = started["s3"].get_config()
    return InfraUrls(
        nats_url=started["nats"].nats_uri(),
        database_url=started["postgres"].get_connection_url(driver=None),
        s3_endpoint=f"http://{s3_config['endpoint']}",
        s3_access_key=S3_ACCESS_KEY,
        s3_secret_key=S3_SECRET_KEY,
    )
