"""Composition root of the gateway: settings, telemetry, broker, pool and the Litestar app."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from nats.aio.msg import Msg

from gateway_service import api_docs, errors, ids
from gateway_service.routes import (
    apps,
    commits,
    documents,
    entitlements,
    environments,
    events,
    files,
    guests,
    health,
    jobs,
    keys,
    metrics,
    records,
    restore,
    retention,
    roles,
    secrets,
    sheets,
    snapshots,
    spaces,
    versions,
    views,
    workbooks,
)
from gateway_service.state import Gateway, RateLimiter
from gateway_service.web import ROUTES as WEB_ROUTES
from spaceport import readmodel, telemetry
from spaceport.contracts.space import AUTH_INVALIDATE_SUBJECT
from spaceport.messaging import RpcClient
from spaceport.runtime import make_broker
from spaceport.s3 import make_client
from spaceport.settings import Settings

MAX_BODY = 50 * 1024 * 1024


def server_app() -> Litestar:
    """The app `python -m gateway_service` serves (granian's factory): `create_app` for a process of its own."""
    return create_app(freeze_heap=True)


def create_app(settings: Settings | None = None, *, freeze_heap: bool = False) -> Litestar:
    """`freeze_heap`: move what startup allocated out of the garbage collector's generations
    (`gc.freeze()`), for a process that serves only this app; tests building apps in-process leave it."""
    settings = settings or Settings.from_env("gateway")
    telemetry.setup(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    holder: dict[str, Gateway] = {}

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        broker = make_broker(settings)
        await broker.connect()
        pool = await readmodel.create_pool(settings.database_url, "public", max_size=4)
        holder["gateway"] = state = Gateway(
            settings=settings,
            broker=broker,
            rpc=RpcClient(broker, settings.command_prefix, settings.request_timeout),
            pool=pool,
            s3=make_client(settings),
            limiter=RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst),
        )

        async def on_invalidate(msg: Msg) -> None:
            state.invalidated(msg.data)

        # No queue group: every gateway process gets every broadcast. Draining the connection
        # on broker.stop() ends the subscription.
        await broker.connection.subscribe(AUTH_INVALIDATE_SUBJECT, cb=on_invalidate)
        if freeze_heap:
            # What startup made (routes, schemas, models: ~100k objects) lives as long as the
            # process: out of the collector's way, a full collection takes ~3 ms, not up to ~140.
            gc.freeze()
        try:
            yield
        finally:
            await broker.stop()
            await pool.close()

    def gateway() -> Gateway:
        return holder["gateway"]

    return Litestar(
        route_handlers=[
            health.health,
            *environments.ROUTES,
            *spaces.ROUTES,
            *documents.ROUTES,
            *files.ROUTES,
            *guests.ROUTES,
            *workbooks.ROUTES,
            *sheets.ROUTES,
            *records.ROUTES,
            *commits.ROUTES,
            *jobs.ROUTES,
            *events.ROUTES,
            *secrets.ROUTES,
            *apps.ROUTES,
            *keys.ROUTES,
            *roles.ROUTES,
            *metrics.ROUTES,
            *views.ROUTES,
            *entitlements.ROUTES,
            *restore.ROUTES,
            *snapshots.ROUTES,
            *retention.ROUTES,
            *versions.ROUTES,
            *WEB_ROUTES,  # the space web app: /space/{spaceId}, /static/app/ (gateway_service/web)
        ],
        dependencies={"gateway": Provide(gateway, sync_to_thread=False)},
        before_request=ids.check_ids,
        exception_handlers=errors.HANDLERS,  # type: ignore[arg-type]
        lifespan=[lifespan],
        on_app_init=[api_docs.document_errors],  # the error envelope in /v1/openapi.json
        # HTTP spans only where they go somewhere: with no exporter they cost ~15% of a request's CPU.
        plugins=[OpenTelemetryPlugin(OpenTelemetryConfig())] if settings.otel_exporter != "none" else [],
        request_max_body_size=MAX_BODY,
        # /v1/openapi.json (+ .yaml) and a browsable page at /v1/docs; /v1/asyncapi.json: routes/events.py
        openapi_config=OpenAPIConfig(
            title="Spaceport API (Flatfile-compatible /v1)",
            version="1.0.0",
            path="/v1",
            render_plugins=[ScalarRenderPlugin(path="/docs")],
        ),
    )
