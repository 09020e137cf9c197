"""The metrics queries: wait for the projection to reach the stream's end, read, add the counts.

Read-your-writes: every write acknowledged before a query is at or below the stream's last
sequence when the query arrives, so the handler waits for the projection to apply that position
(it reads the whole stream, so it reaches every position) and answers 503 if it cannot in time.
Valid / error counts come from the record service (`SheetCounts`); when it does not answer, the
query fails (503) rather than answering numbers that are not exact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from job_service.metrics import views
from job_service.metrics.queries import MetricsQueries
from spaceport.contracts.metrics import EnvironmentMetrics, GetEnvironmentMetrics, GetSpaceMetrics, SpaceMetrics
from spaceport.contracts.record import MAX_IDS, Counts, GetSheetCounts, SheetCountsList
from spaceport.contracts.record import SERVICE as RECORD
from spaceport.errors import NotFoundError, ServiceUnavailableError
from spaceport.messaging import RpcClient

CATCH_UP = 10.0  # seconds a query waits for the projection to reach the stream's end
SheetCounts = Callable[[Sequence[str]], Awaitable[dict[str, Counts]]]


def record_counts(rpc: RpcClient) -> SheetCounts:
    """The record service's counts of sheets, asked `MAX_IDS` at a time."""

    async def counts(sheet_ids: Sequence[str]) -> dict[str, Counts]:
        found: dict[str, Counts] = {}
        for start in range(0, len(sheet_ids), MAX_IDS):
            query = GetSheetCounts(sheet_ids=list(sheet_ids[start : start + MAX_IDS]))
            found.update((await rpc.request(RECORD, query, SheetCountsList)).counts)
        return found

    return counts


class MetricsService:
    def __init__(
        self,
        queries: MetricsQueries,
        last_position: Callable[[], Awaitable[int]],
        wait_for: Callable[[int, float], Awaitable[bool]],
        counts: SheetCounts,
    ) -> None:
        self.queries = queries
        self.last_position = last_position
        self.wait_for = wait_for
        self.counts = counts

    async def caught_up(self) -> None:
        position = await self.last_position()
        if not await self.wait_for(position, CATCH_UP):
            raise ServiceUnavailableError("the metrics are catching up with the event stream; retry shortly")

    async def _counts(self, sheet_ids: Sequence[str]) -> dict[str, Counts]:
        return await self.counts(sheet_ids) if sheet_ids else {}

    async def space(self, query: GetSpaceMetrics) -> SpaceMetrics:
        await self.caught_up()
        found = await self.queries.space(query.space_id)
        if found is None:
            raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
        row, sheet_ids = found
        return views.space_view(row, sheet_ids, await self._counts(sheet_ids))

    async def environment(self, query: GetEnvironmentMetrics) -> EnvironmentMetrics:
        await self.caught_up()
        sums, sheets = await self.queries.environment(query.environment_id, query.app_id)
        counts = await self._counts(list(sheets))
        return views.environment_view(query.environment_id, query.app_id, sums, sheets, counts)
