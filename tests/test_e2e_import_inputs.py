"""Imports of awkward and varied input files through the whole platform.

1. Bad inputs over the HTTP API (`POST /v1/files`, mode import): each either fails its
   `file:extract` job with a message that says what is wrong (and where, when the reader knows),
   marks the file failed and leaves no workbook, or, where the extractor documents it as valid
   (a header without rows, duplicate or blank headers), completes; the next upload in the same
   space is extracted fine either way.
2. Formats: delimited text in several dialects and encodings, XLSX with two worksheets, JSON and
   JSON Lines, each read back as the source workbook's sheets, field labels and records.
3. The official `flatfile` SDK drives a whole import: upload, extract, destination workbook, map
   job, plan read and edited, execute, mapped and validated records.

No XLSX writer is installed (no openpyxl/xlsxwriter): workbooks are written part by part with
`zipfile`, as services/file/tests/test_extract_spreadsheet.py does."""

from __future__ import annotations

import codecs
import dataclasses
import datetime
import io
import json
import random
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pydantic
import pytest
from flatfile import (
    Edge,
    Flatfile,
    MappingProgramJobConfig,
    Property_Number,
    Property_String,
    SheetConfig,
)

from spaceport.testing.platform import Platform
from spaceport.testing.spreadsheets import xlsx_bytes

T = TypeVar("T")
JOB_DEADLINE = 60.0  # a file:extract or workbook:map job finishes within this
READ_DEADLINE = 20.0  # a read model catches up within this
POLL = 0.2

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JSON_MIME = "application/json"


# ---- helpers ------------------------------------------------------------------------------------


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text}"
    return reply.json()["data"]


def eventually(probe: Callable[[], T | None], what: str, timeout: float = READ_DEADLINE) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(POLL)


def log_tail(platform: Platform, service: str = "file", lines: int = 15) -> str:
    path = platform.log_dir / f"{service}.log"
    if not path.exists():
        return f"(no {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def tag() -> str:
    return uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def place(api: httpx.Client) -> dict[str, str]:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": f"import inputs {tag()}"}))["id"]
    return {"environment": environment, "space": space}


def upload(api: httpx.Client, place: dict[str, str], name: str, content: bytes, mimetype: str) -> str:
    form = {"spaceId": place["space"], "environmentId": place["environment"]}
    file_id: str = ok(api.post("/files", data=form, files={"file": (name, content, mimetype)}))["id"]
    return file_id


def finished_extract(api: httpx.Client, file_id: str) -> dict[str, Any]:
    """The file's `file:extract` job once it is complete or failed (within JOB_DEADLINE)."""

    def probe() -> dict[str, Any] | None:
        jobs = ok(api.get("/jobs", params={"fileId": file_id}))
        done = [j for j in jobs if j["operation"] == "extract" and j["status"] in ("complete", "failed")]
        return done[0] if done else None

    return eventually(probe, f"the file:extract job of {file_id}", timeout=JOB_DEADLINE)


def records(api: httpx.Client, sheet_id: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok(api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 1000}))["records"]
    return listed


def values(record: dict[str, Any]) -> dict[str, Any]:
    """A record's cell values, null cells left out (JSON's null and missing keys)."""
    return {k: cell.get("value") for k, cell in record["values"].items() if cell.get("value") is not None}


def workbook_names(api: httpx.Client, place: dict[str, str]) -> list[str]:
    return [w["name"] for w in ok(api.get("/workbooks", params={"spaceId": place["space"]}))]


def sheets_of(api: httpx.Client, workbook_id: str) -> list[dict[str, Any]]:
    """[{name, fields: [(key, label, type)], records: [values]}] of a workbook, in order."""
    workbook = ok(api.get(f"/workbooks/{workbook_id}"))
    return [
        {
            "name": sheet["name"],
            "fields": [(f["key"], f.get("label"), f["type"]) for f in sheet["config"]["fields"]],
            "records": [values(r) for r in records(api, sheet["id"])],
        }
        for sheet in workbook["sheets"]
    ]


def assert_next_upload_works(api: httpx.Client, place: dict[str, str], platform: Platform) -> None:
    name = f"after-{tag()}.csv"
    after = upload(api, place, name, b"a,b\n1,2\n", CSV_MIME)
    job = finished_extract(api, after)
    assert job["status"] == "complete", (job, log_tail(platform))
    file = ok(api.get(f"/files/{after}"))
    assert [values(r) for r in records(api, file["sheetId"])] == [{"a": "1", "b": "2"}]


# ---- XLSX and OLE2 by hand ----------------------------------------------------------------------

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def encrypted_ooxml() -> bytes:
    """What a password-protected XLSX is: an OLE2 compound file with EncryptionInfo/EncryptedPackage streams."""
    directory = b"".join(
        name.encode("utf-16-le").ljust(128, b"\x00") for name in ("Root Entry", "EncryptionInfo", "EncryptedPackage")
    )
    return OLE2 + b"\x00" * 504 + directory + random.Random(3).randbytes(2048)


# ---- 1. bad inputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    """An upload whose extraction must fail; `says` are fragments of the job's outcome message
    (`{stem}`/`{name}` stand for the uploaded file's stem/name)."""

    name: str
    content: bytes
    mimetype: str
    says: tuple[str, ...]


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return out.getvalue()


_ZIP_NO_WORKBOOK = _zip_without_workbook()
_GOOD_XLSX = xlsx_bytes({"S": [["a", "b"], ["1", "2"]] * 50})
_WIDE = ",".join(f"c{i}" for i in range(10_000)) + "\n" + ",".join("1" for _ in range(10_000)) + "\n"

BAD: dict[str, Bad] = {
    "empty file": Bad("empty.csv", b"", CSV_MIME, ("{name} is empty",)),
    "png named csv": Bad(
        "image.csv",
        b"\x89PNG\r\n\x1a\n" + random.Random(1).randbytes(4000),
        CSV_MIME,
        ("{name} is a PNG image, not a CSV, Excel or JSON file",),
    ),
    "random bytes named csv": Bad(
        "noise.csv", random.Random(2).randbytes(8000), CSV_MIME, ("{name} contains binary data",)
    ),
    "ragged row": Bad(
        "ragged.csv", b"a,b\n1,2\n3,4,5\n", CSV_MIME, ("a row has 3 cells but the header has 2 (row 3)",)
    ),
    "11 MB cell": Bad(
        "bigcell.csv",
        b"id,blob\n1,small\n2," + b"x" * (11 << 20) + b"\n",
        CSV_MIME,
        ("larger than", "(row 3"),
    ),
    "undecodable text": Bad(
        "undecodable.csv",
        b"name,city\n" + bytes(range(0x80, 0x100)) * 4 + b"\n",
        CSV_MIME,
        ("{name} is not text in any known encoding",),
    ),
    "invalid UTF-8 past the sample": Bad(
        "badutf.csv",
        b"name,city\n" + b"Ann,Paris\n" * 120_000 + b"Bob,\xff\xfe\xfd\n",
        CSV_MIME,
        ("{stem} is not valid UTF-8", "row 120002", "column 'city'"),
    ),
    "truncated xlsx": Bad(
        "truncated.xlsx",
        _GOOD_XLSX[: len(_GOOD_XLSX) // 2],
        XLSX_MIME,
        ("{stem} is not a readable workbook (corrupt",),
    ),
    "ole2 junk named xlsx": Bad(
        "ole.xlsx",
        OLE2 + random.Random(4).randbytes(4000),
        XLSX_MIME,
        ("{stem} is not a readable workbook",),
    ),
    "encrypted xlsx": Bad(
        "secret.xlsx",
        encrypted_ooxml(),
        XLSX_MIME,
        ("{stem} is password-protected",),
    ),
    "10,000 columns": Bad(
        "wide.csv", _WIDE.encode(), CSV_MIME, ("{stem} has 10000 columns, more than the limit of 5000", "row 1")
    ),
    "json object": Bad(
        "object.json", b'{"a":1}', JSON_MIME, ("{stem} is an object; expected a JSON array of objects",)
    ),
    "json array of numbers": Bad(
        "numbers.json", b"[1,2]", JSON_MIME, ("every record must be a JSON object, this one is int", "row 1")
    ),
    "json string": Bad("string.json", b'"x"', JSON_MIME, ("JSON",)),
    # issue 12's malformed-file corpus, the rest of it
    "truncated json": Bad(
        "cut.json", b'[{"a":1},{"a":', JSON_MIME, ("{stem} is not valid JSON: Expecting value", "(row 2)")
    ),
    "json lines with a bad line": Bad(
        "lines.jsonl", b'{"a":1}\n{nope}\n', "application/x-ndjson", ("{stem} is not valid JSON Lines", "(row 2)")
    ),
    "json array of arrays": Bad(
        "arrays.json", b"[[1,2]]", JSON_MIME, ("every record must be a JSON object, this one is array", "(row 1)")
    ),
    "invalid UTF-8 in json": Bad(
        "badutf.json", b'[{"a":"\xff\xfe"}]', JSON_MIME, ("{stem} is not valid UTF-8 (byte offset 7)",)
    ),
    "zip without a workbook named xlsx": Bad(
        "archive.xlsx", _ZIP_NO_WORKBOOK, XLSX_MIME, ("is a ZIP archive, not an Excel workbook",)
    ),
    "NUL bytes in csv": Bad("nul.csv", b"a,b\n1,\x002\n", CSV_MIME, ("{name} contains binary data (NUL bytes)",)),
    # valid JSON, but Postgres cannot store the NUL: the file's row and column are named
    "escaped NUL in json": Bad(
        "nul.json",
        b'[{"Note": "ok"}, {"Note": "fine"}, {"Note": "x\\u0000y"}]',
        JSON_MIME,
        ("column 'Note' has a NUL character in row 3,",),
    ),
}


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_a_bad_input_fails_its_job_clearly_and_leaves_nothing(
    platform: Platform, api: httpx.Client, place: dict[str, str], case: Bad
) -> None:
    name = f"{tag()}-{case.name}"
    stem = name.rsplit(".", 1)[0]
    file_id = upload(api, place, name, case.content, case.mimetype)

    job = finished_extract(api, file_id)
    assert job["status"] == "failed", f"{name}: {job['status']}, outcome {job.get('outcome')}\n{log_tail(platform)}"
    message = (job.get("outcome") or {}).get("message") or ""
    expected = [s.format(name=name, stem=stem) for s in case.says]
    missing = [s for s in expected if s not in message]
    assert message and not missing, f"message {message!r} lacks {missing}\n{log_tail(platform)}"

    file = eventually(
        lambda: f if (f := ok(api.get(f"/files/{file_id}")))["status"] == "failed" else None, "the file failed"
    )
    assert file["workbookId"] is None
    # the partial workbook (made before a bad row was read) is deleted; the workbook list may show
    # it for a moment after the job failed (its read model lags the delete), never for good
    eventually(lambda: True if name not in workbook_names(api, place) else None, f"no workbook {name} in the space")

    assert_next_upload_works(api, place, platform)


# accepted: the extractor documents these as valid (extract/_model.py `Table`, _headers.normalize_headers)


def test_a_header_without_rows_is_a_sheet_without_records(
    platform: Platform, api: httpx.Client, place: dict[str, str]
) -> None:
    name = f"{tag()}-header-only.csv"
    file_id = upload(api, place, name, b"First Name,Email,Age\n", CSV_MIME)
    job = finished_extract(api, file_id)
    assert job["status"] == "complete", (job, log_tail(platform))
    assert job["outcome"]["message"] == "Extracted 0 records from 1 sheet(s)"
    file = ok(api.get(f"/files/{file_id}"))
    assert file["status"] == "complete"
    assert sheets_of(api, file["workbookId"]) == [
        {
            "name": name.rsplit(".", 1)[0],
            "fields": [
                ("first_name", "First Name", "string"),
                ("email", "Email", "string"),
                ("age", "Age", "string"),
            ],
            "records": [],
        }
    ]
    assert_next_upload_works(api, place, platform)


def test_duplicate_and_blank_headers_are_renamed(platform: Platform, api: httpx.Client, place: dict[str, str]) -> None:
    name = f"{tag()}-dups.csv"
    file_id = upload(api, place, name, b"name,name,,email\nAda,Lovelace,x,ada@example.com\n", CSV_MIME)
    job = finished_extract(api, file_id)
    assert job["status"] == "complete", (job, log_tail(platform))
    file = ok(api.get(f"/files/{file_id}"))
    [sheet] = sheets_of(api, file["workbookId"])
    assert sheet["fields"] == [
        ("name", "name", "string"),
        ("name_2", "name_2", "string"),
        ("column_3", "column_3", "string"),
        ("email", "email", "string"),
    ]
    assert sheet["records"] == [{"name": "Ada", "name_2": "Lovelace", "column_3": "x", "email": "ada@example.com"}]
    assert_next_upload_works(api, place, platform)


# ---- 2. formats ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Good:
    """An upload and the source workbook it must give: [(sheet name or None for the file's stem,
    [field labels], [record values])]."""

    name: str
    content: bytes
    mimetype: str
    sheets: list[tuple[str | None, list[str], list[dict[str, Any]]]]


PEOPLE = [{"name": "Ada", "city": "London"}, {"name": "Grace", "city": "Arlington"}]
GOOD: dict[str, Good] = {
    "csv": Good(
        "people.csv", b"name,city\nAda,London\nGrace,Arlington\n", CSV_MIME, [(None, ["name", "city"], PEOPLE)]
    ),
    "tsv": Good(
        "people.tsv",
        b"name\tcity\nAda\tLondon\nGrace\tArlington\n",
        "text/tab-separated-values",
        [(None, ["name", "city"], PEOPLE)],
    ),
    "psv": Good(
        "people.psv", b"name|city\nAda|London\nGrace|Arlington\n", "text/plain", [(None, ["name", "city"], PEOPLE)]
    ),
    "semicolon csv": Good(
        "people.csv", b"name;city\nAda;London\nGrace;Arlington\n", CSV_MIME, [(None, ["name", "city"], PEOPLE)]
    ),
    "utf-16 le with bom": Good(
        "people.csv",
        codecs.BOM_UTF16_LE + "name,city\nZoë,Köln\nŁukasz,Łódź\n".encode("utf-16-le"),
        CSV_MIME,
        [(None, ["name", "city"], [{"name": "Zoë", "city": "Köln"}, {"name": "Łukasz", "city": "Łódź"}])],
    ),
    "latin-1": Good(
        "people.csv",
        "name,city\nJosé,Montréal\nFrançois,Besançon\nJürgen,Zürich\n".encode("latin-1"),
        CSV_MIME,
        [
            (
                None,
                ["name", "city"],
                [
                    {"name": "José", "city": "Montréal"},
                    {"name": "François", "city": "Besançon"},
                    {"name": "Jürgen", "city": "Zürich"},
                ],
            )
        ],
    ),
    "title row above the header": Good(
        "people.csv",
        b"People export 2024,,\nname,city,email\nAda,London,ada@example.com\nGrace,Arlington,grace@example.com\n",
        CSV_MIME,
        [
            (
                None,
                ["name", "city", "email"],
                [
                    {"name": "Ada", "city": "London", "email": "ada@example.com"},
                    {"name": "Grace", "city": "Arlington", "email": "grace@example.com"},
                ],
            )
        ],
    ),
    "quoted newlines and quotes": Good(
        "people.csv",
        b'name,note\nAda,"said ""hi""\nthen left"\n"Grace, Hopper","a, b"\n',
        CSV_MIME,
        [
            (
                None,
                ["name", "note"],
                [{"name": "Ada", "note": 'said "hi"\nthen left'}, {"name": "Grace, Hopper", "note": "a, b"}],
            )
        ],
    ),
    "xlsx with two worksheets": Good(
        "book.xlsx",
        xlsx_bytes(
            {
                "People": [
                    ["Name", "Born", "Card"],
                    ["Ada", ("d", "45322"), ("n", "1234567890123456")],
                    ["Grace", ("d", "45323"), ("n", "4111111111111111")],
                ],
                "Orders": [["Order", "Total"], ["A-1", ("n", "19.99")], ["A-2", ("n", "-3")]],
            }
        ),
        XLSX_MIME,
        [
            (
                "People",
                ["Name", "Born", "Card"],
                [
                    {"name": "Ada", "born": "2024-01-31", "card": "1234567890123456"},
                    {"name": "Grace", "born": "2024-02-01", "card": "4111111111111111"},
                ],
            ),
            ("Orders", ["Order", "Total"], [{"order": "A-1", "total": "19.99"}, {"order": "A-2", "total": "-3"}]),
        ],
    ),
    "legacy xls with two worksheets": Good(
        "book.xls",
        b"",  # written by _xls() below (xlwt), once
        "application/vnd.ms-excel",
        [
            (
                "People",
                ["Name", "Born", "Card"],
                [{"name": "Ada", "born": "2024-01-31", "card": "4111111111111111"}],
            ),
            ("Orders", ["Order", "Total"], [{"order": "A-1", "total": "19.99"}]),
        ],
    ),
    "json array of objects": Good(
        "people.json",
        json.dumps(
            [{"name": "Ada", "age": 36, "tags": ["a", "b"]}, {"name": "Grace", "city": "Arlington", "age": None}]
        ).encode(),
        JSON_MIME,
        [
            (
                None,
                ["name", "age", "tags", "city"],
                [{"name": "Ada", "age": "36", "tags": '["a","b"]'}, {"name": "Grace", "city": "Arlington"}],
            )
        ],
    ),
    "json lines": Good(
        "people.jsonl",
        b'{"name":"Ada","score":1.50}\n\n{"name":"Grace","active":true}\n',
        "application/x-ndjson",
        [(None, ["name", "score", "active"], [{"name": "Ada", "score": "1.50"}, {"name": "Grace", "active": "true"}])],
    ),
}


def _xls() -> bytes:
    """A BIFF8 workbook like the XLSX case's (xlwt, a dev-only writer of legacy files)."""
    import xlwt  # type: ignore[import-untyped]  # noqa: PLC0415 - only the .xls case needs it

    book = xlwt.Workbook()
    people = book.add_sheet("People")
    for column, value in enumerate(["Name", "Born", "Card"]):
        people.write(0, column, value)
    people.write(1, 0, "Ada")
    people.write(1, 1, datetime.date(2024, 1, 31), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    people.write(1, 2, 4111111111111111)
    orders = book.add_sheet("Orders")
    for column, value in enumerate(["Order", "Total"]):
        orders.write(0, column, value)
    orders.write(1, 0, "A-1")
    orders.write(1, 1, 19.99)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD["legacy xls with two worksheets"] = dataclasses.replace(GOOD["legacy xls with two worksheets"], content=_xls())


@pytest.mark.parametrize("case", list(GOOD.values()), ids=list(GOOD))
def test_a_format_is_extracted_into_its_source_workbook(
    platform: Platform, api: httpx.Client, place: dict[str, str], case: Good
) -> None:
    name = f"{tag()}-{case.name}"
    stem = name.rsplit(".", 1)[0]
    file_id = upload(api, place, name, case.content, case.mimetype)
    job = finished_extract(api, file_id)
    assert job["status"] == "complete", f"{name}: {job['status']}, outcome {job.get('outcome')}\n{log_tail(platform)}"
    count = sum(len(rows) for _, _, rows in case.sheets)
    assert job["outcome"]["message"] == f"Extracted {count} records from {len(case.sheets)} sheet(s)"

    file = ok(api.get(f"/files/{file_id}"))
    assert file["status"] == "complete" and file["workbookId"] and file["sheetId"]
    workbook = ok(api.get(f"/workbooks/{file['workbookId']}"))
    assert (workbook["name"], workbook["labels"]) == (name, ["file"])
    got = [(s["name"], [label for _, label, _ in s["fields"]], s["records"]) for s in sheets_of(api, workbook["id"])]
    assert got == [(sheet or stem, labels, rows) for sheet, labels, rows in case.sheets]
    assert {t for s in sheets_of(api, workbook["id"]) for _, _, t in s["fields"]} == {"string"}


# ---- 3. the official SDK drives a whole import --------------------------------------------------


def test_the_sdk_drives_a_whole_import(platform: Platform, api: httpx.Client, place: dict[str, str]) -> None:
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    content = b"Name,E-mail,Years\nAda,ada@example.com,36\nBob,bob@example.com,abc\n"
    uploaded = client.files.upload(
        space_id=place["space"],
        environment_id=place["environment"],
        file=(f"{tag()}-contacts.csv", content, CSV_MIME),
        mode="import",
    ).data
    file_id = uploaded.id

    def extract_job() -> str | None:
        jobs = client.jobs.list(file_id=file_id).data
        done = [j for j in jobs if j.operation == "extract" and j.status in ("complete", "failed")]
        return done[0].id if done else None

    extract_id = eventually(extract_job, "the SDK sees the extract job finish", timeout=JOB_DEADLINE)
    extracted = client.jobs.get(extract_id).data
    assert extracted.status == "complete", (extracted, log_tail(platform))
    file = client.files.get(file_id).data
    assert file.workbook_id and file.sheet_id
    source_workbook, source_sheet = file.workbook_id, file.sheet_id

    destination = client.workbooks.create(
        name="Contacts",
        space_id=place["space"],
        sheets=[
            SheetConfig(
                name="Contacts",
                slug=f"contacts-{tag()}",
                fields=[
                    Property_String(key="fullName", label="Full Name"),
                    Property_String(key="email", label="Email"),
                    Property_Number(key="age", label="Age"),
                ],
            )
        ],
    ).data
    assert destination.sheets
    destination_sheet = destination.sheets[0].id

    job = client.jobs.create(
        type="workbook",
        operation="map",
        source=source_workbook,
        destination=destination.id,
        config=MappingProgramJobConfig(
            source_sheet_id=source_sheet, destination_sheet_id=destination_sheet, mapping_rules=[]
        ),
    ).data
    job_id = job.id

    def planned() -> Any:
        found = client.jobs.get_execution_plan(job_id).data  # empty until planned
        return found if found.plan.field_mapping or found.plan.unmapped_source_fields else None

    plan = eventually(planned, "the map job's plan", timeout=JOB_DEADLINE).plan
    auto = {e.source_field.key: e.destination_field.key for e in plan.field_mapping}
    assert auto.get("e_mail") == "email", auto

    edited = client.jobs.update_execution_plan_fields(
        job_id,
        file_id=file_id,
        job_id=job_id,
        field_mapping=[
            Edge(source_field=Property_String(key="name"), destination_field=Property_String(key="fullName")),
            Edge(source_field=Property_String(key="years"), destination_field=Property_Number(key="age")),
        ],
    ).data.plan
    pairs = {e.source_field.key: e.destination_field.key for e in edited.field_mapping}
    assert pairs == {"name": "fullName", "e_mail": "email", "years": "age"}
    assert edited.unmapped_source_fields == [] and edited.unmapped_destination_fields == []

    executed = client.jobs.execute(job_id).data
    assert executed is not None and executed.success

    def finished() -> Any:
        found = client.jobs.get(job_id).data
        return found if found.status in ("complete", "failed") else None

    done = eventually(finished, "the map job to finish", timeout=JOB_DEADLINE)
    assert done.status == "complete", (done.outcome, log_tail(platform))
    assert (done.outcome or {}).get("message") == "Mapped 2 records into Contacts"

    mapped = client.records.get(destination_sheet).data.records or []
    by_name = {str(r.values["fullName"].value): r for r in mapped}
    assert sorted(by_name) == ["Ada", "Bob"]
    ada, bob = by_name["Ada"], by_name["Bob"]
    assert (ada.values["email"].value, ada.values["age"].value, ada.valid) == ("ada@example.com", 36, True)
    assert bob.values["email"].value == "bob@example.com"
    assert bob.valid is False
    assert bob.values["age"].value == "abc"  # kept as it came, with an error
    [problem] = bob.values["age"].messages or []
    assert problem.type == "error" and problem.message, problem


def test_the_sdk_reads_the_plan_of_a_map_job_not_planned_yet(
    platform: Platform, api: httpx.Client, place: dict[str, str]
) -> None:
    """The SDK's JobPlan requires `plan`: a job not planned yet has an empty plan, not null (a map
    job in `created` is a deterministic way to read one: the planner only plans `planning` jobs)."""
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    fields = [{"key": "name", "type": "string"}]
    made = [
        ok(
            api.post(
                "/workbooks", json={"name": n, "spaceId": place["space"], "sheets": [{"name": n, "fields": fields}]}
            )
        )
        for n in (f"plan-src-{tag()}", f"plan-dst-{tag()}")
    ]
    job = client.jobs.create(
        type="workbook", operation="map", source=made[0]["id"], destination=made[1]["id"], status="created"
    ).data
    raw = ok(api.get(f"/jobs/{job.id}/plan"))
    problem = None
    try:
        assert client.jobs.get_execution_plan(job.id).data.job.id == job.id
    except pydantic.ValidationError as e:
        problem = f"{e.errors()[0]['loc']}: {e.errors()[0]['msg']}"
    assert problem is None, (
        f"the SDK cannot read GET /v1/jobs/{job.id}/plan of a {raw['job']['status']} map job "
        f"(reply data.plan = {raw['plan']!r}): {problem}"
    )
    assert raw["plan"] == {"fieldMapping": [], "unmappedSourceFields": [], "unmappedDestinationFields": []}
