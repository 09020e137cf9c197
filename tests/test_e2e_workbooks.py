"""Workbooks and sheets end to end: HTTP through the gateway and the official `flatfile` SDK."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import (
    EnumPropertyConfig,
    EnumPropertyOption,
    Flatfile,
    Property_Enum,
    Property_Number,
    Property_Reference,
    Property_String,
    ReferencePropertyConfig,
    SheetConfig,
    SheetConfigOrUpdate,
    Success,
)

from spaceport.testing.platform import Platform


@pytest.fixture
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=15) as client:
        yield client


def new_space(api: httpx.Client, name: str = "workbooks") -> str:
    reply = api.post("/spaces", json={"name": name})
    assert reply.status_code == 200, reply.text
    space_id: str = reply.json()["data"]["id"]
    return space_id


def options(*values: str) -> dict[str, Any]:
    return {"options": [{"value": v, "label": v.title()} for v in values]}


COMPANIES: dict[str, Any] = {
    "name": "Companies",
    "fields": [
        {"key": "name", "type": "string", "constraints": [{"type": "required"}, {"type": "unique"}]},
        {"key": "size", "type": "number", "config": {"decimalPlaces": 0}},
    ],
}
CONTACTS: dict[str, Any] = {
    "name": "Contacts",
    "slug": "contacts",
    "mappingConfidenceThreshold": 0.5,
    "constraints": [{"type": "unique", "name": "person", "fields": ["email", "born"]}],
    "fields": [
        {"key": "email", "type": "string", "label": "Email", "config": {"size": "normal"}},
        {"key": "age", "type": "number"},
        {"key": "active", "type": "boolean", "config": {"allowIndeterminate": True}},
        {"key": "born", "type": "date"},
        {"key": "tier", "type": "enum", "config": options("gold", "silver")},
        {
            "key": "company",
            "type": "reference",
            "config": {"ref": "companies", "key": "name", "relationship": "has-one"},
        },
        {"key": "partners", "type": "reference-list", "config": {"ref": "companies", "key": "name"}},
        {"key": "tags", "type": "string-list"},
        {"key": "colors", "type": "enum-list", "config": options("red", "blue")},
        {"key": "score", "type": "number", "readonly": True, "constraints": [{"type": "computed"}]},
    ],
}


def create(api: httpx.Client, space_id: str, **extra: Any) -> httpx.Response:
    body = {"name": "Import", "spaceId": space_id, "sheets": [COMPANIES, CONTACTS], **extra}
    return api.post("/workbooks", json=body)


def test_workbook_lifecycle_over_http(api: httpx.Client) -> None:
    space_id = new_space(api)
    reply = create(api, space_id, labels=["primary"], namespace="crm", metadata={"a": 1}, treatments=["SMALL_DATA"])
    assert reply.status_code == 200, reply.text
    workbook = reply.json()["data"]
    assert workbook["id"].startswith("us_wb_")
    assert (workbook["spaceId"], workbook["name"], workbook["labels"]) == (space_id, "Import", ["primary"])
    assert workbook["environmentId"].startswith("us_env_")
    assert (workbook["namespace"], workbook["metadata"], workbook["treatments"]) == ("crm", {"a": 1}, ["SMALL_DATA"])
    companies, contacts = workbook["sheets"]
    assert companies["slug"] == "companies"  # derived from the name
    assert companies["workbookId"] == workbook["id"]
    assert companies["id"].startswith("us_sh_")
    assert [f["type"] for f in contacts["config"]["fields"]] == [f["type"] for f in CONTACTS["fields"]]
    assert contacts["config"]["fields"][5]["config"] == {"ref": "companies", "key": "name", "relationship": "has-one"}
    assert {"createdAt", "updatedAt"} <= set(contacts)

    fetched = api.get(f"/workbooks/{workbook['id']}").json()["data"]
    assert fetched["sheets"][1]["config"] == contacts["config"]

    def listed(**params: Any) -> list[str]:
        reply = api.get("/workbooks", params={"spaceId": space_id, **params})
        assert reply.status_code == 200, reply.text
        return [w["id"] for w in reply.json()["data"]]

    second = create(api, space_id, name="Other")
    assert second.status_code == 200, second.text
    other = second.json()["data"]["id"]
    assert listed() == [workbook["id"], other]
    assert listed(name="Import") == [workbook["id"]]
    assert listed(name="-Import") == [other]
    assert listed(label="primary") == [workbook["id"]]
    assert listed(label="-primary") == [other]
    assert listed(namespace="crm") == [workbook["id"]]
    assert listed(namespace="-crm") == [other]
    assert listed(treatment="SMALL_DATA") == [workbook["id"]]
    bare = api.get("/workbooks", params={"spaceId": space_id, "includeSheets": "false"}).json()["data"]
    assert all(w.get("sheets") is None for w in bare)

    patch = {
        "name": "Renamed",
        "labels": ["x"],
        "sheets": [
            {"slug": "companies", "fields": [*COMPANIES["fields"], {"key": "url", "type": "string"}]},
            {"name": "Deals", "fields": [{"key": "title", "type": "string"}]},
        ],
    }
    updated = api.patch(f"/workbooks/{workbook['id']}", json=patch)
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert (data["name"], data["labels"]) == ("Renamed", ["x"])
    assert [s["slug"] for s in data["sheets"]] == ["companies", "contacts", "deals"]
    assert [f["key"] for f in data["sheets"][0]["config"]["fields"]] == ["name", "size", "url"]

    assert api.delete(f"/workbooks/{other}").json() == {"data": {"success": True}}
    assert api.get(f"/workbooks/{other}").status_code == 404
    assert listed() == [workbook["id"]]


def test_sheet_endpoints_over_http(api: httpx.Client) -> None:
    workbook = create(api, new_space(api)).json()["data"]
    sheets = api.get("/sheets", params={"workbookId": workbook["id"]}).json()["data"]
    assert [s["slug"] for s in sheets] == ["companies", "contacts"]
    contacts = sheets[1]["id"]
    assert api.get(f"/sheets/{contacts}").json()["data"]["name"] == "Contacts"

    renamed = api.patch(
        f"/sheets/{contacts}", json={"name": "People", "slug": "people", "metadata": {"rowHeaders": [2]}}
    )
    assert renamed.status_code == 200, renamed.text
    data = renamed.json()["data"]
    assert (data["name"], data["slug"], data["metadata"]) == ("People", "people", {"rowHeaders": [2]})
    assert data["config"]["slug"] == "people"

    assert api.post(f"/sheets/{contacts}/lock").json() == {"data": {"success": True}}
    locked = api.get(f"/sheets/{contacts}").json()["data"]
    assert locked["lockedBy"] and locked["lockedAt"]
    assert api.post(f"/sheets/{contacts}/unlock").status_code == 200
    assert api.get(f"/sheets/{contacts}").json()["data"].get("lockedBy") is None

    referenced = api.delete(f"/sheets/{sheets[0]['id']}")
    assert referenced.status_code == 400
    assert "reference" in referenced.json()["errors"][0]["message"]
    assert api.delete(f"/sheets/{contacts}").json() == {"data": {"success": True}}
    assert api.get(f"/sheets/{contacts}").status_code == 404
    assert [s["slug"] for s in api.get("/sheets", params={"workbookId": workbook["id"]}).json()["data"]] == [
        "companies"
    ]


@pytest.mark.parametrize(
    ("change", "status", "key_or_text"),
    [
        ({"sheets": [{"name": "A", "fields": [{"key": "x", "type": "money"}]}]}, 400, "sheets"),
        (
            {"sheets": [{"name": "A", "fields": [{"key": "x", "type": "string"}, {"key": "x", "type": "date"}]}]},
            400,
            "twice",
        ),
        ({"sheets": [CONTACTS]}, 400, "not in this workbook"),
        (
            {
                "sheets": [
                    COMPANIES,
                    {
                        "name": "Contacts",
                        "fields": [CONTACTS["fields"][5] | {"config": {"ref": "companies", "key": "x"}}],
                    },
                ]
            },
            400,
            "does not have",
        ),
        ({"name": None}, 400, "name"),
        ({"name": "n" * 300}, 400, "longer"),
        ({"spaceId": "us_sp_doesnotexist"}, 404, "spaceId"),
        ({"spaceId": None}, 400, "spaceId"),
    ],
)
def test_bad_workbooks_are_refused_and_nothing_is_written(
    api: httpx.Client, change: dict[str, Any], status: int, key_or_text: str
) -> None:
    space_id = new_space(api)
    body = {"name": "Import", "spaceId": space_id, "sheets": [COMPANIES], **change}
    body = {k: v for k, v in body.items() if v is not None}
    reply = api.post("/workbooks", json=body)
    assert reply.status_code == status, reply.text
    error = reply.json()["errors"][0]
    assert key_or_text in f"{error.get('key')} {error['message']}"
    assert api.get("/workbooks", params={"spaceId": space_id}).json()["data"] == []


def test_a_retried_create_with_an_idempotency_key_returns_the_same_workbook(api: httpx.Client) -> None:
    space_id = new_space(api)
    headers = {"Idempotency-Key": f"wb-{space_id}"}
    body = {"name": "Once", "spaceId": space_id, "sheets": [COMPANIES]}
    first = api.post("/workbooks", json=body, headers=headers).json()["data"]
    again = api.post("/workbooks", json=body, headers=headers).json()["data"]
    assert again["id"] == first["id"]
    assert again["sheets"][0]["id"] == first["sheets"][0]["id"]
    assert len(api.get("/workbooks", params={"spaceId": space_id}).json()["data"]) == 1


def test_unknown_ids_and_missing_credentials(api: httpx.Client, platform: Platform) -> None:
    assert api.get("/workbooks/us_wb_nope").status_code == 404
    assert api.get("/sheets/us_sh_nope").status_code == 404
    assert api.patch("/sheets/us_sh_nope", json={"name": "x"}).status_code == 404
    assert api.post("/sheets/bad.id/lock").status_code == 404
    assert httpx.get(f"{platform.api}/workbooks").status_code == 401


def succeeded(reply: Success) -> bool:
    return reply.data is not None and reply.data.success


def test_the_flatfile_sdk_speaks_to_workbooks_and_sheets(platform: Platform, api: httpx.Client) -> None:
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    space_id = new_space(api, "sdk")
    companies = SheetConfig(
        name="Companies", slug="companies", fields=[Property_String(key="name"), Property_Number(key="size")]
    )
    contacts = SheetConfig(
        name="Contacts",
        fields=[
            Property_String(key="email", label="Email"),
            Property_Reference(key="company", config=ReferencePropertyConfig(ref="companies", key="name")),
        ],
    )
    workbook = client.workbooks.create(name="SDK", space_id=space_id, sheets=[companies, contacts], labels=["sdk"]).data
    assert workbook.space_id == space_id
    assert workbook.sheets is not None
    assert [s.slug for s in workbook.sheets] == ["companies", "contacts"]
    assert isinstance(workbook.sheets[1].config.fields[1], Property_Reference)

    assert client.workbooks.get(workbook.id).data.name == "SDK"
    assert [w.id for w in client.workbooks.list(space_id=space_id).data] == [workbook.id]
    enum = EnumPropertyConfig(options=[EnumPropertyOption(value="a"), EnumPropertyOption(value="b")])
    update = SheetConfigOrUpdate(
        slug="companies", fields=[Property_String(key="name"), Property_Enum(key="kind", config=enum)]
    )
    updated = client.workbooks.update(workbook.id, name="SDK 2", sheets=[update]).data
    assert updated.name == "SDK 2"
    assert updated.sheets is not None
    assert [f.key for f in updated.sheets[0].config.fields] == ["name", "kind"]

    sheets = client.sheets.list(workbook_id=workbook.id).data
    contacts_id = sheets[1].id
    assert client.sheets.get(contacts_id).data.workbook_id == workbook.id
    assert client.sheets.update_sheet(contacts_id, name="People").data.name == "People"
    assert succeeded(client.sheets.lock_sheet(contacts_id))
    assert client.sheets.get(contacts_id).data.locked_by
    assert succeeded(client.sheets.unlock_sheet(contacts_id))
    assert succeeded(client.sheets.delete(contacts_id))
    assert succeeded(client.workbooks.delete(workbook.id))
    assert client.workbooks.list(space_id=space_id).data == []


def test_a_space_counts_its_workbooks(api: httpx.Client) -> None:
    """Read-your-writes: the workbook create/delete answers once the space read model has it too."""
    space_id = new_space(api)
    before = api.get(f"/spaces/{space_id}").json()["data"]
    assert before["workbooksCount"] == 0
    first = create(api, space_id).json()["data"]
    create(api, space_id, name="Second")
    space = api.get(f"/spaces/{space_id}").json()["data"]
    assert space["workbooksCount"] == 2
    assert space["lastActivityAt"] >= before["lastActivityAt"]
    assert space["filesCount"] == 0  # until the file service exists
    assert api.delete(f"/workbooks/{first['id']}").status_code == 200
    assert api.get(f"/spaces/{space_id}").json()["data"]["workbooksCount"] == 1
    assert [
        s["workbooksCount"] for s in api.get("/spaces", params={"pageSize": 1000}).json()["data"] if s["id"] == space_id
    ] == [1]


def test_sheets_carry_record_counts(api: httpx.Client) -> None:
    workbook = create(api, new_space(api)).json()["data"]
    zero = {"total": 0, "valid": 0, "error": 0}
    assert [s["recordCounts"] for s in workbook["sheets"]] == [zero, zero]
    companies, contacts = (s["id"] for s in workbook["sheets"])
    rows = [{"name": {"value": "Acme"}, "size": {"value": 3}}, {"name": {"value": "Beta"}, "size": {"value": "x"}}]
    assert api.post(f"/sheets/{companies}/records", json=rows).status_code == 200
    counts = {"total": 2, "valid": 1, "error": 1}
    assert api.get(f"/sheets/{companies}").json()["data"]["recordCounts"] == counts
    listed = api.get("/sheets", params={"workbookId": workbook["id"]}).json()["data"]
    assert [s["recordCounts"] for s in listed] == [counts, zero]
    fetched = api.get(f"/workbooks/{workbook['id']}").json()["data"]
    assert [s["recordCounts"] for s in fetched["sheets"]] == [counts, zero]
    in_list = api.get("/workbooks", params={"spaceId": workbook["spaceId"]}).json()["data"]
    assert [s["recordCounts"] for s in in_list[0]["sheets"]] == [counts, zero]
    renamed = api.patch(f"/sheets/{contacts}", json={"name": "People"}).json()["data"]
    assert renamed["recordCounts"] == zero


def test_workbook_commits_merge_the_commits_of_its_sheets(api: httpx.Client, platform: Platform) -> None:
    workbook = create(api, new_space(api)).json()["data"]
    companies, contacts = (s["id"] for s in workbook["sheets"])
    assert api.get(f"/workbooks/{workbook['id']}/commits").json() == {"data": []}
    first = api.post(f"/sheets/{companies}/records", json=[{"name": {"value": "Acme"}}]).json()["data"]
    second = api.post(f"/sheets/{contacts}/records", json=[{"email": {"value": "a@b.c"}}]).json()["data"]
    reply = api.get(f"/workbooks/{workbook['id']}/commits")
    assert reply.status_code == 200, reply.text
    commits = reply.json()["data"]
    assert [(c["id"], c["sheetId"]) for c in commits] == [
        (second["commitId"], contacts),
        (first["commitId"], companies),
    ]
    assert all(c["createdBy"] and c["createdAt"] for c in commits)
    assert api.get(f"/workbooks/{workbook['id']}/commits", params={"completed": "true"}).json() == {"data": []}
    assert len(api.get(f"/workbooks/{workbook['id']}/commits", params={"completed": "false"}).json()["data"]) == 2
    assert api.get(f"/sheets/{companies}/commits").json()["data"][0]["id"] == first["commitId"]
    assert api.get("/workbooks/us_wb_nope/commits").status_code == 404

    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    listed = client.workbooks.get_workbook_commits(workbook["id"]).data
    assert [c.id for c in listed] == [second["commitId"], first["commitId"]]
    assert listed[0].sheet_id == contacts
    assert [c.id for c in client.sheets.get_sheet_commits(companies).data] == [first["commitId"]]
    sheet = client.sheets.get(companies).data
    assert sheet.record_counts is not None
    assert (sheet.record_counts.total, sheet.record_counts.valid, sheet.record_counts.error) == (1, 1, 0)
