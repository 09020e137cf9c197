"""One write = one commit = one atomic append, on the shared conflict loop (`run_command`).

Each attempt waits until this process's last commit to the sheet is projected, reads the sheet
at its `version` and decides against the read model at that version; the append is guarded by
it, so when another writer got in first the projection catches up and the write is decided
again. A write retried with its idempotency key is answered from the events that landed,
whether its commit is found by key in the read model or the store reports the append a
duplicate (the first attempt's ack was lost): never from what the retry decided.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, cast

import msgspec

from record_service.application.context import Context, Sheet
from record_service.application.ports import RecordQueries
from record_service.application.reads import RawWireRecord
from record_service.domain import keys
from record_service.domain import records as domain
from record_service.domain.space import require_writable
from record_service.projections.records import LeanCommit, LeanRecord, LeanRecords
from spaceport import known_spaces, subjects
from spaceport.aggregate import Append, Decision, Outcome, Replay, run_command
from spaceport.contracts.record import (
    AGGREGATE,
    CommitSource,
    RecordConfig,
    RestoredClaim,
    StoredRecord,
    WireRecord,
    Written,
)
from spaceport.errors import ConflictError, PayloadTooLargeError
from spaceport.events import Envelope
from spaceport.ports import MAX_ATOMIC_BATCH, AppendContext, AppendResult


@dataclass(frozen=True)
class Encoded:
    """Records decided and encoded by the columnar path (`domain.columns`): StoredRecord JSON each."""

    records: Sequence[bytes]


@dataclass(frozen=True)
class Restored:
    """A snapshot restore's records (kind `restore`): updated ones and ones inserted again, in one commit."""

    updated: list[StoredRecord]
    created: list[StoredRecord]


@dataclass(frozen=True)
class Revived:
    """A space/sheet restore's re-created records, as they were at `position` (`RecordsRestored`:
    ids and the unique values they hold again, no cells)."""

    position: int
    record_ids: list[str]
    claims: list[RestoredClaim]


# (records written: full state, ids deleted)
Decided = tuple[list[StoredRecord] | Encoded | Restored | Revived, list[str]]
Decide = Callable[[Sheet, RecordQueries], Awaitable[Decided]]
_lean_records = msgspec.json.Decoder(LeanRecords)
_lean_commit = msgspec.json.Decoder(LeanCommit)
_lean_record = msgspec.json.Decoder(LeanRecord)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Write:
    """Who writes what kind of commit to which sheet, and its idempotency key."""

    sheet_id: str
    kind: str  # insert | update | delete | find-replace | restore (a snapshot's: `Restored` records)
    actor: str
    key: str | None
    disable_hooks: bool = False  # sent with `X-Disable-Hooks: true` (the listener's own writes)
    reply_records: bool = True  # inserts: the reply carries the inserted records (bulk imports: no)
    source: CommitSource | None = None  # provenance carried by CommitCreated (import and mapping jobs)


@dataclass(frozen=True)
class Commit:
    """A commit as decided or as read back: its id, size and (inserts) the records it created.
    `commit_id` None: nothing to write, the sheet stays at `position`."""

    commit_id: str | None
    record_count: int
    records: Sequence[WireRecord | RawWireRecord] = ()
    position: int = 0
    claims: dict[str, dict[str, str]] | None = None  # overlapped unique inserts: name -> value -> holder


class WithClaims:
    """The read model's queries, with the unique values this process's unprojected inserts hold
    (`Context.claimed`) counted as held too."""

    def __init__(self, queries: RecordQueries, claimed: dict[str, dict[str, str]]) -> None:
        self.queries = queries
        self.claimed = claimed

    async def claims_held(self, sheet_id: str, name: str, values: Collection[str]) -> dict[str, str]:
        found = await self.queries.claims_held(sheet_id, name, values)
        mine = self.claimed.get(name)
        if not mine:
            return found
        return {**{v: mine[v] for v in values if v in mine}, **found}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.queries, name)


async def commit(ctx: Context, write: Write, sheet: Sheet, decide: Decide) -> Written:
    """Decide `write` against its sheet and append it; refused while the space is archived or deleted.

    `sheet` is the caller's read of it (where it lives); each attempt reads it again at its
    current version."""
    await _require_writable_space(ctx, sheet)
    context = AppendContext(idempotency_key=keys.append_key(sheet.id, write.key))
    async with ctx.lock(sheet.id):
        try:
            done = await run_command(
                ctx.store,
                sheet.ref,
                partial(_attempt, ctx, write, decide, sheet),
                context,
                landed=partial(landed, ctx, sheet, write.kind if write.reply_records else "bulk"),
                on_conflict=partial(_conflicted, ctx, sheet.id),
            )
        except BaseException:
            ctx.forget_claims(sheet.id)  # the append's outcome may be unknown: settle next time
            raise
        if done.result is not None and not done.result.duplicate and done.value.claims:
            ctx.hold_claims(sheet.id, done.value.claims)  # under the lock: the next insert sees them
        if done.result is not None and write.key is not None and (keyed := ctx.keyed.get(sheet.id)) is not None:
            keyed[write.key] = (done.result.first_seq, done.result.last_seq)  # a retry finds it unprojected
    return await _written(ctx, write, done)


async def _conflicted(ctx: Context, sheet_id: str) -> None:
    """Another writer got in first: it may have freed values this process holds in memory, and
    once caught up the read model has every claim of this process's own commits."""
    ctx.forget_claims(sheet_id)
    await ctx.catch_up()


async def _require_writable_space(ctx: Context, sheet: Sheet) -> None:
    """Against the directory once it has read the space's last event (read-your-writes across
    services: a space archived a moment ago refuses the next write)."""
    version = (await ctx.store.load(known_spaces.space_ref(sheet.space_id, sheet.environment_id))).version
    require_writable(await ctx.model.space(sheet.space_id, position=version), sheet.space_id)


async def _attempt(ctx: Context, write: Write, decide: Decide, known: Sheet) -> Decision[Commit]:
    """`known`: the caller's read of the sheet. An insert into a sheet without references does
    not wait for this process's last commit to be projected (the projection of one batch overlaps
    the decision of the next); it is guarded by the position of that commit instead of the read
    model's version. Unique values are then decided against the read model plus the values this
    process's unprojected inserts claimed (`Context.claimed`, valid while every write of this
    process to the sheet since it last settled was such an insert; any other write settles and
    forgets them). An insert with an idempotency key (a mapping's pages) overlaps the same way
    while this process tracks the keys of its commits to the sheet since it last settled it
    (`Context.keyed`): the guard makes those the only unprojected commits of the sheet, so a
    retry is recognised by the read model (`commit_by_key`) or, when its first attempt is not
    projected yet, by that memory."""
    eligible = write.kind == "insert" and not known.schema.has_references
    # a unique insert overlaps only while the claims of all this process's unprojected commits
    # to the sheet are in memory (an entry in ctx.claimed; none after any other write)
    overlap = eligible and (not known.schema.uniques or ctx.may_claim(write.sheet_id))
    own_keys = ctx.own_keys(write.sheet_id)
    if write.key is not None and own_keys is None:
        overlap = False
    if not overlap:
        await ctx.settled(write.sheet_id)
        ctx.forget_claims(write.sheet_id)
        ctx.keyed[write.sheet_id] = {}  # every earlier commit is in the read model now
    elif write.key is not None and own_keys is not None and (mine := own_keys.get(write.key)) is not None:
        return Replay(AppendResult(first_seq=mine[0], last_seq=mine[1], event_ids=[], duplicate=True))
    sheet = await ctx.sheet(write.sheet_id)
    if overlap and (own := ctx.written.get(sheet.id, 0)) > sheet.version:
        sheet = replace(sheet, version=own)
    # settled or not, from here on the read model plus these claims are all that is held
    claimed = ctx.claimed.setdefault(sheet.id, {}) if eligible and sheet.schema.uniques else None
    if sheet.schema.has_references:
        # References are resolved against other sheets' records: this process's own recent
        # commits to them must be projected first (read-your-writes).
        await ctx.wait_for(max(ctx.written.values(), default=0), timeout=60.0)
    async with ctx.model.session() as q:
        earlier = await q.commit_by_key(sheet.id, write.key) if write.key is not None else None
        if earlier is not None:
            return Replay(
                AppendResult(first_seq=earlier.first_seq, last_seq=earlier.last_seq, event_ids=[], duplicate=True)
            )
        view = q if claimed is None else cast(RecordQueries, WithClaims(q, claimed))
        records, deleted = await decide(sheet, view)
    return _decision(sheet, write, records, deleted, claims=claimed is not None)


def _decision(
    sheet: Sheet,
    write: Write,
    decided: list[StoredRecord] | Encoded | Restored | Revived,
    deleted: list[str],
    *,
    claims: bool = False,
) -> Append[Commit]:
    """`claims`: collect the unique values the records claim (an overlapped insert: they count as
    held for this process's next insert until the sheet is settled)."""
    if isinstance(decided, Revived):
        return _revived(sheet, write, decided, claims=claims)
    created: list[StoredRecord] = []
    encoded: Sequence[bytes] = ()
    if isinstance(decided, Restored):
        records, created = decided.updated, decided.created
    elif isinstance(decided, Encoded):
        records, encoded = [], decided.records
    else:
        records = decided
    if not records and not encoded and not deleted and not created:
        return Append(Commit(None, 0, position=sheet.version), (), sheet.version)
    commit_id = keys.commit_id(sheet.id, write.key)
    events = domain.commit_events(
        write.kind,
        sheet.scope(commit_id),
        records,
        deleted,
        created_by=write.actor,
        idempotency_key=write.key,
        disable_hooks=write.disable_hooks,
        encoded=encoded,
        created=created,
        source=write.source,
    )
    if len(events) > MAX_ATOMIC_BATCH:
        raise PayloadTooLargeError("this write needs more than 1,000 events; split it into smaller requests")
    reply = write.kind == "insert" and write.reply_records
    leans = [_lean_record.decode(b) for b in encoded] if reply or claims else []
    inserted: list[WireRecord | RawWireRecord] = []
    if reply:
        inserted = [_wire(r, commit_id) for r in records]
        inserted += [_raw_wire(lean, commit_id) for lean in leans]
    # Guarded by the version the write was decided at: a conflict never reads the sheet's
    # history, the write is decided again against the caught-up read model.
    count = len(records) + len(encoded) + len(deleted) + len(created)
    held: dict[str, dict[str, str]] | None = None
    if claims:
        held = {}
        pairs = [(r.id, r.claims) for r in records] + [(lean.id, lean.claims) for lean in leans]
        for record_id, claimed in pairs:
            for name, value in claimed.items():
                held.setdefault(name, {})[value] = record_id
    return Append(Commit(commit_id, count, inserted, claims=held), events, sheet.version)


def _revived(sheet: Sheet, write: Write, revived: Revived, *, claims: bool) -> Append[Commit]:
    """`claims`: as for `_decision` (an overlapped insert: the values count as held for this
    process's next insert until the sheet is settled)."""
    if not revived.record_ids:
        return Append(Commit(None, 0, position=sheet.version), (), sheet.version)
    commit_id = keys.commit_id(sheet.id, write.key)
    events = domain.revive_events(
        sheet.scope(commit_id),
        revived.position,
        revived.record_ids,
        revived.claims,
        created_by=write.actor,
        source=write.source,
    )
    if len(events) > MAX_ATOMIC_BATCH:
        raise PayloadTooLargeError("this restore chunk needs more than 1,000 events")
    held: dict[str, dict[str, str]] | None = None
    if claims:
        held = {}
        for claim in revived.claims:
            held.setdefault(claim.name, {})[claim.value] = claim.record_id
    return Append(Commit(commit_id, len(revived.record_ids), claims=held), events, sheet.version)


async def landed(ctx: Context, sheet: Sheet, kind: str, result: AppendResult) -> Commit:
    """The commit stored at `result`, read back from the stream: its `CommitCreated` closes it
    at `last_seq`; an insert's records are in the record events before it."""
    first = result.first_seq if kind == "insert" else result.last_seq
    where = subjects.aggregate_filter(ctx.store.prefix, sheet.space_id, AGGREGATE, sheet.id)
    events = [await ctx.store.open(m) async for m in ctx.store.read_raw(where, from_seq=first, to_seq=result.last_seq)]
    if not events or events[-1].type != "CommitCreated":
        raise ConflictError("this Idempotency-Key was used for another request; use a new key", key="idempotencyKey")
    closing = _lean_commit.decode(events[-1].data)
    return Commit(closing.commit_id, closing.record_count, _inserted(events))


def _inserted(events: list[Envelope]) -> list[RawWireRecord]:
    found = (_lean_records.decode(e.data) for e in events if e.type == "RecordsInserted")
    return [_raw_wire(r, event.commit_id) for event in found for r in event.records]


async def _written(ctx: Context, write: Write, done: Outcome[Commit]) -> Written:
    if done.result is None:
        return Written(commit_id=None, position=done.value.position, record_count=0)
    # Not waiting for the projection here: the next write or read of this sheet in this
    # process waits for it first (read-your-writes), so the projection of this commit
    # overlaps the client's next request.
    ctx.committed(write.sheet_id, done.result.last_seq)
    reply = write.kind == "insert" and write.reply_records
    records = await ctx.claims.pack(_encoder.encode(done.value.records)) if reply else None
    return Written(
        commit_id=done.value.commit_id,
        position=done.result.last_seq,
        record_count=done.value.record_count,
        records=records,
    )


def _wire(record: StoredRecord, commit_id: str) -> WireRecord:
    return WireRecord(
        id=record.id,
        values=record.values,
        valid=record.valid,
        metadata=record.metadata,
        config=record.config or RecordConfig(),
        commit_id=commit_id,
        version_id=commit_id,
    )


def _raw_wire(record: LeanRecord, commit_id: str) -> RawWireRecord:
    return RawWireRecord(
        id=record.id,
        values=record.values,
        valid=record.valid,
        metadata=record.metadata,
        config=record.config,
        commit_id=commit_id,
        version_id=commit_id,
    )
