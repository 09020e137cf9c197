"""`spaceport cleanup`, `history` and `restore`: space administration through the `/v1` API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from spaceport.cli.api import Api, ApiError, pages
from spaceport.cli.errors import CliError


def parse_time(value: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"{what} {value!r} is not an ISO-8601 time (e.g. 2026-12-01T10:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- cleanup ------------------------------------------------------------------------------


def archived_older_than(
    api: Api, days: float, environment_id: str | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The archived spaces whose `archivedAt` is at least `days` days ago, oldest first."""
    if days < 0:
        raise CliError("--archived-older-than must be 0 or more days")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    found = []
    for space in pages(api, "/spaces", archived="true", environmentId=environment_id):
        archived = space.get("archivedAt")
        if archived and parse_time(archived, "archivedAt") <= cutoff:
            found.append(space)
    return sorted(found, key=lambda s: str(s.get("archivedAt")))


def delete_space(api: Api, space_id: str) -> None:
    api.delete(f"/spaces/{space_id}")


# ---- history ------------------------------------------------------------------------------


def versions(api: Api, space_id: str, *, sheet_id: str | None, limit: int) -> list[dict[str, Any]]:
    """The space's newest `limit` versions (`GET /v1/spaces/{id}/versions`); exit 2 when the server
    has no such endpoint."""
    if limit < 1:
        raise CliError("--limit must be at least 1")
    found: list[dict[str, Any]] = []
    number, size = 1, min(limit, 1000)  # one page size throughout: pageNumber counts pages of it
    try:
        while len(found) < limit:
            params = {"pageSize": size, "pageNumber": number, **({"sheetId": sheet_id} if sheet_id else {})}
            response = api.request("GET", f"/spaces/{space_id}/versions", params=params)
            body = response.json()
            items = body.get("data") or []
            found.extend(items)
            if not items or number >= int((body.get("pagination") or {}).get("pageCount") or 1):
                break
            number += 1
    except ApiError as problem:
        if problem.status == 404:
            api.get(f"/spaces/{space_id}")  # an unknown space is its own (exit 1) error
            raise CliError(
                f"this server does not list versions (GET /v1/spaces/{space_id}/versions answered 404)", code=2
            ) from None
        raise
    return found[:limit]


def counts_text(version: dict[str, Any]) -> str:
    counts = version.get("counts") or {}
    events = counts.get("events") or {}
    text = ", ".join(f"{n} {kind}" for kind, n in sorted(events.items()))
    records = counts.get("records")
    return f"{text}; {records} records" if records else text


# ---- restore ------------------------------------------------------------------------------

NOT_SUPPORTED = "this server does not support restore yet"


def restore_moment(version: str | None, at: str | None, sequence: int | None = None) -> dict[str, Any]:
    if sum(given is not None for given in (version, at, sequence)) != 1:
        raise CliError("pass exactly one of --version, --at or --sequence")
    if sequence is not None:
        if sequence < 0:
            raise CliError("--sequence is a stream position (0 or more)")
        return {"sequence": sequence}
    if at is not None:
        parse_time(at, "--at")
        return {"dateTime": at}
    assert version is not None
    return {"versionId": version}


def restore(api: Api, space_id: str, moment: dict[str, Any], *, sheet_id: str | None, preview: bool) -> Any:
    """The preview (`GET …/restore`), or the restore job `POST …/restore` started."""
    query = {**moment, **({"sheetId": sheet_id} if sheet_id else {})}
    try:
        if preview:
            return api.get(f"/spaces/{space_id}/restore", **query)
        return api.post(f"/spaces/{space_id}/restore", query)
    except ApiError as problem:
        if problem.status == 405:
            raise CliError(NOT_SUPPORTED) from None
        if problem.status == 404:
            api.get(f"/spaces/{space_id}")  # an unknown space says so
            text = str(problem).lower()
            if not any(word in text for word in ("version", "commit", "sheet")):  # not the route's own 404
                raise CliError(NOT_SUPPORTED) from None
        raise
