"""Space metrics (a Spaceport addition to Flatfile's API): what happened in a space, and totals.

The job service computes them from its `metrics` projection (`job_service.metrics`), which counts
as it folds every domain event; a query never scans the event log. Valid and error record counts
are the record service's maintained counters of the space's live sheets (`GetSheetCounts`).
Answers are as of the stream's end when the query arrived (read-your-writes).

Wire names are camelCase; `null` means "not yet" (no submit) or "none" (a space without an app).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

SERVICE = "job"


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A metrics answer: every field is always present (nulls included), so dashboards can rely on it."""


class FileMetrics(Wire, frozen=True, kw_only=True):
    current: int = 0  # files not deleted
    created: int = 0  # files ever uploaded or created


class RecordMetrics(Wire, frozen=True, kw_only=True):
    created: int = 0  # records inserted (a bulk insert of 1,000 counts 1,000)
    updated: int = 0  # record updates (a record updated twice counts twice)
    deleted: int = 0  # records deleted
    valid: int = 0  # records now without an error, in the live sheets
    error: int = 0  # records now with at least one error, in the live sheets


class SpaceMetrics(Wire, frozen=True, kw_only=True):
    space_id: str
    environment_id: str
    app_id: str | None = None
    created_at: datetime
    last_activity_at: datetime | None = None  # the space's latest Flatfile event
    first_submit_at: datetime | None = None  # the first submit job's completion
    seconds_to_first_submit: float | None = None
    events: int = 0  # Flatfile events emitted in the space
    guests: int = 0  # guests with access to the space now
    files: FileMetrics = msgspec.field(default_factory=FileMetrics)
    records: RecordMetrics = msgspec.field(default_factory=RecordMetrics)


class Totals(Wire, frozen=True, kw_only=True):
    """Sums over a set of spaces (the spaces not deleted)."""

    spaces: int = 0
    submitted_spaces: int = 0  # spaces with at least one completed submit job
    average_seconds_to_first_submit: float | None = None  # over the submitted spaces
    last_activity_at: datetime | None = None
    events: int = 0
    guests: int = 0
    files: FileMetrics = msgspec.field(default_factory=FileMetrics)
    records: RecordMetrics = msgspec.field(default_factory=RecordMetrics)


class AppMetrics(Totals, frozen=True, kw_only=True):
    app_id: str | None = None  # None: the spaces of no app


class EnvironmentMetrics(Totals, frozen=True, kw_only=True):
    """An environment's totals (or one app's, with `app_id`), with the breakdown by app."""

    environment_id: str
    app_id: str | None = None  # the filter asked for
    apps: list[AppMetrics] = msgspec.field(default_factory=list)


# ---- queries ---------------------------------------------------------------------------


class GetSpaceMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """-> SpaceMetrics; NotFound for a space never created or deleted. The caller checks the environment."""

    space_id: str


class GetEnvironmentMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """-> EnvironmentMetrics of `environment_id`'s spaces, or of those of app `app_id`."""

    environment_id: str
    app_id: str | None = None
