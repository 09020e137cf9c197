"""Pages above 10,000 records (Flatfile allows pageSize 50,000) are streamed by the gateway in
chunks: same records, same order as the equivalent smaller pages, through the official SDK too."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from flatfile import Flatfile

from spaceport.testing.platform import Platform

TOTAL = 23_456


@pytest.fixture(scope="module")
def sheet(platform: Platform) -> Iterator[tuple[httpx.Client, str]]:
    with platform.client(timeout=120) as api:
        space = api.post("/spaces", json={"name": "big pages"}).json()["data"]["id"]
        fields = [{"key": "n", "type": "number"}, {"key": "name", "type": "string"}]
        body = {"name": "W", "spaceId": space, "sheets": [{"name": "S", "slug": "s", "fields": fields}]}
        sheet_id = api.post("/workbooks", json=body).json()["data"]["sheets"][0]["id"]
        for start in range(0, TOTAL, 10_000):
            rows = [
                {"n": {"value": i}, "name": {"value": f"r{i % 97}"}} for i in range(start, min(TOTAL, start + 10_000))
            ]
            assert api.post(f"/sheets/{sheet_id}/records", json=rows).status_code == 200
        yield api, sheet_id


def values(reply: httpx.Response) -> list[int]:
    assert reply.status_code == 200, reply.text
    return [r["values"]["n"]["value"] for r in reply.json()["data"]["records"]]


def test_a_50000_page_streams_every_record_in_order(sheet: tuple[httpx.Client, str]) -> None:
    api, sheet_id = sheet
    reply = api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 50_000, "includeCounts": "true"})
    assert reply.headers.get("transfer-encoding") == "chunked"
    assert values(reply) == list(range(TOTAL))
    assert reply.json()["data"]["counts"]["total"] == TOTAL


def test_a_second_big_page_and_a_sorted_one_match_small_pages(sheet: tuple[httpx.Client, str]) -> None:
    api, sheet_id = sheet
    big = values(api.get(f"/sheets/{sheet_id}/records", params={"pageSize": 12_000, "pageNumber": 2}))
    assert big == list(range(12_000, TOTAL))
    params = {"sortField": "name", "sortDirection": "desc"}
    whole = values(api.get(f"/sheets/{sheet_id}/records", params={**params, "pageSize": 30_000}))
    small = [
        n
        for page in range(1, 4)
        for n in values(
            api.get(f"/sheets/{sheet_id}/records", params={**params, "pageSize": 10_000, "pageNumber": page})
        )
    ]
    assert whole == small and len(whole) == TOTAL
    names = [f"r{n % 97}" for n in whole]
    assert names == sorted(names, reverse=True)


def test_bad_big_pages_get_400(sheet: tuple[httpx.Client, str]) -> None:
    api, sheet_id = sheet
    bad: list[dict[str, str | int]] = [{"pageSize": 50_001}, {"pageSize": 20_000, "sortField": "nope"}, {"pageSize": 0}]
    for params in bad:
        reply = api.get(f"/sheets/{sheet_id}/records", params=params)
        assert reply.status_code == 400, (params, reply.text)
        assert reply.json()["errors"][0]["key"] in ("pageSize", "sortField")


def test_the_sdk_reads_a_big_page(platform: Platform, sheet: tuple[httpx.Client, str]) -> None:
    _, sheet_id = sheet
    sdk = Flatfile(token=platform.secret_key, base_url=platform.api)
    records = sdk.records.get(sheet_id, page_size=20_000, page_number=2).data.records
    assert [r.values["n"].value for r in records] == list(range(20_000, TOTAL))
