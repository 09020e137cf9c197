"""The workbook service's NATS request/reply subjects (`cmd.workbook.<snake name>`), one per message."""

from __future__ import annotations

from spaceport.contracts.view import CreateView, DeleteView, GetView, ListViews, UpdateView
from spaceport.contracts.workbook import (
    CreateWorkbook,
    DeleteSheet,
    DeleteWorkbook,
    GetSheet,
    GetWorkbook,
    ListSheets,
    ListWorkbooks,
    LockSheet,
    RestoreWorkbooks,
    UnlockSheet,
    UpdateSheet,
    UpdateWorkbook,
)
from spaceport.messaging import RpcServer
from workbook_service.application.app import WorkbookApplication


def bind(rpc: RpcServer, app: WorkbookApplication) -> None:
    """Subscribe every command and query of `app`; `rpc` decodes, calls and encodes the reply."""
    commands, queries = app.commands, app.queries
    rpc.handle(CreateWorkbook)(commands.create_workbook)
    rpc.handle(UpdateWorkbook)(commands.update_workbook)
    rpc.handle(DeleteWorkbook)(commands.delete_workbook)
    rpc.handle(UpdateSheet)(commands.update_sheet)
    rpc.handle(DeleteSheet)(commands.delete_sheet)
    rpc.handle(LockSheet)(commands.lock_sheet)
    rpc.handle(UnlockSheet)(commands.unlock_sheet)
    rpc.handle(GetWorkbook)(queries.get_workbook)
    rpc.handle(ListWorkbooks)(queries.list_workbooks)
    rpc.handle(GetSheet)(queries.get_sheet)
    rpc.handle(ListSheets)(queries.list_sheets)
    rpc.handle(CreateView)(app.views.create_view)
    rpc.handle(UpdateView)(app.views.update_view)
    rpc.handle(DeleteView)(app.views.delete_view)
    rpc.handle(GetView)(app.view_queries.get_view)
    rpc.handle(ListViews)(app.view_queries.list_views)
    rpc.handle(RestoreWorkbooks)(app.restores.restore)
