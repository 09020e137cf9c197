"""Space metrics: per-space counters folded from every domain event, and their queries.

- `counting`: what one event changes (pure), including the submit rule.
- `projection`: `MetricsProjection` (schema `metrics`), fed by every domain subject; it translates
  each event as the feed does (`job_service.feed.translate`) so its event counts are the feed's.
- `queries` + `views` + `service`: `GetSpaceMetrics` and `GetEnvironmentMetrics` (the RPC handlers),
  with valid / error counts from the record service.

Installed after `job_service.feed` (it decodes with the event types the feed registers).
"""

from __future__ import annotations

from job_service.metrics.projection import NAME, MetricsProjection
from job_service.metrics.queries import MetricsQueries
from job_service.metrics.service import MetricsService, SheetCounts, record_counts
from spaceport import runtime
from spaceport.contracts.metrics import GetEnvironmentMetrics, GetSpaceMetrics
from spaceport.messaging import RpcClient
from spaceport.settings import Settings

__all__ = ["NAME", "MetricsProjection", "MetricsService", "install"]


def install(rt: runtime.ServiceRuntime, settings: Settings, counts: SheetCounts | None = None) -> MetricsService:
    """Register the metrics projection and query handlers on `rt` (`counts`: the record service's, by default)."""
    rt.add_projection(MetricsProjection(settings.event_prefix))
    service = MetricsService(
        MetricsQueries(lambda: rt.pool),
        rt.store.last_seq,
        lambda position, timeout: rt.runner(NAME).wait_for(position, timeout),
        counts or record_counts(RpcClient(rt.broker, settings.command_prefix, settings.request_timeout)),
    )
    # Each query may wait for the projection to catch up: several at once per subject.
    rt.rpc.handle(GetSpaceMetrics, workers=8)(service.space)
    rt.rpc.handle(GetEnvironmentMetrics, workers=8)(service.environment)
    return service
