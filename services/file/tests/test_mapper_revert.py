"""The `workbook:map` worker's page loop (`Mapping._map`) on a scripted RPC: a failure after pages
landed deletes exactly their records (ids derived from each page's key) and says so."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import pytest

from file_service.entrypoints import mapper
from file_service.entrypoints.mapper import MapJob, Mapping, MappingFailedError, mapping_fields, principal
from spaceport.claimcheck import ClaimCheck, Payload
from spaceport.contracts.blueprint import SheetConfig
from spaceport.contracts.job import AckJob, JobWritten
from spaceport.contracts.record import (
    MAX_IDS,
    Counts,
    DeleteRecords,
    FieldMapping,
    GetCounts,
    GetRecords,
    Mapped,
    MapRecords,
    RecordsReply,
    Written,
)
from spaceport.contracts.workbook import SheetView
from spaceport.errors import ConflictError, ServiceUnavailableError, ValidationFailedError
from spaceport.ids import derived_ids
from spaceport.messaging import RpcClient

pytestmark = pytest.mark.unit

ENV, JOB = "us_env_t", "us_jb_t"
SOURCE, DEST = "us_sh_source", "us_sh_dest"
NOW = datetime(2026, 1, 2, tzinfo=UTC)
FIELDS = [FieldMapping(source="name", destination="full_name")]
JOB_SPEC = MapJob(
    job_id=JOB,
    environment_id=ENV,
    source="us_wb_a",
    destination="us_wb_b",
    source_sheet_id=SOURCE,
    destination_sheet_id=DEST,
)


def sheet(sheet_id: str, workbook_id: str) -> SheetView:
    config = msgspec.convert({"name": sheet_id, "fields": [{"key": "name", "type": "string"}]}, SheetConfig)
    return SheetView(
        id=sheet_id,
        workbook_id=workbook_id,
        space_id="us_sp_t",
        environment_id=ENV,
        name=sheet_id,
        slug=sheet_id,
        config=config,
        created_at=NOW,
        updated_at=NOW,
    )


def page(count: int, last_row: int, *, done: bool = False, position: int = 0) -> Mapped:
    commit = f"us_vr_{last_row}" if count else None
    written = Written(commit_id=commit, position=position or last_row + 100, record_count=count)
    return Mapped(written=written, read=count, last_row=last_row, done=done)


class FakeRpc:
    """Answers by command type: MapRecords with the scripted pages (an exception is raised),
    AckJob ok `acks` times then "job canceled", GetCounts with `total`, DeleteRecords recorded."""

    def __init__(self, pages: list[Mapped | Exception], *, acks: int = 1, total: int = 100, settle: bool = True):
        self.pages = list(pages)
        self.acks = acks
        self.total = total
        self.settle = settle
        self.mapped: list[MapRecords] = []
        self.acked: list[AckJob] = []
        self.deleted: list[DeleteRecords] = []
        self.settled: list[GetRecords] = []

    async def request(self, service: str, command: Any, reply_type: Any, timeout: float | None = None) -> Any:
        match command:
            case MapRecords():
                assert reply_type is Mapped
                self.mapped.append(command)
                answer = self.pages.pop(0)
                if isinstance(answer, Exception):
                    raise answer
                return answer
            case AckJob():
                assert reply_type is JobWritten
                self.acked.append(command)
                if len(self.acked) > self.acks:
                    raise ConflictError("job canceled")
                return JobWritten(job_id=command.job_id, position=1)
            case GetCounts():
                assert reply_type is Counts
                return Counts(total=self.total, valid=self.total, error=0)
            case DeleteRecords():
                assert reply_type is Written
                self.deleted.append(command)
                return Written(commit_id="us_vr_del", position=1, record_count=len(command.ids))
            case GetRecords():
                assert reply_type is RecordsReply
                self.settled.append(command)
                if not self.settle:
                    raise ServiceUnavailableError("records read model timed out")
                return RecordsReply(records=Payload(data=b"[]"))
        raise AssertionError(f"unexpected command {command!r}")


def mapping(rpc: FakeRpc) -> Mapping:
    return Mapping(cast(RpcClient, rpc), cast(ClaimCheck, None))


async def run_map(rpc: FakeRpc) -> int:
    return await mapping(rpc)._map(principal(ENV), JOB_SPEC, sheet(SOURCE, "us_wb_a"), sheet(DEST, "us_wb_b"), FIELDS)


def expected_ids(*pages: tuple[int, int]) -> list[str]:
    """The record ids of pages (after_row, count) inserted into DEST."""
    return [i for after, n in pages for i in derived_ids("record", f"{DEST}:{JOB}:map:{after}", n)]


def sent_ids(rpc: FakeRpc) -> list[str]:
    return [i for command in rpc.deleted for i in command.ids]


# ---- the page loop -----------------------------------------------------------------------------


async def test_pages_are_keyed_by_the_row_they_start_after() -> None:
    rpc = FakeRpc([page(2, 2), page(2, 4), page(1, 5, done=True, position=900)], acks=10, total=5)
    assert await run_map(rpc) == 5
    assert [(c.after_row, c.idempotency_key) for c in rpc.mapped] == [
        (0, f"{JOB}:map:0"),
        (2, f"{JOB}:map:2"),
        (4, f"{JOB}:map:4"),
    ]
    assert all((c.source_sheet_id, c.destination_sheet_id, c.fields) == (SOURCE, DEST, FIELDS) for c in rpc.mapped)
    assert [(a.info, a.progress) for a in rpc.acked] == [("Mapped 2 records", 40), ("Mapped 4 records", 80)]
    assert [q.min_position for q in rpc.settled] == [900]
    assert rpc.deleted == []


# ---- a failure after pages landed reverts them ------------------------------------------------


async def test_a_job_canceled_after_pages_landed_deletes_their_records() -> None:
    rpc = FakeRpc([page(3, 3), page(4, 9), page(1, 10, done=True)], acks=1)
    with pytest.raises(MappingFailedError, match="the 7 records it had inserted were removed") as failed:
        await run_map(rpc)
    assert "job canceled" in str(failed.value)
    assert isinstance(failed.value.__cause__, ConflictError)
    assert len(rpc.mapped) == 2  # it stopped at the refused ack
    assert sent_ids(rpc) == expected_ids((0, 3), (3, 4))
    assert all(c.sheet_id == DEST for c in rpc.deleted)
    assert all(c.principal == principal(ENV) for c in rpc.deleted)


async def test_the_revert_is_sent_in_chunks_of_max_ids() -> None:
    big, rest = MAX_IDS + 2_000, MAX_IDS - 1_000
    rpc = FakeRpc([page(big, big), page(0, big + 50), page(rest, big + 50 + rest)], acks=2)
    with pytest.raises(MappingFailedError, match=f"the {big + rest} records it had inserted were removed"):
        await run_map(rpc)
    wanted = expected_ids((0, big), (big + 50, rest))  # the empty page landed nothing: no ids of its key
    assert sent_ids(rpc) == wanted
    assert len(set(wanted)) == big + rest
    assert [len(c.ids) for c in rpc.deleted] == [MAX_IDS, MAX_IDS, big + rest - 2 * MAX_IDS]
    assert all(len(c.ids) <= MAX_IDS for c in rpc.deleted)
    keys = [c.idempotency_key for c in rpc.deleted]
    assert len(set(keys)) == len(keys)
    assert all(k is not None and k.startswith(f"{JOB}:revert:") for k in keys)


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 503 outlasts the retry budget at once (the worker retries one for WRITE_TIMEOUT s)."""
    monkeypatch.setattr(mapper, "WRITE_TIMEOUT", 0.0)


async def test_a_page_answered_503_is_sent_again_with_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The record service died mid-page (or restarts): the same keyed page is asked again."""
    monkeypatch.setattr(mapper, "RETRY_PAUSE", 0.0)
    rpc = FakeRpc([page(2, 2), ServiceUnavailableError("did not answer"), page(1, 3, done=True)], acks=10)
    assert await run_map(rpc) == 3
    assert [c.idempotency_key for c in rpc.mapped] == [f"{JOB}:map:0", f"{JOB}:map:2", f"{JOB}:map:2"]
    assert rpc.deleted == []


@pytest.mark.usefixtures("no_retries")
async def test_a_page_that_fails_after_others_landed_reverts_them() -> None:
    rpc = FakeRpc([page(2, 2), ServiceUnavailableError("record service unavailable")], acks=10)
    with pytest.raises(MappingFailedError, match="the 2 records it had inserted were removed") as failed:
        await run_map(rpc)
    assert "record service unavailable" in str(failed.value)
    assert sent_ids(rpc) == expected_ids((0, 2))


@pytest.mark.usefixtures("no_retries")
async def test_a_failure_while_settling_reverts_every_page() -> None:
    rpc = FakeRpc([page(2, 2), page(1, 3, done=True)], acks=10, settle=False)
    with pytest.raises(MappingFailedError, match="the 3 records it had inserted were removed"):
        await run_map(rpc)
    assert sent_ids(rpc) == expected_ids((0, 2), (2, 1))


# ---- a failure before any page landed is the error itself -------------------------------------


async def test_a_failure_before_any_page_landed_is_reraised_without_a_revert() -> None:
    refused = ValidationFailedError("'nope' is not a field of the source sheet", key="fields")
    rpc = FakeRpc([refused])
    with pytest.raises(ValidationFailedError) as raised:
        await run_map(rpc)
    assert raised.value is refused
    assert rpc.deleted == []


async def test_a_cancel_after_empty_pages_is_reraised_without_a_revert() -> None:
    rpc = FakeRpc([page(0, 5), page(0, 9), page(0, 9, done=True)], acks=1)
    with pytest.raises(ConflictError, match="job canceled"):
        await run_map(rpc)
    assert rpc.deleted == []


# ---- mapping_fields ---------------------------------------------------------------------------


def edge(source: str, destination: str, enum: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"sourceField": {"key": source}, "destinationField": {"key": destination}}
    if enum is not None:
        found["enumDetails"] = {"mapping": enum}
    return found


def test_mapping_fields_carry_enum_details_as_value_maps() -> None:
    plan = {
        "fieldMapping": [
            edge("name", "full_name"),
            edge(
                "level",
                "tier",
                [
                    {"sourceValue": "Gold", "destinationValue": "gold"},
                    {"sourceValue": 1, "destinationValue": "silver"},
                    {"sourceValue": "Bronze", "destinationValue": None},  # unmapped: left out
                    {"sourceValue": None, "destinationValue": "gold"},
                ],
            ),
            {**edge("age", "years"), "enumDetails": None},
        ]
    }
    assert mapping_fields(plan) == [
        FieldMapping(source="name", destination="full_name", values={}),
        FieldMapping(source="level", destination="tier", values={"Gold": "gold", "1": "silver"}),
        FieldMapping(source="age", destination="years", values={}),
    ]


@pytest.mark.parametrize("plan", [{}, {"fieldMapping": []}, {"fieldMapping": None}], ids=["no-key", "empty", "null"])
def test_mapping_fields_of_an_empty_plan_are_refused(plan: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        mapping_fields(plan)
    assert refused.value.key == "fieldMapping"
