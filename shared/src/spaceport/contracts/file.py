"""The file service's contract: uploaded files and their S3 objects (Flatfile's `/v1/files`).

A file is an aggregate `file`, scoped by its space (`evt.<space_id>.file.<file_id>.<event>`).
The gateway streams an upload's bytes into S3 (the object the file service's `PrepareUpload`
named), then `CreateFile` records it; the file service removes the object on `DeleteFile`.
Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import msgspec

from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

SERVICE = "file"
AGGREGATE = "file"
Json = dict[str, Any]

FileMode = Literal["import", "export"]
FileStatus = Literal["partial", "complete", "archived", "purged", "failed"]
MODES: tuple[str, ...] = ("import", "export")
STATUSES: tuple[str, ...] = ("partial", "complete", "archived", "purged", "failed")
ORIGINS: tuple[str, ...] = ("filesystem", "googledrive", "box", "onedrive")
MAX_PAGE_SIZE = 1000
MAX_NAME_CHARS = 255
DEFAULT_ENCODING = "7bit"  # what Flatfile (multer) answers for a part that declares no charset
# The built-in extractor's actor: a `FileUpdated` naming a workbook from it records the workbook
# the file's extraction made (the uploader's own: `UploadedWorkbooks`).
EXTRACTOR_ACTOR = "us_ag_extractor"

# ---- events ----------------------------------------------------------------------------


class FileCreated(Event, frozen=True, kw_only=True):
    """An upload landed whole in S3 at `object_key` (`size` bytes)."""

    aggregate: ClassVar[str] = AGGREGATE
    file_id: str
    space_id: str
    environment_id: str
    name: str
    mode: str = "import"
    status: str = "complete"
    encoding: str | None = None
    size: int = 0
    mimetype: str = "application/octet-stream"
    object_key: str
    actions: list[Json] = msgspec.field(default_factory=list)
    origin: str | None = None
    created_by: str = ""


class FileUpdated(Event, frozen=True, kw_only=True):
    """`PATCH /files/{id}`: only the fields set changed."""

    aggregate: ClassVar[str] = AGGREGATE
    file_id: str
    name: str | None = None
    status: str | None = None
    mode: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    description: str | None = None
    actions: list[Json] | None = None


class FileDeleted(Event, frozen=True, kw_only=True):
    """The file is gone (its S3 object is removed after this event is stored)."""

    aggregate: ClassVar[str] = AGGREGATE
    file_id: str


EVENTS: tuple[type[Event], ...] = (FileCreated, FileUpdated, FileDeleted)

# ---- views ------------------------------------------------------------------------------


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    pass


class FileView(Wire, frozen=True, kw_only=True):
    """Flatfile's `File` (reference §2.6), camelCase on the wire."""

    id: str
    name: str
    ext: str
    mimetype: str
    encoding: str = DEFAULT_ENCODING  # the file part's charset when it declared one
    status: str
    mode: str = "import"
    description: str | None = None
    size: int
    bytes_received: int
    space_id: str
    workbook_id: str | None = None
    sheet_id: str | None = None
    actions: list[Json] = msgspec.field(default_factory=list)
    origin: str | None = None
    created_at: datetime
    updated_at: datetime
    expired_at: datetime | None = None


class FilePagination(Wire, frozen=True, kw_only=True):
    current_page: int
    page_count: int
    total_count: int


class FilePage(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /v1/files`: already the wire body `{data, pagination}`."""

    data: list[FileView]
    pagination: FilePagination


class UploadTicket(msgspec.Struct, frozen=True, kw_only=True):
    """Where the gateway streams a new upload: a fresh file id and its object."""

    file_id: str
    bucket: str
    object_key: str


class FileObject(msgspec.Struct, frozen=True, kw_only=True):
    """Where a live file's bytes are, for a download."""

    file_id: str
    name: str
    mimetype: str
    size: int
    bucket: str
    object_key: str


class FileWritten(msgspec.Struct, frozen=True, kw_only=True):
    """Where a command's last event landed; 0 when it changed nothing."""

    file_id: str
    position: int


# ---- commands -----------------------------------------------------------------------------


class PrepareUpload(msgspec.Struct, frozen=True, kw_only=True):
    """-> UploadTicket, if `principal` may upload into the live space `space_id` of `environment_id`."""

    principal: Principal
    environment_id: str
    space_id: str
    name: str


class CreateFile(msgspec.Struct, frozen=True, kw_only=True):
    """Record the upload of a ticket once its object is stored whole."""

    principal: Principal
    environment_id: str
    space_id: str
    file_id: str
    object_key: str
    name: str
    size: int
    mimetype: str = "application/octet-stream"
    encoding: str | None = None
    mode: str = "import"
    actions: list[Json] = msgspec.field(default_factory=list)
    origin: str | None = None


class UpdateFile(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    file_id: str
    name: str | None = None
    status: str | None = None
    mode: str | None = None
    workbook_id: str | None = None
    sheet_id: str | None = None
    actions: list[Json] | None = None


class DeleteFile(msgspec.Struct, frozen=True, kw_only=True):
    """Answers once the read model has the delete and the object is removed."""

    principal: Principal
    file_id: str


# ---- queries ------------------------------------------------------------------------------


class GetFile(msgspec.Struct, frozen=True, kw_only=True):
    """-> FileView; 404 when unknown, deleted, in another environment, or (guests) another space."""

    principal: Principal
    file_id: str
    min_position: int = 0


class GetFileObject(msgspec.Struct, frozen=True, kw_only=True):
    """-> FileObject, with the same visibility as GetFile."""

    principal: Principal
    file_id: str


class ListFiles(msgspec.Struct, frozen=True, kw_only=True):
    """-> FilePage of live files in `mode`, oldest first; the environment's when `space_id` is None."""

    principal: Principal
    space_id: str | None = None
    mode: str = "import"
    page_size: int = 20
    page_number: int = 1
    min_position: int = 0


class ListUploadedWorkbooks(msgspec.Struct, frozen=True, kw_only=True):
    """-> UploadedWorkbooks: the workbooks the built-in extractor made from the live files
    `principal` (a guest) uploaded in its space; empty for any other caller.

    A guest whose grant names workbooks may also use these (the gateway adds them to its
    `Principal.workbook_ids`), so it can import: its upload's source workbook and mapping job are
    its own. A workbook linked to a file otherwise (`PATCH /v1/files/{id}` `workbookId`) never counts.
    """

    principal: Principal


class UploadedWorkbooks(msgspec.Struct, frozen=True, kw_only=True):
    workbook_ids: list[str] = msgspec.field(default_factory=list)
