"""`WorkbookPort` over NATS request/reply to the workbook service (`cmd.workbook.*`)."""

from __future__ import annotations

from spaceport.contracts.workbook import (
    SERVICE,
    CreateWorkbook,
    DeleteWorkbook,
    ListWorkbooks,
    WorkbookList,
    WorkbookView,
    WorkbookWritten,
)
from spaceport.messaging import RpcClient


class RpcWorkbooks:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    async def workbooks(self, environment_id: str, space_id: str) -> list[WorkbookView]:
        query = ListWorkbooks(environment_id=environment_id, space_id=space_id)
        return (await self.rpc.request(SERVICE, query, WorkbookList)).data

    async def create(self, cmd: CreateWorkbook) -> WorkbookWritten:
        return await self.rpc.request(SERVICE, cmd, WorkbookWritten)

    async def delete(self, cmd: DeleteWorkbook) -> WorkbookWritten:
        return await self.rpc.request(SERVICE, cmd, WorkbookWritten)

    async def settled(self, environment_id: str, space_id: str, position: int) -> None:
        query = ListWorkbooks(
            environment_id=environment_id, space_id=space_id, include_sheets=False, min_position=position
        )
        await self.rpc.request(SERVICE, query, WorkbookList)
