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


def bind(
    rpc: RpcServer, writes: WriteHandlers, reads: ReadHandlers, completions: CompletionHandlers, bulk: BulkHandlers
) -> None:
    """Subscribe every command and query; `rpc` decodes, calls and encodes the reply."""
    rpc.handle(InsertRecords)(writes.insert)
    rpc.handle(ImportRecords)(bulk.import_records)
    rpc.handle(MapRecords)(bulk.map_records)
    rpc.handle(UpdateRecords)(writes.update)
    rpc.handle(DeleteRecords)(writes.delete)
    rpc.handle(FindReplace)(writes.find_replace)
    rpc.handle(ValidateSheet)(writes.validate)
    rpc.handle(CompleteCommit)(completions.complete)
    rpc.handle(GetSheetScope)(reads.scope)
    rpc.handle(GetRecords)(reads.answer_records)
    rpc.handle(GetCounts)(reads.counts)
    rpc.handle(DownloadChunk)(reads.download)
    rpc.handle(GetCells)(reads.cells)
    rpc.handle(GetRecordIndices)(reads.indices)
    rpc.handle(GetCommit)(reads.commit)
    rpc.handle(ListCommits)(reads.commits)
    rpc.handle(GetSheetCounts)(reads.sheet_counts)


def bind_restore(rpc: RpcServer, restores: RestoreHandlers) -> None:
    rpc.handle(RestoreRecords)(restores.restore)


def bind_snapshots(rpc: RpcServer, snapshots: SnapshotHandlers) -> None:
    rpc.handle(CreateSnapshot)(snapshots.create)
    rpc.handle(DeleteSnapshot)(snapshots.delete)
    rpc.handle(RestoreSnapshot)(snapshots.restore)
    rpc.handle(GetSnapshot)(snapshots.get)
    rpc.handle(ListSnapshots)(snapshots.listing)
    rpc.handle(GetSnapshotRecords)(snapshots.records)
