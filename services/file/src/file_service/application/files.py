"""File commands (load -> decide -> append on the `file` aggregate) and queries (the read model).

A file's events live under its space (`evt.<space_id>.file.<file_id>.*`). Commands name only
the file id, so its space is looked up: in the read model, or — for a file created a moment ago
that is not projected yet — from its first stored event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import msgspec

from file_service.application.ports import FileReads, FileRow, ObjectStore, WaitFor
from file_service.domain import file as domain
from spaceport import ids, known_spaces, paging
from spaceport.aggregate import Folder, execute
from spaceport.contracts.file import (
    AGGREGATE,
    MAX_PAGE_SIZE,
    MODES,
    CreateFile,
    DeleteFile,
    FileCreated,
    FileDeleted,
    FileObject,
    FilePage,
    FilePagination,
    FileUpdated,
    FileView,
    FileWritten,
    GetFile,
    GetFileObject,
    ListFiles,
    ListUploadedWorkbooks,
    PrepareUpload,
    UpdateFile,
    UploadedWorkbooks,
    UploadTicket,
)
from spaceport.contracts.space import Principal
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event
from spaceport.known_spaces import SpaceFact
from spaceport.ports import AggregateRef, AppendContext, EventStorePort

FILES = Folder(domain.initial, domain.evolve)
_ID = re.compile(r"^[a-z0-9]+_fl_[A-Za-z0-9]{1,64}$")
Decide = Callable[[domain.FileState], Sequence[Event]]


class FileHandlers:
    def __init__(self, store: EventStorePort, reads: FileReads, caught_up: WaitFor, objects: ObjectStore) -> None:
        self.store = store
        self.reads = reads
        self.caught_up = caught_up
        self.objects = objects

    # ---- commands -------------------------------------------------------------------------

    async def prepare_upload(self, cmd: PrepareUpload) -> UploadTicket:
        await self._require_space(cmd.principal, cmd.environment_id, cmd.space_id)
        domain.check_name(cmd.name)
        file_id = ids.new_id("file")
        key = domain.object_key(cmd.space_id, file_id, cmd.name)
        return UploadTicket(file_id=file_id, bucket=self.objects.bucket, object_key=key)

    async def create(self, cmd: CreateFile) -> FileWritten:
        await self._require_space(cmd.principal, cmd.environment_id, cmd.space_id)
        if not _ID.match(cmd.file_id):
            raise ValidationFailedError(f"{cmd.file_id[:80]!r} is not a file id", key="fileId")
        context = AppendContext(actor=cmd.principal.actor, idempotency_key=f"{cmd.file_id}:create")
        done = await execute(
            self.store,
            _ref(cmd.environment_id, cmd.space_id, cmd.file_id),
            FILES,
            lambda s: domain.create(s, cmd),
            context,
        )
        return FileWritten(file_id=cmd.file_id, position=done.position)

    async def update(self, cmd: UpdateFile) -> FileWritten:
        return await self._change(cmd.principal, cmd.file_id, lambda s: domain.update(s, cmd))

    async def delete(self, cmd: DeleteFile) -> FileWritten:
        ref = await self._locate(cmd.file_id, cmd.principal)
        loaded = await self.store.load(ref)
        key = FILES.fold(loaded).object_key
        written = await self._change(cmd.principal, cmd.file_id, lambda s: domain.delete(s, cmd.file_id, cmd.principal))
        await self.objects.remove(key)
        await self.caught_up(written.position)  # answered {success}: the next read must 404
        return written

    # ---- queries --------------------------------------------------------------------------

    async def get(self, query: GetFile) -> FileView:
        await self.caught_up(query.min_position)
        return (await self._row(query.principal, query.file_id)).view

    async def get_object(self, query: GetFileObject) -> FileObject:
        row = await self._row(query.principal, query.file_id)
        view = row.view
        return FileObject(
            file_id=view.id,
            name=view.name,
            mimetype=view.mimetype,
            size=view.size,
            bucket=self.objects.bucket,
            object_key=row.object_key,
        )

    async def stored_object(self, environment_id: str, space_id: str, file_id: str) -> FileObject:
        """Where a live file's bytes are, from its own events (for the extractor, which may run
        before the read model has the upload); 404 when unknown or deleted."""
        loaded = await self.store.load(_ref(environment_id, space_id, file_id))
        found: FileObject | None = None
        for stored in loaded.events:
            match stored.event:
                case FileCreated() as e:
                    found = FileObject(
                        file_id=file_id,
                        name=e.name,
                        mimetype=e.mimetype,
                        size=e.size,
                        bucket=self.objects.bucket,
                        object_key=e.object_key,
                    )
                case FileUpdated(name=str() as name) if found is not None:
                    found = msgspec.structs.replace(found, name=name)
                case FileDeleted():
                    found = None
        if found is None:
            raise NotFoundError(f"file {file_id} not found", key="fileId")
        return found

    async def list_files(self, query: ListFiles) -> FilePage:
        paging.check(query.page_size, query.page_number, MAX_PAGE_SIZE)
        domain.check_choice(query.mode, MODES, "mode")
        principal = query.principal
        if principal.kind == "guest":  # a guest lists its own space's files only
            if query.space_id not in (None, principal.space_id):
                raise NotFoundError(f"space {query.space_id} not found", key="spaceId")
            query = msgspec.structs.replace(query, space_id=principal.space_id)
        if query.space_id is not None:
            self._visible(await self.known_space(query.space_id), principal, query.space_id)
        await self.caught_up(query.min_position)
        found, total = await self.reads.files(principal.environment_id, query)
        pages = math.ceil(total / query.page_size)
        pagination = FilePagination(current_page=query.page_number, page_count=pages, total_count=total)
        return FilePage(data=found, pagination=pagination)

    async def uploaded_workbooks(self, query: ListUploadedWorkbooks) -> UploadedWorkbooks:
        """The workbooks extracted from the live files a guest uploaded in its space (nobody else has any)."""
        principal = query.principal
        if principal.kind != "guest" or principal.space_id is None:
            return UploadedWorkbooks()
        found = await self.reads.uploaded_workbooks(principal.environment_id, principal.space_id, principal.actor)
        return UploadedWorkbooks(workbook_ids=sorted(found))

    # ---- plumbing -------------------------------------------------------------------------

    async def _row(self, principal: Principal, file_id: str) -> FileRow:
        row = await self.reads.file(file_id) if _ID.match(file_id) else None
        if row is None or row.environment_id != principal.environment_id or not _sees(principal, row):
            raise NotFoundError(f"file {file_id} not found", key="fileId")
        return row

    async def _change(self, principal: Principal, file_id: str, decide: Decide) -> FileWritten:
        ref = await self._locate(file_id, principal)
        done = await execute(self.store, ref, FILES, decide, AppendContext(actor=principal.actor))
        return FileWritten(file_id=file_id, position=done.position)

    async def _locate(self, file_id: str, principal: Principal) -> AggregateRef:
        """Where the file's events live: the read model knows, or its first stored event does."""
        missing = NotFoundError(f"file {file_id} not found", key="fileId")
        if not _ID.match(file_id):
            raise missing
        row = await self.reads.file(file_id)
        if row is not None:
            return _ref(row.environment_id, row.view.space_id, file_id)
        async for first in self.store.read(f"{self.store.prefix}.*.{AGGREGATE}.{file_id}.*"):
            envelope = first.envelope
            return _ref(envelope.environment_id, envelope.space_id or "", file_id)
        raise missing

    async def known_space(self, space_id: str) -> SpaceFact | None:
        """The space as the directory has it; a miss waits for the space's events to be projected."""
        return await known_spaces.lookup(space_id, self.reads.space_fact, self.store, self.caught_up)

    async def _require_space(self, principal: Principal, environment_id: str, space_id: str) -> None:
        """Uploads go into a live space of the caller's environment (a guest's own space)."""
        if environment_id != principal.environment_id:
            raise NotFoundError(f"environment {environment_id} not found", key="environmentId")
        space = await self.known_space(space_id)
        self._visible(space, principal, space_id)
        if space is not None and space.archived:
            raise ConflictError(f"space {space_id} is archived; unarchive it to upload files", key="spaceId")

    @staticmethod
    def _visible(space: SpaceFact | None, principal: Principal, space_id: str) -> None:
        if space is None or space.deleted or space.environment_id != principal.environment_id:
            raise NotFoundError(f"space {space_id} not found", key="spaceId")
        if principal.kind == "guest" and principal.space_id != space_id:
            raise NotFoundError(f"space {space_id} not found", key="spaceId")


def _sees(principal: Principal, row: FileRow) -> bool:
    """A guest sees its own space's files; one limited to some workbooks only their files and its
    own uploads (another guest's upload, not yet extracted or extracted into its own workbook, is not found)."""
    if principal.kind != "guest":
        return True
    if row.view.space_id != principal.space_id:
        return False
    limited = principal.workbook_ids
    return limited is None or row.created_by == principal.actor or row.view.workbook_id in limited


def _ref(environment_id: str, space_id: str, file_id: str) -> AggregateRef:
    return AggregateRef(environment_id=environment_id, space_id=space_id, aggregate=AGGREGATE, aggregate_id=file_id)
