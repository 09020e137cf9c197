"""`/v1/commits/{commitId}`: one commit (a write to a sheet), and its completion by a listener.

A record hook of a `trackChanges` workbook calls `POST …/complete` once it has processed the
commit's records; completing an already completed commit changes nothing. A commit of another
environment is not found; guests need write access to its space to complete it.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from gateway_service.api_docs import JSON_OBJECT
from gateway_service.auth import principal_of, require_workbook, view_in_space
from gateway_service.routes.records import data, json_response, sheet_scope
from gateway_service.state import Gateway
from spaceport.contracts.record import SERVICE, CommitCompletion, CommitReply, CompleteCommit, GetCommit
from spaceport.contracts.space import Principal

SUCCESS = b'{"data":{"success":true}}'


async def commit_for(gateway: Gateway, principal: Principal, commit_id: str, *, write: bool) -> CommitReply:
    """The commit, if `principal` may read (or write) its sheet's space and workbook; 404 if not."""
    query = GetCommit(commit_id=commit_id)
    reply = await view_in_space(
        gateway, principal, SERVICE, query, CommitReply, asked=("commit", commit_id), write=write
    )
    if principal.workbook_ids is not None:  # a guest limited to some workbooks: the sheet's must be one
        scope = await sheet_scope(gateway, reply.commit.sheet_id)
        require_workbook(principal, scope.workbook_id, ("commit", commit_id))
    return reply


@get("/v1/commits/{commit_id:str}", responses=JSON_OBJECT)
async def get_commit(request: Request[Any, Any, Any], gateway: Gateway, commit_id: str) -> Response[bytes]:
    principal = await principal_of(request, gateway)
    reply = await commit_for(gateway, principal, commit_id, write=False)
    return json_response(data(reply.commit))


@post("/v1/commits/{commit_id:str}/complete", status_code=200, responses=JSON_OBJECT)
async def complete_commit(request: Request[Any, Any, Any], gateway: Gateway, commit_id: str) -> Response[bytes]:
    principal = await principal_of(request, gateway)
    await commit_for(gateway, principal, commit_id, write=True)
    await gateway.rpc.request(SERVICE, CompleteCommit(principal=principal, commit_id=commit_id), CommitCompletion)
    return json_response(SUCCESS)


ROUTES = [get_commit, complete_commit]
