"""Files through the gateway and every service: multipart uploads streamed into S3 (httpx and the
official `flatfile` SDK), get, list, download, patch, delete, their Flatfile events, the space's
`filesCount`, the size limit (413) and bad input."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flatfile import Flatfile

from spaceport import s3
from spaceport.settings import Settings
from spaceport.testing.infra import InfraUrls
from spaceport.testing.platform import BUCKET, MAX_FILE_SIZE, Platform

CSV = b"name,email\nAda,ada@example.com\nGrace,grace@example.com\n"
ACTIONS = [{"operation": "extract", "label": "Extract", "mode": "foreground"}]


def ok(reply: httpx.Response) -> Any:
    assert reply.status_code == 200, reply.text
    return reply.json()["data"]


@pytest.fixture(scope="module")
def api(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client(timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def place(api: httpx.Client) -> dict[str, str]:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": f"files {uuid.uuid4().hex[:6]}"}))["id"]
    return {"environment": environment, "space": space}


def upload(
    api: httpx.Client, place: dict[str, str], content: bytes = CSV, name: str = "people.csv", **fields: str
) -> httpx.Response:
    form = {"spaceId": place["space"], "environmentId": place["environment"], **fields}
    return api.post("/files", data=form, files={"file": (name, content, "text/csv")})


def events(api: httpx.Client, space: str, until: str) -> list[dict[str, Any]]:
    """The space's file events once one with topic `until` is listed (the feed lags its writes a little)."""
    deadline = time.monotonic() + 20
    while True:
        listed: list[dict[str, Any]] = ok(api.get("/events", params={"spaceId": space, "topic": "file:*"}))
        if any(e["topic"] == until for e in listed) or time.monotonic() > deadline:
            return listed
        time.sleep(0.1)


def extract_done(api: httpx.Client, file_id: str) -> dict[str, Any]:
    """The file once its `file:extract` job finished."""
    deadline = time.monotonic() + 20
    while True:
        jobs = ok(api.get("/jobs", params={"fileId": file_id}))
        if any(j["status"] in ("complete", "failed") for j in jobs):
            found: dict[str, Any] = ok(api.get(f"/files/{file_id}"))
            return found
        assert time.monotonic() < deadline, f"the extract job of {file_id} did not finish"
        time.sleep(0.1)


def stored_objects(infra: InfraUrls, space: str) -> set[str]:
    """The S3 objects under the space's prefix (where its uploads go)."""
    settings = Settings(
        s3_endpoint=infra.s3_endpoint, s3_access_key=infra.s3_access_key, s3_secret_key=infra.s3_secret_key
    )
    listed = s3.make_client(settings).list_objects(BUCKET, prefix=f"{space}/", recursive=True)
    return {str(o.object_name) for o in listed}


def files_count(api: httpx.Client, space: str, expected: int) -> int:
    deadline = time.monotonic() + 20
    while True:
        count: int = ok(api.get(f"/spaces/{space}"))["filesCount"]
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def test_upload_read_list_download_patch_delete(api: httpx.Client, place: dict[str, str]) -> None:
    created = ok(upload(api, place, actions=json.dumps(ACTIONS)))
    file_id = created["id"]
    assert file_id.startswith("us_fl_")
    assert (created["name"], created["ext"], created["mimetype"]) == ("people.csv", "csv", "text/csv")
    assert (created["size"], created["bytesReceived"], created["status"]) == (len(CSV), len(CSV), "complete")
    assert (created["mode"], created["spaceId"], created["actions"]) == ("import", place["space"], ACTIONS)
    # an import is extracted (tests/test_e2e_extract.py): let that finish, so it does not race the patch
    extracted = extract_done(api, file_id)
    assert extracted["workbookId"] and extracted["sheetId"]
    moved = ("workbookId", "sheetId", "updatedAt")
    assert {k: v for k, v in extracted.items() if k not in moved} == {
        k: v for k, v in created.items() if k not in moved
    }

    listed = api.get("/files", params={"spaceId": place["space"]}).json()
    assert file_id in [f["id"] for f in listed["data"]]
    assert listed["pagination"]["totalCount"] >= 1
    assert ok(api.get("/files", params={"spaceId": place["space"], "mode": "export"})) == []

    download = api.get(f"/files/{file_id}/download")
    assert download.status_code == 200
    assert download.content == CSV
    assert 'filename="people.csv"' in download.headers["content-disposition"]

    patched = ok(api.patch(f"/files/{file_id}", json={"status": "failed", "workbookId": "us_wb_x", "name": "p.csv"}))
    assert (patched["status"], patched["workbookId"], patched["name"]) == ("failed", "us_wb_x", "p.csv")
    assert ok(api.get(f"/files/{file_id}"))["status"] == "failed"

    assert ok(api.delete(f"/files/{file_id}")) == {"success": True}
    assert api.get(f"/files/{file_id}").status_code == 404
    assert api.get(f"/files/{file_id}/download").status_code == 404
    assert api.delete(f"/files/{file_id}").status_code == 404

    listed_events = events(api, place["space"], "file:deleted")
    mine = [e for e in listed_events if e["context"].get("fileId") == file_id]
    assert [e["topic"] for e in mine] == ["file:created", "file:updated", "file:updated", "file:deleted"]
    assert all(e["context"]["spaceId"] == place["space"] and e["domain"] == "file" for e in mine)
    assert mine[2]["payload"] == {"status": "failed", "workbookId": "us_wb_x"}  # [1]: the extraction's


def test_files_count_follows_live_files(api: httpx.Client) -> None:
    environment = ok(api.get("/environments/current"))["id"]
    space = ok(api.post("/spaces", json={"name": "counted"}))["id"]
    where = {"environment": environment, "space": space}
    first, second = ok(upload(api, where))["id"], ok(upload(api, where, name="b.csv"))["id"]
    assert files_count(api, space, 2) == 2
    ok(api.delete(f"/files/{first}"))
    assert files_count(api, space, 1) == 1
    assert second


def test_a_file_larger_than_a_part_streams_through_whole(api: httpx.Client, place: dict[str, str]) -> None:
    """25 MiB: three S3 parts, never all in memory on the way in or out."""
    block = hashlib.sha256(b"spaceport").digest() * 1024  # 32 KiB
    content = block * 800
    created = ok(upload(api, place, content=content, name="big.bin"))
    assert created["size"] == len(content)
    digest = hashlib.sha256()
    with api.stream("GET", f"/files/{created['id']}/download") as reply:
        assert reply.status_code == 200
        for chunk in reply.iter_bytes():
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(content).digest()


def _streamed_form(boundary: str, place: dict[str, str], size: int) -> Iterator[bytes]:
    head = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in (("spaceId", place["space"]), ("environmentId", place["environment"]))
    )
    yield head.encode()
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    chunk = b"x" * (1024 * 1024)
    for _ in range(size // len(chunk)):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def test_an_upload_over_the_limit_is_a_413_and_leaves_nothing(
    platform: Platform, infra: InfraUrls, api: httpx.Client, place: dict[str, str]
) -> None:
    before = api.get("/files", params={"spaceId": place["space"], "pageSize": 1000}).json()["pagination"]
    objects = stored_objects(infra, place["space"])
    boundary = uuid.uuid4().hex
    reply = api.post(
        "/files",
        content=_streamed_form(boundary, place, MAX_FILE_SIZE + 1024 * 1024),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert reply.status_code == 413, reply.text
    assert reply.json()["errors"][0]["message"]
    assert reply.headers["connection"] == "close"
    announced = upload(api, place, content=b"x" * (MAX_FILE_SIZE + 2 * 1024 * 1024), name="huge.csv")
    assert announced.status_code == 413, announced.text
    after = api.get("/files", params={"spaceId": place["space"], "pageSize": 1000}).json()["pagination"]
    assert after == before
    assert stored_objects(infra, place["space"]) == objects
    assert httpx.get(f"{platform.base_url}/health").status_code == 200


def test_the_official_sdk_uploads_and_reads(platform: Platform, api: httpx.Client, place: dict[str, str]) -> None:
    client = Flatfile(token=platform.secret_key, base_url=platform.api)
    uploaded = client.files.upload(
        space_id=place["space"], environment_id=place["environment"], file=("sdk.csv", CSV, "text/csv"), mode="import"
    ).data
    assert uploaded.name == "sdk.csv"
    assert uploaded.size == len(CSV)
    assert client.files.get(uploaded.id).data.id == uploaded.id
    assert uploaded.id in [f.id for f in client.files.list(space_id=place["space"]).data]
    assert b"".join(client.files.download(uploaded.id)) == CSV
    extract_done(api, uploaded.id)  # its extraction sets workbookId too: not racing the update below
    updated = client.files.update(uploaded.id, status="complete", workbook_id="us_wb_sdk").data
    assert updated.workbook_id == "us_wb_sdk"
    deleted = client.files.delete(uploaded.id).data
    assert deleted is not None and deleted.success


def test_a_guest_uploads_and_reads_in_its_space_only(api: httpx.Client, place: dict[str, str]) -> None:
    guest_body = [
        {
            "environmentId": place["environment"],
            "email": f"g{uuid.uuid4().hex[:6]}@example.com",
            "name": "G",
            "spaces": [{"id": place["space"]}],
        }
    ]
    guest = ok(api.post("/guests", json=guest_body))[0]["id"]
    token = ok(api.get(f"/guests/{guest}/token", params={"spaceId": place["space"]}))["token"]
    as_guest = {"Authorization": f"Bearer {token}"}
    form = {"spaceId": place["space"], "environmentId": place["environment"]}
    created = ok(api.post("/files", data=form, files={"file": ("g.csv", CSV)}, headers=as_guest))
    assert api.get(f"/files/{created['id']}/download", headers=as_guest).content == CSV
    other = ok(api.post("/spaces", json={"name": "not the guest's"}))["id"]
    refused = api.post("/files", data={**form, "spaceId": other}, files={"file": ("g.csv", CSV)}, headers=as_guest)
    assert refused.status_code == 403, refused.text


def _raw(api: httpx.Client, body: bytes, content_type: str) -> httpx.Response:
    return api.post("/files", content=body, headers={"Content-Type": content_type})


def test_bad_uploads_are_clear_4xx(infra: InfraUrls, api: httpx.Client, place: dict[str, str]) -> None:
    before = api.get("/files", params={"spaceId": place["space"], "pageSize": 1000}).json()["pagination"]
    objects = stored_objects(infra, place["space"])
    file_part = {"file": ("a.csv", CSV, "text/csv")}
    cases: list[tuple[str, httpx.Response, int]] = [
        ("no spaceId", api.post("/files", data={"environmentId": place["environment"]}, files=file_part), 400),
        ("unknown space", upload(api, {**place, "space": "us_sp_doesnotexist"}), 404),
        ("another environment", upload(api, {**place, "environment": "us_env_doesnotexist"}), 404),
        ("no file part", api.post("/files", data={"spaceId": place["space"]}, files={"other": ("a", b"x")}), 400),
        ("bad mode", upload(api, place, mode="sideways"), 400),
        ("bad actions", upload(api, place, actions="{not json"), 400),
        ("actions not objects", upload(api, place, actions="[1, 2]"), 400),
        ("not multipart", api.post("/files", json={"spaceId": place["space"]}), 400),
        ("no boundary", _raw(api, b"--x\r\n", "multipart/form-data"), 400),
        ("malformed multipart", _raw(api, b"this is not multipart", "multipart/form-data; boundary=zzz"), 400),
        (
            "truncated multipart",
            _raw(
                api,
                b'--zzz\r\nContent-Disposition: form-data; name="spaceId"\r\n\r\n' + place["space"].encode(),
                "multipart/form-data; boundary=zzz",
            ),
            400,
        ),
        ("bad patch status", api.patch("/files/us_fl_doesnotexist", json={"status": "done"}), 404),
        ("unknown file", api.get("/files/us_fl_doesnotexist"), 404),
        ("list with bad mode", api.get("/files", params={"mode": "sideways"}), 400),
        ("list with bad page size", api.get("/files", params={"pageSize": "0"}), 400),
    ]
    problems = [
        f"{name}: {reply.status_code} {reply.text[:200]}"
        for name, reply, status in cases
        if reply.status_code != status or not reply.json()["errors"][0]["message"]
    ]
    assert not problems, "\n".join(problems)
    after = api.get("/files", params={"spaceId": place["space"], "pageSize": 1000}).json()["pagination"]
    assert after == before
    assert stored_objects(infra, place["space"]) == objects
