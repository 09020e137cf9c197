"""The record service's NATS request/reply subjects (`cmd.record.<snake name>`), one per message."""

from __future__ import annotations

from record_service.application.bulk import BulkHandlers
from record_service.application.completion import CompletionHandlers
from record_service.application.reads import ReadHandlers
from record_service.application.restore import RestoreHandlers
from record_service.application.snapshots import SnapshotHandlers
from record_service.application.writes import WriteHandlers
from spaceport.contracts.record import (
    CompleteCommit,
    DeleteRecords,
    DownloadChunk,
    FindReplace,
    GetCells,
    GetCommit,
    GetCounts,
    GetRecordIndices,
    GetRecords,
    GetSheetCounts,
    GetSheetScope,
    ImportRecords,
    InsertRecords,
    ListCommits,
    MapRecords,
    RestoreRecords,
    UpdateRecords,
    ValidateSheet,
)
from spaceport.contracts.snapshot import (
    CreateSnapshot,
    DeleteSnapshot,
    GetSnapshot,
    GetSnapshotRecords,
    ListSnapshots,
    RestoreSnapshot,
)
from spaceport.messaging import RpcServer

# Handled at once per process. Each query holds a pool connection while it reads; its reply is at
# most 10,000 records. Writes to one sheet still go one at a time (`Context.lock`); a write whose
# body came by claim check (> 600 KB) or that selects by query runs alone (`WriteHandlers.sized`),
# so memory stays that of one big write.
READS = 8
WRITES = 8


def bind(
    rpc: RpcServer, writes: WriteHandlers, reads: ReadHandlers, completions: CompletionHandlers, bulk: BulkHandlers
) -> None:
    """Subscribe every command and query; `rpc` decodes, calls and encodes the reply."""
    rpc.handle(InsertRecords, workers=WRITES)(writes.insert)
    rpc.handle(ImportRecords)(bulk.import_records)
    rpc.handle(MapRecords)(bulk.map_records)
    rpc.handle(UpdateRecords, workers=WRITES)(writes.update)
    rpc.handle(DeleteRecords, workers=WRITES)(writes.delete)
    rpc.handle(FindReplace)(writes.find_replace)
    rpc.handle(ValidateSheet)(writes.validate)
    rpc.handle(CompleteCommit, workers=WRITES)(completions.complete)
    rpc.handle(GetSheetScope, workers=READS)(reads.scope)
    rpc.handle(GetRecords, workers=READS)(reads.answer_records)
    rpc.handle(GetCounts, workers=READS)(reads.counts)
    rpc.handle(DownloadChunk, workers=READS)(reads.download)
    rpc.handle(GetCells, workers=READS)(reads.cells)
    rpc.handle(GetRecordIndices, workers=READS)(reads.indices)
    rpc.handle(GetCommit, workers=READS)(reads.commit)
    rpc.handle(ListCommits, workers=READS)(reads.commits)
    rpc.handle(GetSheetCounts, workers=READS)(reads.sheet_counts)


def bind_restore(rpc: RpcServer, restores: RestoreHandlers) -> None:
    rpc.handle(RestoreRecords)(restores.restore)


def bind_snapshots(rpc: RpcServer, snapshots: SnapshotHandlers) -> None:
    rpc.handle(CreateSnapshot)(snapshots.create)
    rpc.handle(DeleteSnapshot)(snapshots.delete)
    rpc.handle(RestoreSnapshot)(snapshots.restore)
    rpc.handle(GetSnapshot)(snapshots.get)
    rpc.handle(ListSnapshots)(snapshots.listing)
    rpc.handle(GetSnapshotRecords)(snapshots.records)
