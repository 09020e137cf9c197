"""Records through the HTTP API next to a raw binary COPY of the same rows, and read latencies.

Runs on the shared platform (every service as a real process on the bench's NATS, Postgres
and S3: `stack`), creates a sheet with 8 fields (one unique, ~10% invalid numbers), inserts
BENCH_RECORDS (default 1,000,000) records with `POST /v1/sheets/{id}/records` in batches of
BENCH_RECORDS_BATCH (10,000), then, once the sheet indexer is idle (its query indexes valid and
its post-build VACUUM finished: `indexer_idle`), times pages of 1,000 records (random page
numbers) and `filter=error` pages. The ceiling is asyncpg `copy_records_to_table` of the same rows (cells as
jsonb) into a table of the same shape, measured in the same run. BENCH_RECORDS_READS=0 times only
the insert and the restore (no page reads, queries, big pages nor the indexed insert).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from spaceport.bench.harness import Bench, Figure, env_int, percentiles, slug

TITLE = "records: HTTP insert and reads vs. raw COPY"
FIELDS: list[dict[str, Any]] = [
    {"key": "first", "type": "string"},
    {"key": "last", "type": "string"},
    {"key": "email", "type": "string", "constraints": [{"type": "unique"}]},
    {"key": "age", "type": "number"},
    {"key": "born", "type": "date"},
    {"key": "tier", "type": "enum", "config": {"options": [{"value": "gold"}, {"value": "silver"}]}},
    {"key": "active", "type": "boolean"},
    {"key": "city", "type": "string"},
]
COPY_COLUMNS = (
    "sheet_id",
    "row_no",
    "id",
    "cells",
    "metadata",
    "valid",
    "error_fields",
    "commit_id",
    "seq",
    "updated_at",
)
_encoder = msgspec.json.Encoder()


def row(i: int) -> dict[str, dict[str, Any]]:
    return {
        "first": {"value": f"First{i}"},
        "last": {"value": f"Last{i % 977}"},
        "email": {"value": f"user{i}@example.com"},
        "age": {"value": "n/a" if i % 10 == 0 else str(18 + i % 60)},
        "born": {"value": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}"},
        "tier": {"value": "gold" if i % 2 else "silver"},
        "active": {"value": "yes" if i % 3 else "no"},
        "city": {"value": f"City {i % 1000}"},
    }


def bodies(total: int, batch: int) -> list[bytes]:
    return [
        _encoder.encode([row(i) for i in range(start, min(start + batch, total))]) for start in range(0, total, batch)
    ]


RECORD_INDEXES = (
    "ALTER TABLE {schema}.record ADD PRIMARY KEY (sheet_id, row_no)",
    "CREATE UNIQUE INDEX ON {schema}.record (id)",
    "CREATE INDEX ON {schema}.record (sheet_id, row_no) WHERE NOT valid",
    "CREATE INDEX ON {schema}.record (sheet_id, seq)",
)


async def copy_ceiling(bench: Bench, total: int, *, indexed: bool = False) -> Figure:
    """Binary COPY of rows shaped like the record table's, cells as jsonb; with `indexed`, into a
    table with the record table's primary key and indexes (the issue's "same records table")."""
    memo = ("copy_ceiling", total, indexed)  # the rebuild part measures the same ceilings: once a run
    if isinstance(found := bench.memo.get(memo), Figure):
        return found
    bench.memo[memo] = figure = await _copy_ceiling(bench, total, indexed=indexed)
    return figure


async def _copy_ceiling(bench: Bench, total: int, *, indexed: bool) -> Figure:
    cells = [_encoder.encode(_stored(r)).decode() for r in (row(i) for i in range(min(total, 100_000)))]
    at = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = [
        ("us_sh_bench", i, f"us_rc_{i:012x}", cells[i % len(cells)], "{}", i % 10 != 0, [], "c", 1, at)
        for i in range(total)
    ]
    schema = bench.schema("records_copy")
    async with bench.pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(
            f"CREATE TABLE {schema}.record (sheet_id text, row_no bigint, id text, cells jsonb, metadata jsonb,"
            " valid boolean, error_fields text[], commit_id text, seq bigint, updated_at timestamptz)"
        )
        for statement in RECORD_INDEXES if indexed else ():
            await conn.execute(statement.format(schema=schema))

        async def copy() -> None:
            for start in range(0, total, 10_000):
                await conn.copy_records_to_table(
                    "record", schema_name=schema, records=rows[start : start + 10_000], columns=COPY_COLUMNS
                )

        label = "raw COPY of the same rows (binary, jsonb cells)" + (", record table's indexes" if indexed else "")
        key = "pg_copy_records" + ("_indexed" if indexed else "")
        figure = await bench.measure(label, total, copy, unit="rows/s", raw=True, key=key)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return figure


def _stored(raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        k: {"value": v["value"], "valid": True, "messages": [], "updatedAt": "2026-01-01T00:00:00Z"}
        for k, v in raw.items()
    }


async def retried(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST until the service behind `path` is up (services start in parallel)."""
    for _ in range(120):
        reply = await api.post(path, json=body)
        if reply.status_code == 200:
            found: dict[str, Any] = reply.json()["data"]
            return found
        await asyncio.sleep(0.25)
    raise RuntimeError(f"POST {path} kept failing: {reply.text}")


async def latencies(api: httpx.AsyncClient, path: str, params_list: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, total seconds) over sequential requests."""
    times = []
    began = time.perf_counter()
    for params in params_list:
        t = time.perf_counter()
        reply = await api.get(path, params=params)
        reply.raise_for_status()
        times.append((time.perf_counter() - t) * 1000)
    p50, p99 = percentiles(times)
    return p50, p99, time.perf_counter() - began


async def run(bench: Bench) -> list[Figure]:
    total = env_int("BENCH_RECORDS", 1_000_000)
    batch = env_int("BENCH_RECORDS_BATCH", 10_000)
    samples = env_int("BENCH_RECORDS_SAMPLES", 200)
    bench.progress(f"generating {total:,} records as {batch:,}-record JSON bodies ...")
    payloads = bodies(total, batch)
    ceiling = await copy_ceiling(bench, total)
    indexed = await copy_ceiling(bench, total, indexed=True)
    # every service runs (the shared platform), the job service too: restores are jobs, and its
    # projections read every records event, as in a deployment. BENCH_RECORDS_RESTORE=0 skips the restore.
    restoring = bool(env_int("BENCH_RECORDS_RESTORE", 1))
    stack = bench.stack()
    with contextlib.nullcontext((stack.api, stack.secret)) as (api_url, secret):
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=600) as api:
            space = (await retried(api, "/spaces", {"name": "bench"}))["id"]
            sheets = [{"name": "People", "slug": "people", "fields": FIELDS}]
            workbook = await retried(api, "/workbooks", {"name": "bench", "spaceId": space, "sheets": sheets})
            sheet = workbook["sheets"][0]["id"]

            async def insert() -> None:
                for body in payloads:
                    reply = await api.post(
                        f"/sheets/{sheet}/records", content=body, headers={"Content-Type": "application/json"}
                    )
                    reply.raise_for_status()

            inserted = await bench.measure(
                f"POST /records, {batch:,} per request (validated, events, projected)",
                total,
                insert,
                unit="rows/s",
                ceilings=(ceiling.as_ceiling(), indexed.as_ceiling()),
                key="api_insert",
            )
            counts = (await api.get(f"/sheets/{sheet}/counts")).json()["data"]["counts"]
            bench.progress(f"    counts: {counts}")
            pages = max(1, total // 1000)
            figures = [ceiling, indexed, inserted]
            if total >= env_int("RECORDS_INDEX_MIN", 50_000):  # the record service's threshold
                figures.append(await indexes_ready(bench, sheet, 1 + len(FIELDS)))
            # BENCH_RECORDS_READS=0: no reads, big pages nor indexed insert (the insert, then the restore)
            if not env_int("BENCH_RECORDS_READS", 1):
                if restoring:
                    figures += await delete_and_restore(bench, api, space, sheet, ceilings=(ceiling, indexed))
                return figures
            figures += await page_figures(bench, api, sheet, pages=pages, errors=counts["error"], samples=samples)
            queries = env_int("BENCH_RECORDS_QUERY_SAMPLES", 50)
            pick = random.Random(11)  # noqa: S311 - search terms, not secrets
            sequence = iter(range(1, queries + 1))
            desc_sequence = iter(range(1, queries + 1))
            for label, make in (
                (
                    "GET searchValue (any field), 1,000-record page",
                    lambda: {"searchValue": f"First{pick.randrange(total)}"},
                ),
                (
                    "GET searchValue + searchField=email, 1,000-record page",
                    lambda: {"searchValue": f"user{pick.randrange(total)}@", "searchField": "email"},
                ),
                (
                    "GET searchValue + filter=error, 1,000-record page",
                    lambda: {"searchValue": f"First{pick.randrange(total // 10)}0", "filter": "error"},
                ),
                (
                    "GET filter=error + filterField=age + sortField=email, first page",
                    lambda: {"filter": "error", "filterField": "age", "sortField": "email"},
                ),
                ("GET sortField=last asc, first page", lambda: {"sortField": "last"}),
                ("GET sortField=last desc, first page", lambda: {"sortField": "last", "sortDirection": "desc"}),
                ("GET sortField=age desc, first page", lambda: {"sortField": "age", "sortDirection": "desc"}),
                ("GET sortField=last, sequential pages", lambda: {"sortField": "last", "pageNumber": next(sequence)}),
                (
                    "GET sortField=born desc, sequential pages",
                    lambda: {"sortField": "born", "sortDirection": "desc", "pageNumber": next(desc_sequence)},
                ),
                (
                    "GET searchValue=City 7 + sortField=first, first page",
                    lambda: {"searchValue": f"City {pick.randrange(100, 1000)}", "sortField": "first"},
                ),
                (
                    "GET sortField=last, 1,000-record page, random pageNumber",
                    lambda: {"sortField": "last", "pageNumber": pick.randint(1, pages)},
                ),
            ):
                params = [{"pageSize": 1000, **make()} for _ in range(queries)]
                p50, p99, seconds = await latencies(api, f"/sheets/{sheet}/records", params)
                bench.progress(f"{label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
                figures.append(
                    Figure(
                        label, len(params), seconds, unit="req/s", key=f"query_{slug(label)}", p50_ms=p50, p99_ms=p99
                    )
                )
            p50, p99, seconds = await latencies(api, f"/sheets/{sheet}/counts", [{}] * samples)
            figures.append(Figure("GET /counts", samples, seconds, unit="req/s", key="counts", p50_ms=p50, p99_ms=p99))
            figures += await big_pages_and_indexed_insert(
                bench, api, sheet, total=total, batch=batch, ceilings=(ceiling, indexed)
            )
            if restoring:
                figures += await delete_and_restore(bench, api, space, sheet, ceilings=(ceiling, indexed))
    return figures


async def delete_and_restore(
    bench: Bench, api: httpx.AsyncClient, space: str, sheet: str, *, ceilings: tuple[Figure, Figure]
) -> list[Figure]:
    """Every record deleted (one request), the deletion previewed as a restore, then restored by a
    `space:restore` job (every record re-created with its id and validated again)."""
    ceiling, indexed = ceilings
    now = await api.get(f"/spaces/{space}/restore", params={"dateTime": "2999-01-01T00:00:00Z", "sheetId": sheet})
    now.raise_for_status()
    before = now.json()["data"]["sheets"][0]["before"]
    total = (await api.get(f"/sheets/{sheet}/counts")).json()["data"]["counts"]["total"]

    async def delete_all() -> None:
        (await api.delete(f"/sheets/{sheet}/records", params={"filter": "all"})).raise_for_status()
        for _ in range(600):  # until projected: a read waits for it, answering 503 past its timeout
            counts = await api.get(f"/sheets/{sheet}/counts")
            if counts.status_code != 503:
                break
        counts.raise_for_status()

    found = [
        await bench.measure(
            "DELETE every record (one request, history kept)", total, delete_all, unit="rows/s", key="delete_all"
        )
    ]
    began = time.perf_counter()
    preview = await api.get(f"/spaces/{space}/restore", params={"sequence": before, "sheetId": sheet})
    preview.raise_for_status()
    seconds = time.perf_counter() - began
    found.append(
        Figure(
            "restore preview of the deletion", 1, seconds, unit="req/s", note=f"{seconds:.2f} s", key="restore_preview"
        )
    )

    for _ in range(240):  # a busy job service may answer 503 for a moment (bounded: 1 min)
        reply = await api.post(f"/spaces/{space}/restore", json={"sequence": before, "sheetId": sheet})
        if reply.status_code != 503:
            break
        await asyncio.sleep(0.25)
    reply.raise_for_status()
    job = reply.json()["data"]  # running from here on (trigger immediate): timed from this answer

    async def restore() -> None:
        nonlocal job
        while job["status"] not in ("complete", "failed"):
            await asyncio.sleep(0.5)
            job = (await api.get(f"/jobs/{job['id']}")).json()["data"]
        if job["status"] != "complete":
            raise RuntimeError(f"the restore job failed: {job.get('outcome')}")
        bench.progress(f"    {job['outcome']['message']}")

    found.append(
        await bench.measure(
            "restore job re-creating every record (validated, events, projected)",
            total,
            restore,
            unit="rows/s",
            ceilings=(ceiling.as_ceiling(), indexed.as_ceiling()),
            key="restore",
        )
    )
    return found


async def big_pages_and_indexed_insert(
    bench: Bench, api: httpx.AsyncClient, sheet: str, *, total: int, batch: int, ceilings: tuple[Figure, Figure]
) -> list[Figure]:
    """50,000-record pages (streamed), then 100,000 more rows into the now indexed sheet."""
    ceiling, indexed = ceilings
    pick = random.Random(13)  # noqa: S311 - page numbers, not secrets
    found: list[Figure] = []
    count = env_int("BENCH_RECORDS_BIG_PAGES", 5)
    big = [{"pageSize": 50_000, "pageNumber": pick.randint(1, max(1, total // 50_000))} for _ in range(count)]
    p50, p99, seconds = await latencies(api, f"/sheets/{sheet}/records", big)
    found.append(
        Figure(
            "GET 50,000-record page (streamed)",
            min(50_000, total) * len(big),
            seconds,
            unit="rows/s",
            key="page_50k",
            p50_ms=p50,
            p99_ms=p99,
        )
    )
    more = bodies(min(total, 100_000), batch)

    async def insert_more() -> None:
        for body in more:
            reply = await api.post(
                f"/sheets/{sheet}/records",
                content=body.replace(b'@example.com"', b'@again.com"'),
                headers={"Content-Type": "application/json"},
            )
            reply.raise_for_status()

    found.append(
        await bench.measure(
            f"POST /records into the indexed sheet ({len(FIELDS) + 1} query indexes), {batch:,} per request",
            min(total, 100_000),
            insert_more,
            unit="rows/s",
            ceilings=(ceiling.as_ceiling(), indexed.as_ceiling()),
            key="api_insert_indexed",
        )
    )
    return found


async def page_figures(
    bench: Bench, api: httpx.AsyncClient, sheet: str, *, pages: int, errors: int, samples: int
) -> list[Figure]:
    """Random and sequential 1,000-record pages, and random `filter=error` pages, once the sheet
    indexer is idle (`indexer_idle`)."""
    # reads measure the steady state: after the sheet indexer's post-build VACUUM
    found = await indexer_idle(bench, api, sheet, pages=pages, samples=samples)
    for key, label, extra, page_count in (
        ("page_random", "GET 1,000-record page, random pageNumber", {}, pages),
        (
            "page_error",
            "GET filter=error, 1,000-record page, random pageNumber",
            {"filter": "error"},
            max(1, errors // 1000),
        ),
        ("page_sequential", "GET 1,000-record page, sequential pages", {}, pages),
    ):
        if "sequential" in label:
            params = [{"pageSize": 1000, "pageNumber": n + 1, **extra} for n in range(min(samples, pages))]
        else:
            pick = random.Random(7)  # noqa: S311 - page numbers, not secrets
            params = [{"pageSize": 1000, "pageNumber": pick.randint(1, page_count), **extra} for _ in range(samples)]
        before = await maintenance(bench)
        p50, p99, seconds = await latencies(api, f"/sheets/{sheet}/records", params)
        after = await maintenance(bench)
        overlap = "" if before == after == "none" else f"maintenance at start: {before}; at end: {after}"
        bench.progress(f"{label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms" + (f" ({overlap})" if overlap else ""))
        found.append(Figure(label, len(params), seconds, unit="req/s", key=key, p50_ms=p50, p99_ms=p99, note=overlap))
    return found


async def maintenance(bench: Bench) -> str:
    """The VACUUMs and ANALYZEs running in the database now (autovacuum's or the indexer's, of
    any table: each competes with the reads for the two cores), or "none"."""
    async with bench.pool.acquire() as conn:
        found = await conn.fetchval(
            "SELECT string_agg(what, ', ' ORDER BY what) FROM ("
            " SELECT 'VACUUM ' || relid::regclass::text AS what FROM pg_stat_progress_vacuum"
            " UNION ALL SELECT 'ANALYZE ' || relid::regclass::text FROM pg_stat_progress_analyze) m"
        )
    return str(found) if found else "none"


async def _vacuum_state(conn: Any, table: int, loaded: datetime) -> tuple[bool, str]:
    """(finished, what runs now) of the indexer's post-build VACUUM of the record table (oid
    `table`): a manual VACUUM of it ended after `loaded` (`last_vacuum`) and no VACUUM or ANALYZE
    of it (the indexer's or autovacuum's: the progress views show both) is running."""
    row = await conn.fetchrow(
        "SELECT coalesce(last_vacuum >= $2, false) AS vacuumed,"
        " (SELECT phase || ' ' || heap_blks_scanned || '/' || heap_blks_total || ' blocks'"
        "  FROM pg_stat_progress_vacuum WHERE relid = $1 LIMIT 1) AS vacuum,"
        " (SELECT phase FROM pg_stat_progress_analyze WHERE relid = $1 LIMIT 1) AS analyze"
        " FROM pg_stat_all_tables WHERE relid = $1",
        table,
        loaded,
    )
    running = [
        f"VACUUM {row['vacuum']}" if row["vacuum"] else "",
        f"ANALYZE {row['analyze']}" if row["analyze"] else "",
    ]
    what = ", ".join(r for r in running if r)
    return bool(row["vacuumed"]) and not what, what or ("done" if row["vacuumed"] else "not started")


async def indexer_idle(bench: Bench, api: httpx.AsyncClient, sheet: str, *, pages: int, samples: int) -> list[Figure]:
    """Wait (bounded: BENCH_RECORDS_VACUUM_WAIT s, default 900) until the sheet indexer is idle:
    its indexes are valid (`indexes_ready`, before this) and the `VACUUM (ANALYZE) record` it
    runs after the last one finished (`last_vacuum` later than the bulk load, no vacuum or
    analyze of the table in progress), so the reads after it measure the steady state. While
    that vacuum runs, random pages are timed once first (the pages a person reads meanwhile).
    Nothing to wait for on a sheet without query indexes (below RECORDS_INDEX_MIN)."""
    limit = env_int("BENCH_RECORDS_VACUUM_WAIT", 900)
    found: list[Figure] = []
    loaded = bench.memo.get(("records_loaded", sheet))
    if not isinstance(loaded, datetime):
        return found
    began = time.perf_counter()
    async with bench.pool.acquire() as conn:
        table = await conn.fetchval(
            "SELECT i.indrelid::bigint FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname LIKE $1 LIMIT 1",
            f"rx\\_{sheet}\\_%",
        )
        if table is None:
            bench.progress("    no query index found: not waiting for the indexer's vacuum")
            return found
        done, what = await _vacuum_state(conn, table, loaded)
        if not done and what != "not started":
            pick = random.Random(5)  # noqa: S311 - page numbers, not secrets
            params = [{"pageSize": 1000, "pageNumber": pick.randint(1, pages)} for _ in range(samples)]
            p50, p99, seconds = await latencies(api, f"/sheets/{sheet}/records", params)
            after = (await _vacuum_state(conn, table, loaded))[1]
            label = "GET 1,000-record page, random pageNumber, during the indexer's VACUUM"
            bench.progress(f"{label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms (vacuum at start: {what}; at end: {after})")
            found.append(
                Figure(label, samples, seconds, unit="req/s", key="page_random_vacuum", p50_ms=p50, p99_ms=p99)
            )
        shown = 0.0
        while not done and time.perf_counter() - began < limit:
            if time.perf_counter() - shown >= 5:
                bench.progress(f"    waiting for the indexer's VACUUM (ANALYZE) of record: {what}")
                shown = time.perf_counter()
            await asyncio.sleep(0.5)
            done, what = await _vacuum_state(conn, table, loaded)
    seconds = time.perf_counter() - began
    state = "finished" if done else f"NOT finished after {limit} s ({what}): the reads below overlap it"
    bench.progress(f"    indexer idle: its VACUUM {state}, {seconds:.1f} s after the indexes were ready")
    found.append(
        Figure(
            "sheet indexer idle (post-build VACUUM (ANALYZE) done) after the indexes were ready",
            1,
            seconds,
            unit="waits/s",
            note=f"{seconds:.1f} s" if done else f"not finished after {seconds:.0f} s",
            key="indexer_idle",
        )
    )
    return found


async def indexes_ready(bench: Bench, sheet: str, expected: int) -> Figure:
    """How long after the last insert the sheet's query indexes are all built (the record
    service builds them once the sheet is big and quiet: `sheet_indexes`)."""
    began = time.perf_counter()
    bench.progress(f"waiting for the sheet's {expected} query indexes ...")
    async with bench.pool.acquire() as conn:
        bench.memo["records_loaded", sheet] = await conn.fetchval("SELECT now()")  # for `indexer_idle`
        while time.perf_counter() - began < 1800:
            built = await conn.fetchval(
                "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname LIKE $1 AND i.indisvalid",
                f"rx\\_{sheet}\\_%",
            )
            if built >= expected:
                break
            await asyncio.sleep(0.5)
    seconds = time.perf_counter() - began
    bench.progress(f"    {expected} indexes ready {seconds:.1f} s after the last insert")
    return Figure(
        "query indexes built after the bulk load (until then queries scan)",
        expected,
        seconds,
        unit="indexes/s",
        note=f"{seconds:.1f} s",
        key="indexes_ready",
    )


if __name__ == "__main__":
    from spaceport.bench.__main__ import main

    sys.exit(main(["records"]))
