"""The metrics answers, shaped from the read model's rows and the record service's counts: pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from job_service.metrics.counting import SpaceCounters
from job_service.metrics.queries import AppSums
from spaceport.contracts.metrics import AppMetrics, EnvironmentMetrics, FileMetrics, RecordMetrics, SpaceMetrics
from spaceport.contracts.record import Counts


def valid_and_error(sheet_ids: Iterable[str], counts: Mapping[str, Counts]) -> tuple[int, int]:
    """Sums over `sheet_ids`; a sheet the record service has no counts for holds no records."""
    found = [counts[s] for s in sheet_ids if s in counts]
    return sum(c.valid for c in found), sum(c.error for c in found)


def space_view(row: SpaceCounters, sheet_ids: Sequence[str], counts: Mapping[str, Counts]) -> SpaceMetrics:
    valid, error = valid_and_error(sheet_ids, counts)
    seconds = (row.first_submit_at - row.created_at).total_seconds() if row.first_submit_at else None
    return SpaceMetrics(
        space_id=row.space_id,
        environment_id=row.environment_id,
        app_id=row.app_id,
        created_at=row.created_at,
        last_activity_at=row.last_activity_at,
        first_submit_at=row.first_submit_at,
        seconds_to_first_submit=seconds,
        events=row.events,
        guests=row.guests,
        files=FileMetrics(current=row.files, created=row.files_created),
        records=RecordMetrics(
            created=row.records_created,
            updated=row.records_updated,
            deleted=row.records_deleted,
            valid=valid,
            error=error,
        ),
    )


def _latest(times: Iterable[datetime | None]) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _average(seconds: float, submitted: int) -> float | None:
    return seconds / submitted if submitted else None


def app_view(sums: AppSums, valid: int, error: int) -> AppMetrics:
    return AppMetrics(
        app_id=sums.app_id,
        spaces=sums.spaces,
        submitted_spaces=sums.submitted_spaces,
        average_seconds_to_first_submit=_average(sums.seconds_to_first_submit, sums.submitted_spaces),
        last_activity_at=sums.last_activity_at,
        events=sums.events,
        guests=sums.guests,
        files=FileMetrics(current=sums.files, created=sums.files_created),
        records=RecordMetrics(
            created=sums.records_created,
            updated=sums.records_updated,
            deleted=sums.records_deleted,
            valid=valid,
            error=error,
        ),
    )


def environment_view(
    environment_id: str,
    app_id: str | None,
    sums: Sequence[AppSums],
    sheets: Mapping[str, str | None],
    counts: Mapping[str, Counts],
) -> EnvironmentMetrics:
    """Totals over every app's sums, and each app's (`sheets`: sheet id -> its space's app)."""
    by_app: dict[str | None, list[str]] = {}
    for sheet_id, app in sheets.items():
        by_app.setdefault(app, []).append(sheet_id)
    apps = [app_view(s, *valid_and_error(by_app.get(s.app_id, []), counts)) for s in sums]
    submitted = sum(s.submitted_spaces for s in sums)
    return EnvironmentMetrics(
        environment_id=environment_id,
        app_id=app_id,
        spaces=sum(a.spaces for a in apps),
        submitted_spaces=submitted,
        average_seconds_to_first_submit=_average(sum(s.seconds_to_first_submit for s in sums), submitted),
        last_activity_at=_latest(a.last_activity_at for a in apps),
        events=sum(a.events for a in apps),
        guests=sum(a.guests for a in apps),
        files=FileMetrics(current=sum(a.files.current for a in apps), created=sum(a.files.created for a in apps)),
        records=RecordMetrics(
            created=sum(a.records.created for a in apps),
            updated=sum(a.records.updated for a in apps),
            deleted=sum(a.records.deleted for a in apps),
            valid=sum(a.records.valid for a in apps),
            error=sum(a.records.error for a in apps),
        ),
        apps=apps,
    )
