"""The file service's NATS request/reply subjects (`cmd.file.<snake name>`), one per message."""

from __future__ import annotations

from file_service.application.app import FileApplication
from spaceport.contracts.file import (
    CreateFile,
    DeleteFile,
    GetFile,
    GetFileObject,
    ListFiles,
    ListUploadedWorkbooks,
    PrepareUpload,
    UpdateFile,
)
from spaceport.messaging import RpcServer


def bind(rpc: RpcServer, app: FileApplication) -> None:
    """Subscribe every command and query of `app`; `rpc` decodes, calls and encodes the reply."""
    files = app.files
    rpc.handle(PrepareUpload)(files.prepare_upload)
    rpc.handle(CreateFile)(files.create)
    rpc.handle(UpdateFile)(files.update)
    rpc.handle(DeleteFile)(files.delete)
    rpc.handle(GetFile, workers=8)(files.get)
    rpc.handle(GetFileObject, workers=8)(files.get_object)
    rpc.handle(ListFiles, workers=8)(files.list_files)
    rpc.handle(ListUploadedWorkbooks, workers=8)(files.uploaded_workbooks)
