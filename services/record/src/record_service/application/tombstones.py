"""Deleted records in `GET …/records?sinceCommitId=X` answers (listeners syncing changes).

The projection keeps a tombstone per deleted record (`record_tombstone`, written in the
transaction that deletes the row). A `sinceCommitId` page that is the **last page of the live
records** (page `total // pageSize + 1`: exactly one page, possibly an empty one after a full
last page; of a page read in chunks, the chunk where its live records end) gets, after its live
records, every record deleted at or after that commit, oldest deletion first, as

    {"id", "values": {}, "valid": true, "metadata": {}, "commitId": <deleting commit>,
     "versionId": <same>, "config": {"markedForDeletion": true}}

That page may hold more than `pageSize` records. Selections that deleted records cannot match
(`filter=valid|error`, `filterField`, `searchValue`, `q`) get none; `ids` limits them as it
limits the live records (an include list, or with `filter=all` an exclude list).
"""

from __future__ import annotations

from record_service.application.context import Sheet
from record_service.application.query import select
from spaceport.contracts.record import GetRecords
from spaceport.readmodel import Conn

_TOMBSTONE = (
    "json_build_object('id', t.id, 'values', '{}'::json, 'valid', true, 'metadata', '{}'::json,"
    " 'commitId', t.commit_id, 'versionId', t.commit_id, 'config', json_build_object('markedForDeletion', true))"
)


def wanted(query: GetRecords, since: int | None) -> bool:
    """Whether the query's answer includes deleted records at all."""
    q = query.query
    if since is None or q.commit_id is not None:
        return False
    return q.filter not in ("valid", "error") and q.filter_field is None and q.search_value is None and q.q is None


async def appended(conn: Conn, sheet: Sheet, query: GetRecords, since: int | None, page: bytes) -> bytes:
    """`page` (a JSON array of live records) with the tombstones after it when it is the last page."""
    if not wanted(query, since):
        return page
    assert since is not None
    sel = select(sheet, query.query, since)
    live = await conn.fetchval(f"SELECT count(*) FROM record r WHERE {sel.where}", *sel.params)
    if not last(query, live):
        return page
    params: list[object] = [sheet.id, since]
    ids = ""
    if query.query.ids:
        params.append(query.query.ids)
        negate = "NOT " if query.query.filter == "all" else ""
        ids = f" AND {negate}(t.id = ANY($3::text[]))"
    text = await conn.fetchval(
        f"SELECT coalesce(json_agg({_TOMBSTONE} ORDER BY t.seq, t.id), '[]')::text FROM record_tombstone t"
        f" WHERE t.sheet_id = $1 AND t.seq >= $2{ids}",
        *params,
    )
    return merged(page, str(text).encode())


def last(query: GetRecords, live: int) -> bool:
    """Is this the last page of the `live` selected records (an empty one when they fill their
    last page exactly) and, for a chunk of a bigger page (`offset`, `limit`), the chunk where
    the page's live records end?"""
    left = live - (query.page_number - 1) * query.page_size  # live records of this page
    end = query.offset + (query.limit if query.limit is not None else query.page_size)
    return 0 <= left < query.page_size and query.offset <= left < end


def merged(page: bytes, tombstones: bytes) -> bytes:
    """Two JSON arrays as one."""
    if tombstones == b"[]":
        return page
    if page.strip() == b"[]":
        return tombstones
    return page.rstrip()[:-1] + b"," + tombstones.lstrip()[1:]
