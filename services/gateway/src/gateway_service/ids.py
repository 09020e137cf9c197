"""One shape check for every id a request names, before any handler sees it.

Ids end up as NATS subject tokens and SQL parameters in the services; one that cannot be an id
(`a.b`, `>`, `*`, spaces, unicode, 10k characters) is refused here with a clear 4xx instead of
travelling on. Path parameters named `<kind>_id` must look like `<prefix>_<kind prefix>_<token>`
(`us_sp_k3j9x0q2ab`) and answer 404 otherwise (the URL names nothing); the query parameters in
QUERY_IDS answer 400. A NUL character in any query parameter answers 400 too (Postgres text cannot
hold one; tests/test_fuzz_regressions.py).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from litestar import Request

from spaceport.errors import NotFoundError, ValidationFailedError
from spaceport.ids import PREFIXES

QUERY_IDS = {
    "spaceId": "space",
    "spaceIds": "space",
    "workbookId": "workbook",
    "environmentId": "environment",
    "commitId": "commit",
    "versionId": "commit",
    "sinceCommitId": "commit",
    "sinceVersionId": "commit",
}
ALIASES = {"current"}  # `/v1/environments/current`
_ANY_ID = re.compile(r"^[A-Za-z0-9_\-]{1,255}$")
_SHOWN = 80


@cache
def _pattern(kind: str) -> re.Pattern[str]:
    if kind not in PREFIXES:
        return _ANY_ID
    short = PREFIXES[kind].partition("_")[2]
    return re.compile(rf"^[a-z0-9]+_{re.escape(short)}_[A-Za-z0-9]{{1,200}}$")


def is_id(value: str, kind: str) -> bool:
    """Could `value` be the id of a `kind` (a key of spaceport.ids.PREFIXES)?"""
    return bool(_pattern(kind).match(value)) or (kind == "environment" and value in ALIASES)


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def check_ids(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook: refuse ids of the wrong shape in the path and the query."""
    for name, value in request.path_params.items():
        if name.endswith("_id") and isinstance(value, str):
            kind = name.removesuffix("_id")
            if not is_id(value, kind):
                raise NotFoundError(f"{kind} {_shown(value)} not found: it is not a {kind} id", key=_camel(name))
    if not request.scope.get("query_string"):
        return  # no query string: nothing more to check (and no query-parameter parsing)
    for name, kind in QUERY_IDS.items():
        for value in request.query_params.getall(name, []):
            if value and not is_id(str(value), kind):
                raise ValidationFailedError(f"{name} {_shown(str(value))} is not a {kind} id", key=name)
    # Postgres text cannot hold NUL: a search or filter with one would fail in the service behind.
    for name, value in request.query_params.items():
        if "\x00" in str(value) or "\x00" in name:
            raise ValidationFailedError(f"query parameter {_shown(name)} contains a NUL character", key=name)
