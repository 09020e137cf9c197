"""A cell version's provenance from its commit's source: the file, the column's header and the
source row of an import (`CommitSource.rows`, runs in insert order), a mapping's source sheet,
field and row; else the actor's kind."""

from __future__ import annotations

import msgspec
import pytest

from job_service.history.service import provenance_of
from spaceport.contracts.record import CommitSource, row_at, row_runs

pytestmark = pytest.mark.unit


def test_rows_are_runs_in_insert_order() -> None:
    assert row_runs([]) == []
    assert row_runs([1, 2, 3]) == [(1, 3)]
    runs = row_runs([1, 2, 4, 5, 6, 9])  # rows 3, 7 and 8 deleted before the mapping
    assert runs == [(1, 2), (4, 3), (9, 1)]
    assert [row_at(runs, n) for n in range(7)] == [1, 2, 4, 5, 6, 9, None]
    # as the history keeps it (JSON): lists, not tuples
    as_json = msgspec.json.decode(msgspec.json.encode(CommitSource(rows=runs)))["rows"]
    assert as_json == [[1, 2], [4, 3], [9, 1]] and row_at(as_json, 3) == 5
    assert row_at(None, 0) is None


def test_an_extracted_value_names_its_file_header_and_row() -> None:
    source = {"job_id": "us_jb_x", "file_id": "us_fl_1", "fields": {"full_name": "Full Name"}, "rows": [[1, 2]]}
    found = provenance_of("us_ag_extractor", "insert", source, "full_name", 2)
    assert (found.kind, found.file_id, found.job_id) == ("file", "us_fl_1", "us_jb_x")
    assert (found.source_field, found.source_column, found.source_row) == ("full_name", "Full Name", 2)
    older = provenance_of("us_ag_extractor", "insert", {"file_id": "us_fl_1"}, "full_name")  # before rows existed
    assert (older.source_column, older.source_row) == (None, None)


def test_a_mapped_value_names_its_source_sheet_field_and_row() -> None:
    source = {"job_id": "us_jb_m", "sheet_id": "us_sh_src", "fields": {"name": "full_name"}, "rows": [[1, 9]]}
    found = provenance_of("us_ag_mapper", "insert", source, "name", 7)
    assert (found.kind, found.source_sheet_id, found.source_field, found.source_row) == (
        "mapping",
        "us_sh_src",
        "full_name",
        7,
    )
    assert found.file_id is None and found.source_column is None  # filled in from the source sheet's extraction
    api = provenance_of("us_key_1", "update", None, "name")
    assert (api.kind, api.source_row, api.source_column) == ("api", None, None)


def test_a_restores_value_names_the_position_it_restored_to() -> None:
    source = msgspec.to_builtins(CommitSource(restored_to=41))  # as CommitCreated carries it
    found = provenance_of("us_key_1", "insert", source, "name")
    assert (found.kind, found.restored_to, found.commit_kind) == ("restore", 41, "insert")
    assert provenance_of("us_key_1", "update", None, "name").kind == "api"  # any other write by a key
