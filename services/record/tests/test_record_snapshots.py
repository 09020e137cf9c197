"""The snapshot aggregate (given-when-then over plain lists) and a restore commit's event order."""

from __future__ import annotations

import pytest

from record_service.application.snapshot_diff import schema_diff
from record_service.domain import records, snapshot
from spaceport.contracts.record import (
    Cell,
    CommitCreated,
    RawRecordsInserted,
    RawRecordsUpdated,
    RecordsDeleted,
    StoredRecord,
)
from spaceport.contracts.snapshot import CreateSnapshot, SnapshotCreated, SnapshotDeleted
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError

pytestmark = pytest.mark.unit
KEY = Principal(kind="secret", environment_id="us_env_1", actor="us_key_1")
SCOPE = {"sheet_id": "us_sh_1", "workbook_id": "us_wb_1", "space_id": "us_sp_1", "commit_id": "us_vr_1"}


def fold(events: list[object]) -> snapshot.SnapshotState:
    state = snapshot.initial()
    for event in events:
        state = snapshot.evolve(state, event)  # type: ignore[arg-type]
    return state


def created(label: str | None = "x") -> list[object]:
    cmd = CreateSnapshot(principal=KEY, sheet_id="us_sh_1", label=label)
    return list(snapshot.create(fold([]), "us_ss_1", "us_wb_1", "us_sp_1", cmd))


def test_create_then_delete() -> None:
    [event] = created()
    assert isinstance(event, SnapshotCreated)
    assert (event.sheet_id, event.label, event.created_by) == ("us_sh_1", "x", "us_key_1")
    [gone] = snapshot.delete(fold([event]), "us_ss_1")
    assert gone == SnapshotDeleted(snapshot_id="us_ss_1", sheet_id="us_sh_1")


def test_refusals() -> None:
    with pytest.raises(ValidationFailedError):
        created("x" * 1025)
    with pytest.raises(ConflictError):
        snapshot.create(fold(created()), "us_ss_1", "us_wb_1", "us_sp_1", CreateSnapshot(principal=KEY, sheet_id="s"))
    with pytest.raises(NotFoundError):
        snapshot.delete(fold([]), "us_ss_1")
    [gone] = snapshot.delete(fold(created()), "us_ss_1")
    with pytest.raises(NotFoundError):
        snapshot.delete(fold([*created(), gone]), "us_ss_1")


def test_a_restore_commit_frees_values_before_taking_them() -> None:
    """Deletes, then updates, then inserts, then CommitCreated(kind=restore) counting them all."""
    one = StoredRecord(id="us_rc_1", values={"a": Cell(value=1)})
    two = StoredRecord(id="us_rc_2", values={"a": Cell(value=2)})
    events = records.commit_events("restore", SCOPE, [one], ["us_rc_3"], created_by="k", created=[two])
    assert [type(e) for e in events] == [RecordsDeleted, RawRecordsUpdated, RawRecordsInserted, CommitCreated]
    closing = events[-1]
    assert isinstance(closing, CommitCreated)
    assert (closing.kind, closing.events, closing.record_count) == ("restore", 3, 3)


def test_schema_diff() -> None:
    assert schema_diff(["a", "b"], ["b", "c"]) == {"a": "removed", "b": "unchanged", "c": "added"}
