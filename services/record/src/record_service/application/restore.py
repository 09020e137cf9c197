"""Restore: a sheet's records (or every sheet's of a space) brought back to how they were at an
earlier stream position, by appending commits — history is never rewritten, and a restore is
itself undone by restoring to the position before it (`SheetRestore.before`).

The earlier state is read from the read model as of that position (`query.as_of_table`: live
rows written before it and the superseded versions of `record_history`). The difference with
now is computed once per sheet in SQL (records created since, updated since, deleted since;
cells compared without their `updatedAt`), then applied in chunks of `CHUNK` records, in this
order so unique values are freed before they are taken again: deletes, reverts, re-creates.
Each chunk is one commit through the ordinary write path (`commit`): decided at the sheet's
current version, validated against its current fields (client messages kept, server messages
and unique constraints decided again), so listeners see ordinary `commit:created` events.
Writes made while a restore runs are kept (they are not part of the difference computed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from record_service.application import snapshot_diff
from record_service.application.checks import checked
from record_service.application.commit import Decided, Encoded, Revived, Write, commit
from record_service.application.context import ServiceContext, Sheet
from record_service.application.ports import RecordQueries
from record_service.application.query import QUERY_TIMEOUT, as_of_position
from record_service.domain import records as domain
from record_service.domain.validation import unique_value
from record_service.projections import sheet_indexes
from spaceport.contracts.record import (
    Cell,
    CommitSource,
    RecordQuery,
    RestoredClaim,
    RestoreRecords,
    RestoreReport,
    SheetRestore,
    StoredRecord,
)
from spaceport.errors import ForbiddenError, NotFoundError, ServiceUnavailableError
from spaceport.events import utcnow
from spaceport.readmodel import Conn

log = logging.getLogger(__name__)
CHUNK = 10_000  # records per restore commit
REVIVE_CHUNK = 50_000  # records per re-create commit (compact: 10 events of ids)
PROGRESS_EVERY = 2.0  # seconds between progress reports of a running restore
SETTLE_WAIT = 60.0  # seconds between a restore's progress reports while its last commit is projected
SETTLE_LIMIT = 1800.0  # past it a written restore fails (not yet readable) instead of waiting on
PREVIEW_TTL = 600.0  # seconds a preview's difference is kept for the job that executes it
PREVIEWS_KEPT = 8  # differences kept (the latest previews)
KEPT_IDS = 2_000_000  # ids kept over all of them (~25 bytes each)
_stored = msgspec.json.Decoder(StoredRecord)
_cells = msgspec.json.Decoder(dict[str, Cell])
_values = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()
Progress = Callable[[int, int], Awaitable[None]]


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    created: list[str]  # ids created since the position: deleted by a restore
    updated: list[str]  # ids whose state changed since: reverted
    deleted: list[str]  # ids deleted since: re-created


class _Kept(msgspec.Struct, frozen=True):
    """A sheet's difference as a preview computed it: valid while the sheet's version is the same
    (every records event of the sheet moves it), the ids of each kind joined by newlines (one
    string each: a 1,000,000-record difference kept as ~25 MB, not a million objects)."""

    version: int
    at: float
    count: int
    created: str
    updated: str
    deleted: str


def _split(joined: str) -> list[str]:
    return joined.split("\n") if joined else []


class _Reports:
    """A running restore's progress reports: at most one every PROGRESS_EVERY seconds (each is a
    request to the job service and an event, 0.1-0.8 s under load), sent while the next chunk is
    decided, at most one in flight, so they arrive in order."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.pending: asyncio.Future[None] | None = None
        self.at = 0.0

    async def report(self, done: int, total: int) -> None:
        if self.progress is None or time.perf_counter() - self.at < PROGRESS_EVERY:
            return
        await self.flush()
        self.pending = asyncio.ensure_future(self.progress(done, total))
        self.at = time.perf_counter()

    async def flush(self) -> None:
        """Until the last report is answered (its error raised here)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            await pending

    def abandon(self) -> None:
        """The restore failed: a report in flight completes on its own, its error left unraised."""
        if self.pending is not None:
            self.pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            self.pending = None


class RestoreHandlers:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # (sheet id, position) -> the difference a preview computed: the job that executes the
        # restore right after it (POST previews first) does not compute it again
        self._kept: dict[tuple[str, int], _Kept] = {}

    async def _difference(self, conn: Conn, sheet: Sheet, position: int, *, preview: bool) -> Difference:
        """The sheet's difference with `position`: a preview's is kept; a preview or an execution
        takes the one kept at the sheet's current version (nothing written to the sheet since, so
        the same difference) or computes it — the POST's own check after a GET preview does not
        compute it again either; an execution takes it once (a retried run computes it)."""
        now = time.monotonic()
        for key in [k for k, kept in self._kept.items() if now - kept.at > PREVIEW_TTL]:
            del self._kept[key]
        key = (sheet.id, position)
        kept = self._kept.get(key) if preview else self._kept.pop(key, None)
        if kept is not None and kept.version == sheet.version:
            return Difference(created=_split(kept.created), updated=_split(kept.updated), deleted=_split(kept.deleted))
        diff = await difference(conn, sheet, position)
        count = len(diff.created) + len(diff.updated) + len(diff.deleted)
        if preview and count <= KEPT_IDS:
            self._kept.pop(key, None)
            while self._kept and (
                len(self._kept) >= PREVIEWS_KEPT or sum(k.count for k in self._kept.values()) + count > KEPT_IDS
            ):
                del self._kept[next(iter(self._kept))]  # the oldest
            joined = ("\n".join(ids) for ids in (diff.created, diff.updated, diff.deleted))
            self._kept[key] = _Kept(sheet.version, now, count, *joined)
        return diff

    async def restore(self, cmd: RestoreRecords, progress: Progress | None = None) -> RestoreReport:
        """`progress(done, total)` after a commit of an execution (records written of all sheets'),
        at most every `PROGRESS_EVERY` seconds."""
        if cmd.principal.kind != "secret":
            raise ForbiddenError("restoring records takes a secret key of the environment")
        await self.ctx.catch_up()
        async with (await self.ctx.pool()).acquire() as conn:
            sheets = await self._sheets(conn, cmd)
            as_of = await _space_position(conn, cmd.space_id, cmd.as_of)
        out = []
        plans: list[tuple[Sheet, SheetRestore, Difference]] = []
        for sheet_id in sheets:
            await self.ctx.settled(sheet_id)
            sheet = await self.ctx.sheet(sheet_id)
            async with (await self.ctx.pool()).acquire() as conn:
                position = await as_of_position(conn, sheet, RecordQuery(as_of=as_of))
                assert position is not None
                diff = await self._difference(conn, sheet, position, preview=cmd.preview)
            chosen = Difference(
                created=diff.created if cmd.created else [],
                updated=diff.updated if cmd.updated else [],
                deleted=diff.deleted if cmd.deleted else [],
            )
            report = SheetRestore(
                sheet_id=sheet.id,
                workbook_id=sheet.workbook_id,
                position=position,
                created_since=len(chosen.created),
                updated_since=len(chosen.updated),
                deleted_since=len(chosen.deleted),
                before=sheet.version,
            )
            plans.append((sheet, report, chosen))
        total = sum(r.created_since + r.updated_since + r.deleted_since for _, r, _ in plans)
        done = [0]
        for sheet, planned, chosen in plans:
            if cmd.preview:
                out.append(planned)
                continue
            commits = await self._apply(cmd, sheet, planned.position, chosen, done, total, progress)
            out.append(msgspec.structs.replace(planned, commit_ids=commits))
        return RestoreReport(space_id=cmd.space_id, preview=cmd.preview, sheets=out)

    async def _sheets(self, conn: Conn, cmd: RestoreRecords) -> list[str]:
        if cmd.sheet_id is not None:
            found = await conn.fetchval(
                "SELECT id FROM sheet WHERE id = $1 AND space_id = $2 AND NOT deleted", cmd.sheet_id, cmd.space_id
            )
            if found is None:
                raise NotFoundError(f"sheet {cmd.sheet_id[:80]} is not a sheet of space {cmd.space_id[:80]}")
            return [str(found)]
        rows = await conn.fetch("SELECT id FROM sheet WHERE space_id = $1 AND NOT deleted ORDER BY id", cmd.space_id)
        return [r["id"] for r in rows]

    async def _apply(  # noqa: PLR0917 - the sheet's plan and the run's progress
        self,
        cmd: RestoreRecords,
        sheet: Sheet,
        position: int,
        diff: Difference,
        done: list[int],
        total: int,
        progress: Progress | None,
    ) -> list[str]:
        """No idempotency keys: a rerun computes the difference again and writes only what still
        differs (a key per chunk would match a different chunk of an earlier run's difference)."""
        commits: list[str] = []
        began = time.perf_counter()
        reports = _Reports(progress)
        bulk = len(diff.deleted) >= sheet_indexes.MIN_RECORDS  # a bulk re-create: see drop_for_bulk, hold_off
        try:
            for kind, ids in (("delete", diff.created), ("update", diff.updated), ("insert", diff.deleted)):
                if kind == "insert" and bulk:
                    async with (await self.ctx.pool()).acquire() as conn:
                        await sheet_indexes.hold_off(conn, sheet.id)
                        await sheet_indexes.drop_for_bulk(conn, sheet.id)
                step = REVIVE_CHUNK if kind == "insert" else CHUNK
                for start in range(0, len(ids), step):
                    chunk = ids[start : start + step]
                    # no inserted records in the reply (re-creating 1,000,000 would fill the claim-check store)
                    write = Write(
                        sheet_id=sheet.id,
                        kind=kind,
                        actor=cmd.principal.actor,
                        key=None,
                        reply_records=False,
                        source=CommitSource(restored_to=position),  # cell history: provenance `restore`
                    )
                    written = await commit(self.ctx, write, sheet, self._decider(kind, position, chunk))
                    if written.commit_id is not None:
                        commits.append(written.commit_id)
                    done[0] += len(chunk)
                    await reports.report(done[0], total)
                    if kind == "insert" and bulk:
                        await self._hold(sheet.id)
            # the restore is done once its records are readable: its last commit projected
            await self._readable(sheet.id, len(commits), reports, done[0], total, hold=bulk)
            await reports.flush()
        finally:
            reports.abandon()
            if bulk:
                async with (await self.ctx.pool()).acquire() as conn:
                    await sheet_indexes.release(conn, sheet.id)
        count = len(diff.created) + len(diff.updated) + len(diff.deleted)
        seconds = time.perf_counter() - began
        log.info("restored %d records of sheet %s in %d commits, %.1f s", count, sheet.id, len(commits), seconds)
        return commits

    async def _hold(self, sheet_id: str) -> None:
        async with (await self.ctx.pool()).acquire() as conn:
            await sheet_indexes.hold_off(conn, sheet_id)

    async def _readable(
        self, sheet_id: str, commits: int, reports: _Reports, done: int, total: int, *, hold: bool = False
    ) -> None:
        """Until the records projection applied this process's last commit to the sheet, reporting
        progress meanwhile (a silent job would look stuck). A job is never complete before its
        records are readable: past SETTLE_LIMIT it fails, saying the commits landed."""
        began = time.monotonic()
        while not await self.ctx.settled(sheet_id, timeout=SETTLE_WAIT):
            waited = time.monotonic() - began
            log.warning("restore of sheet %s: written; the projection is applying it (%.0f s)", sheet_id, waited)
            if waited >= SETTLE_LIMIT:
                raise ServiceUnavailableError(
                    f"its {commits} commits were written, but the records projection had not applied them"
                    f" {waited:.0f} s later; they become readable once it catches up (see GET /health)"
                )
            await reports.report(done, total)
            if hold:
                await self._hold(sheet_id)

    def _decider(self, kind: str, position: int, ids: Sequence[str]) -> Any:
        async def decide(sheet: Sheet, q: RecordQueries) -> Decided:
            if kind == "delete":
                gone = await q.existing(sheet.id, ids)
                return await checked(q, sheet, [], gone, replaces=True), gone
            if kind == "insert" and not sheet.schema.has_references:
                compact = await self._revived(sheet, q, position, ids)
                if compact is not None:
                    return compact, []
            present = set(await q.existing(sheet.id, ids))
            async with (await self.ctx.pool()).acquire() as conn:
                since = await conn.fetchval("SELECT config_seq FROM sheet WHERE id = $1", sheet.id)
                fields = sorted({f for u in sheet.schema.uniques for f in u.fields})
                then = await snapshot_diff.then_rows(conn, sheet.id, position, ids, since or 0, fields)
            # reverted: those still there; re-created: those not re-created meanwhile (left as they are)
            wanted = [t for t in then if (t.id in present) == (kind == "update")]
            return Encoded(await rebuilt(q, sheet, wanted, replaces=kind == "update")), []

        return decide

    async def _revived(self, sheet: Sheet, q: RecordQueries, position: int, ids: Sequence[str]) -> Revived | None:
        """The chunk as one compact re-create (`RecordsRestored`: ids and claims, the projection
        copies each version from `record_history`), when every record to re-create keeps its
        version as it was: validated under the current fields, free of unique-constraint
        messages, and winning each unique value it wants now. None: the chunk takes the full
        path (`rebuilt`), which decides such records again."""
        async with (await self.ctx.pool()).acquire() as conn:
            since = await conn.fetchval("SELECT config_seq FROM sheet WHERE id = $1", sheet.id)
            fields = sorted({f for u in sheet.schema.uniques for f in u.fields})
            args = (sheet.id, list(ids), position, since or 0, fields)
            rows = await snapshot_diff.history_versions(conn, _REVIVABLE_RANGE, _REVIVABLE, args)
            # re-created meanwhile: left as it is (one index scan of `record_id`, in id order)
            live = await conn.fetch(
                "SELECT id, sheet_id FROM record WHERE id = ANY($1::text[])", list(ids), timeout=QUERY_TIMEOUT
            )
        now = {r["id"] for r in live if r["sheet_id"] == sheet.id}
        wanted = sorted((r for r in rows if r["id"] not in now), key=lambda r: int(r["row_no"]))
        if not all(r["decided"] for r in wanted):
            return None
        claims = await self._claims(sheet, q, wanted)
        if claims is None:
            return None
        return Revived(position=position, record_ids=[r["id"] for r in wanted], claims=claims)

    async def _claims(self, sheet: Sheet, q: RecordQueries, wanted: Sequence[Any]) -> list[RestoredClaim] | None:
        """The unique values the re-created records (`wanted`: rows of `_REVIVED`, in row order)
        hold again, each record's in the order of the sheet's unique keys; None when one of them
        would not win each value it wants. As `checked` decides an insert (first holder wins; the
        claims of the records written are decided again), without a Python object per cell:
        `u` holds just the values of the cells the unique keys read."""
        uniques = sheet.schema.uniques
        if not uniques:
            return []
        values = [(str(r["id"]), _values.decode(r["u"])) for r in wanted]
        mine = {rid for rid, _ in values}
        by_key: dict[str, dict[str, str]] = {}
        for u in uniques:
            claimed: dict[str, str] = {}  # value -> the record of the chunk that wants it
            for rid, plain in values:
                value = unique_value(u, plain)
                if value is None:
                    continue
                if claimed.setdefault(value, rid) != rid:
                    return None  # two records of the chunk want it: the later one would be flagged
            held = await q.claims_held(sheet.id, u.name, set(claimed))
            if any(holder not in mine for holder in held.values()):
                return None  # held by a record that is not re-created here: flagged
            by_key[u.name] = {rid: value for value, rid in claimed.items()}
        return [
            RestoredClaim(rid, u.name, by_key[u.name][rid])
            for rid, _ in values
            for u in uniques
            if rid in by_key[u.name]
        ]


# The versions a re-create brings back (deleted since: each one's last version is in
# `record_history`, `seq <= position < seq_to`), read by `snapshot_diff.history_versions`:
# `decided` as in `snapshot_diff.then_rows`, `u` the values of the cells its unique keys read
# (JSON object of field key -> value, null when the cell has none). $1 sheet, $2 ids (in row
# order), $3 position, $4 the sheet's last config change, $5 the unique keys' fields.
_REVIVED = (
    f"h.id, h.row_no, h.seq > $4::bigint AND {snapshot_diff.unflagged('h')} AS decided,"
    " (SELECT coalesce(jsonb_object_agg(k, h.cells->k->'value'), '{}') FROM unnest($5::text[]) k"
    "   WHERE h.cells ? k)::text AS u"
)
# the versions then of rows $6..$7 (one range scan), and a probe per id of those out of that range
_REVIVABLE_RANGE = snapshot_diff.versions_in_rows(_REVIVED)
_REVIVABLE = snapshot_diff.versions_of_ids(_REVIVED)


async def rebuilt(q: RecordQueries, sheet: Sheet, then: Sequence[snapshot_diff.Then], *, replaces: bool) -> list[bytes]:
    """The records as they were (`then`), decided again, as StoredRecord JSON in that order (a
    record a freed unique value heals comes first).

    A version `decided` under the sheet's current fields keeps its cells as they were — its
    validation stands — and is not decoded: only the cells its unique keys read are, as a
    stand-in for `checked`, which decides uniqueness for everything again. Any other version
    (validated under earlier fields, flagged for a unique value, or in a sheet with references)
    is validated again against the current fields (`domain.revalidate`)."""
    fast = not sheet.schema.has_references
    now = utcnow()
    stand_ins: dict[str, str] = {}  # record id -> its JSON as it was (kept unless flagged now)
    records: list[StoredRecord] = []
    for t in then:
        if fast and t.decided:
            stand_ins[t.id] = t.record
            if sheet.schema.uniques:
                records.append(StoredRecord(id=t.id, values=_cells.decode(t.uniques)))
        else:
            records.append(domain.revalidate(sheet.schema, _stored.decode(t.record), now))
    if not sheet.schema.uniques and not sheet.schema.has_references:  # nothing else to decide
        slow = {r.id: _encoder.encode(r) for r in records}
        return [slow[t.id] if t.id not in stand_ins else t.record.encode() for t in then]
    decided = await checked(q, sheet, records, replaces=replaces)
    out: list[bytes] = []
    for record in decided:
        kept = stand_ins.get(record.id)
        if kept is None:
            out.append(_encoder.encode(record))
        elif record.waits:  # its unique value is held now: flagged, so its cells change
            full = _stored.decode(kept)
            done = domain.finish(record.id, {**full.values, **record.values}, full.metadata, full.config)
            out.append(_encoder.encode(msgspec.structs.replace(done, claims=record.claims, waits=record.waits)))
        elif record.claims:
            out.append(f'{kept[:-1]}, "claims" : {_encoder.encode(record.claims).decode()}}}'.encode())
        else:
            out.append(kept.encode())
    return out


async def difference(conn: Conn, sheet: Sheet, position: int) -> Difference:
    """What changed in the sheet's records since `position`, each list in row order: the
    snapshot diff's set operations (`snapshot_diff.ids`), named as a restore undoes them."""
    found = await snapshot_diff.ids(conn, sheet.id, position)
    return Difference(created=found["createdSince"], updated=found["updatedSince"], deleted=found["deletedSince"])


async def _space_position(conn: Conn, space_id: str, as_of: str) -> str:
    """A record commit id of any sheet of the space becomes its stream position (each sheet is
    then read as of it); a time or a sequence is taken per sheet as it is."""
    if not as_of.startswith(("us_vr_", "dev_vr_")):
        return as_of
    found = await conn.fetchval(
        "SELECT c.last_seq FROM record_commit c JOIN sheet s ON s.id = c.sheet_id WHERE c.id = $1 AND s.space_id = $2",
        as_of,
        space_id,
    )
    if found is None:
        raise NotFoundError(f"version {as_of[:80]} is not a commit of space {space_id[:80]}", key="versionId")
    return str(found)
