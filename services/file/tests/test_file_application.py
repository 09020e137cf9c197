"""Files through `FileApplication` on the in-memory store with folded reads: no servers, milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import pytest

from file_service.application.app import FileApplication
from file_service.application.ports import FileRow
from file_service.entrypoints import extractor
from file_service.projections.queries import ext_of
from spaceport import known_spaces
from spaceport.contracts import file, space
from spaceport.contracts.file import (
    EXTRACTOR_ACTOR,
    CreateFile,
    DeleteFile,
    FileCreated,
    FileDeleted,
    FileUpdated,
    FileView,
    GetFile,
    GetFileObject,
    ListFiles,
    ListUploadedWorkbooks,
    PrepareUpload,
    UpdateFile,
)
from spaceport.contracts.space import Principal, SpaceArchived, SpaceCreated
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import EventRegistry
from spaceport.known_spaces import SpaceFact, space_ref
from spaceport.memstore import InMemoryEventStore

pytestmark = pytest.mark.unit
ENV = "us_env_a"
SPACE = "us_sp_a"
WHO = Principal(environment_id=ENV, kind="secret", actor="us_key_a")
OTHER = Principal(environment_id="us_env_b", kind="secret", actor="us_key_b")
GUEST = Principal(environment_id=ENV, kind="guest", actor="us_g_a", space_id=SPACE, role="editor")


@dataclass
class FoldedFiles:
    """The `FileReads` port, folded from the store's events on every call."""

    store: InMemoryEventStore

    extracted: dict[str, str] = field(default_factory=dict)  # file id -> the extractor's workbook

    async def _fold(self) -> tuple[dict[str, FileRow], dict[str, SpaceFact], set[str]]:
        rows: dict[str, FileRow] = {}
        spaces: dict[str, SpaceFact] = {}
        deleted: set[str] = set()
        self.extracted.clear()
        async for stored in self.store.read("evt.>"):
            known_spaces.fold(spaces, stored.event)
            at = stored.envelope.occurred_at
            match stored.event:
                case FileCreated() as e:
                    view = FileView(
                        id=e.file_id,
                        name=e.name,
                        ext=ext_of(e.name),
                        mimetype=e.mimetype,
                        status=e.status,
                        mode=e.mode,
                        size=e.size,
                        bytes_received=e.size,
                        space_id=e.space_id,
                        actions=e.actions,
                        created_at=at,
                        updated_at=at,
                    )
                    rows[e.file_id] = FileRow(
                        view=view, environment_id=e.environment_id, object_key=e.object_key, created_by=e.created_by
                    )
                case FileUpdated() as e:
                    if e.workbook_id is not None and stored.envelope.actor == EXTRACTOR_ACTOR:
                        self.extracted[e.file_id] = e.workbook_id
                    row = rows[e.file_id]
                    changes = {k: v for k, v in msgspec.structs.asdict(e).items() if v is not None and k != "file_id"}
                    view = msgspec.structs.replace(row.view, updated_at=at, **changes)
                    rows[e.file_id] = msgspec.structs.replace(row, view=view)
                case FileDeleted() as e:
                    deleted.add(e.file_id)
        return rows, spaces, deleted

    async def file(self, file_id: str) -> FileRow | None:
        rows, _, deleted = await self._fold()
        return None if file_id in deleted else rows.get(file_id)

    async def files(self, environment_id: str, query: ListFiles) -> tuple[list[FileView], int]:
        rows, _, deleted = await self._fold()
        found = [
            r.view
            for r in rows.values()
            if r.view.id not in deleted
            and r.environment_id == environment_id
            and r.view.mode == query.mode
            and query.space_id in (None, r.view.space_id)
            and (
                query.principal.workbook_ids is None
                or r.view.workbook_id in query.principal.workbook_ids
                or r.created_by == query.principal.actor
            )
        ]
        start = (query.page_number - 1) * query.page_size
        return found[start : start + query.page_size], len(found)

    async def uploaded_workbooks(self, environment_id: str, space_id: str, created_by: str) -> list[str]:
        rows, _, deleted = await self._fold()
        return [
            self.extracted[r.view.id]
            for r in rows.values()
            if r.view.id in self.extracted
            and r.view.id not in deleted
            and (r.environment_id, r.view.space_id, r.created_by) == (environment_id, space_id, created_by)
        ]

    async def space_fact(self, space_id: str) -> SpaceFact | None:
        _, spaces, _ = await self._fold()
        return spaces.get(space_id)


@dataclass
class FakeObjects:
    bucket: str = "test-bucket"
    removed: list[str] = field(default_factory=list)

    async def remove(self, key: str) -> None:
        self.removed.append(key)


async def caught_up(_: int) -> bool:
    return True


@dataclass
class World:
    store: InMemoryEventStore
    app: FileApplication
    objects: FakeObjects


@pytest.fixture
async def world() -> World:
    store = InMemoryEventStore(EventRegistry((*space.EVENTS, *file.EVENTS)))
    objects = FakeObjects()
    app = FileApplication(store, FoldedFiles(store), caught_up, objects)
    ref = space_ref(SPACE, ENV)
    await store.append(ref, [SpaceCreated(space_id=SPACE, environment_id=ENV, name="s")], expected_version=0)
    return World(store, app, objects)


async def upload(w: World, who: Principal = WHO, name: str = "people.csv", mode: str = "import") -> str:
    ticket = await w.app.files.prepare_upload(
        PrepareUpload(principal=who, environment_id=ENV, space_id=SPACE, name=name)
    )
    assert ticket.object_key == f"{SPACE}/{ticket.file_id}/{name}"
    cmd = CreateFile(
        principal=who,
        environment_id=ENV,
        space_id=SPACE,
        file_id=ticket.file_id,
        object_key=ticket.object_key,
        name=name,
        size=3,
        mimetype="text/csv",
        mode=mode,
    )
    written = await w.app.files.create(cmd)
    assert written.position > 0
    return ticket.file_id


async def test_an_upload_reads_back(world: World) -> None:
    file_id = await upload(world)
    view = await world.app.files.get(GetFile(principal=WHO, file_id=file_id))
    assert (view.name, view.ext, view.size, view.bytes_received, view.status) == ("people.csv", "csv", 3, 3, "complete")
    found = await world.app.files.get_object(GetFileObject(principal=WHO, file_id=file_id))
    assert (found.bucket, found.object_key) == ("test-bucket", f"{SPACE}/{file_id}/people.csv")


async def test_uploads_need_a_live_space_of_the_environment(world: World) -> None:
    for space_id in ("us_sp_nope", "a.b"):
        with pytest.raises(NotFoundError):
            await world.app.files.prepare_upload(
                PrepareUpload(principal=WHO, environment_id=ENV, space_id=space_id, name="a.csv")
            )
    with pytest.raises(NotFoundError):
        await world.app.files.prepare_upload(
            PrepareUpload(principal=OTHER, environment_id="us_env_b", space_id=SPACE, name="a.csv")
        )
    await world.store.append(space_ref(SPACE, ENV), [SpaceArchived(space_id=SPACE)], expected_version=None)
    with pytest.raises(ConflictError):
        await upload(world)


async def test_update_and_list_by_mode(world: World) -> None:
    imported = await upload(world)
    exported = await upload(world, name="out.csv", mode="export")
    cmd = UpdateFile(principal=WHO, file_id=imported, status="failed", workbook_id="us_wb_a")
    await world.app.files.update(cmd)
    page = await world.app.files.list_files(ListFiles(principal=WHO, space_id=SPACE))
    assert [(v.id, v.status, v.workbook_id) for v in page.data] == [(imported, "failed", "us_wb_a")]
    assert page.pagination.total_count == 1
    page = await world.app.files.list_files(ListFiles(principal=WHO, mode="export"))
    assert [v.id for v in page.data] == [exported]
    with pytest.raises(ValidationFailedError):
        await world.app.files.list_files(ListFiles(principal=WHO, mode="sideways"))
    with pytest.raises(ValidationFailedError):
        await world.app.files.list_files(ListFiles(principal=WHO, page_size=0))


async def test_delete_removes_the_object_and_the_file(world: World) -> None:
    file_id = await upload(world)
    await world.app.files.delete(DeleteFile(principal=WHO, file_id=file_id))
    assert world.objects.removed == [f"{SPACE}/{file_id}/people.csv"]
    with pytest.raises(NotFoundError):
        await world.app.files.get(GetFile(principal=WHO, file_id=file_id))
    with pytest.raises(NotFoundError):
        await world.app.files.delete(DeleteFile(principal=WHO, file_id=file_id))


async def test_files_are_invisible_to_other_environments_and_spaces(world: World) -> None:
    file_id = await upload(world, who=GUEST)
    stranger = msgspec.structs.replace(GUEST, space_id="us_sp_other")
    for who in (OTHER, stranger):
        with pytest.raises(NotFoundError):
            await world.app.files.get(GetFile(principal=who, file_id=file_id))
        with pytest.raises(NotFoundError):
            await world.app.files.update(UpdateFile(principal=who, file_id=file_id, name="x.csv"))
    with pytest.raises(NotFoundError):
        await world.app.files.list_files(ListFiles(principal=stranger, space_id=SPACE))
    page = await world.app.files.list_files(ListFiles(principal=GUEST))
    assert [v.id for v in page.data] == [file_id]
    assert (await world.app.files.list_files(ListFiles(principal=OTHER))).data == []


async def test_an_unknown_or_malformed_file_id_is_not_found(world: World) -> None:
    for file_id in ("us_fl_nope", "a.b", ">", "us_sp_a"):
        with pytest.raises(NotFoundError):
            await world.app.files.get(GetFile(principal=WHO, file_id=file_id))
        with pytest.raises(NotFoundError):
            await world.app.files.update(UpdateFile(principal=WHO, file_id=file_id, name="x.csv"))


async def test_create_refuses_a_key_that_is_not_the_files(world: World) -> None:
    cmd = CreateFile(
        principal=WHO,
        environment_id=ENV,
        space_id=SPACE,
        file_id="us_fl_abc",
        object_key="us_sp_other/us_fl_abc/x.csv",
        name="x.csv",
        size=1,
    )
    with pytest.raises(ValidationFailedError):
        await world.app.files.create(cmd)


# ---- guests limited to some workbooks: their own uploads ----------------------------------------

EXTRACTOR = Principal(environment_id=ENV, kind="secret", actor=EXTRACTOR_ACTOR)


def limited(actor: str, *workbooks: str) -> Principal:
    return Principal(
        environment_id=ENV, kind="guest", actor=actor, space_id=SPACE, role="editor", workbook_ids=list(workbooks)
    )


async def test_a_limited_guest_sees_its_own_upload_and_its_extracted_workbook_only(world: World) -> None:
    ann, bob = limited("us_g_ann", "us_wb_dest"), limited("us_g_bob", "us_wb_dest")
    mine = await upload(world, who=ann)
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=ann))).workbook_ids == []
    await world.app.files.update(UpdateFile(principal=EXTRACTOR, file_id=mine, workbook_id="us_wb_src"))
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=ann))).workbook_ids == [
        "us_wb_src"
    ]
    assert (await world.app.files.get(GetFile(principal=ann, file_id=mine))).workbook_id == "us_wb_src"
    assert [v.id for v in (await world.app.files.list_files(ListFiles(principal=ann))).data] == [mine]
    # another limited guest: neither the upload (before or after extraction) nor its workbook
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=bob))).workbook_ids == []
    with pytest.raises(NotFoundError):
        await world.app.files.get(GetFile(principal=bob, file_id=mine))
    with pytest.raises(NotFoundError):
        await world.app.files.get_object(GetFileObject(principal=bob, file_id=mine))
    page = await world.app.files.list_files(ListFiles(principal=bob))
    assert (page.data, page.pagination.total_count) == ([], 0)
    pending = await upload(world, who=ann)  # not extracted yet: no workbook, still only the uploader's
    with pytest.raises(NotFoundError):
        await world.app.files.get(GetFile(principal=bob, file_id=pending))
    assert (await world.app.files.get(GetFile(principal=ann, file_id=pending))).workbook_id is None
    # a guest of the whole space, a secret key and the grant's own workbooks' files: as before
    whole = msgspec.structs.replace(bob, workbook_ids=None)
    assert {v.id for v in (await world.app.files.list_files(ListFiles(principal=whole))).data} == {mine, pending}
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=WHO))).workbook_ids == []
    linked = await upload(world)
    await world.app.files.update(UpdateFile(principal=WHO, file_id=linked, workbook_id="us_wb_dest"))
    assert (await world.app.files.get(GetFile(principal=bob, file_id=linked))).id == linked


async def test_only_the_extractors_workbook_counts_and_a_deleted_upload_drops_it(world: World) -> None:
    ann = limited("us_g_ann", "us_wb_dest")
    mine = await upload(world, who=ann)
    # the uploader (or anyone) naming a workbook on the file grants nothing
    await world.app.files.update(UpdateFile(principal=ann, file_id=mine, workbook_id="us_wb_secret"))
    await world.app.files.update(UpdateFile(principal=WHO, file_id=mine, workbook_id="us_wb_other"))
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=ann))).workbook_ids == []
    await world.app.files.update(UpdateFile(principal=EXTRACTOR, file_id=mine, workbook_id="us_wb_src"))
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=ann))).workbook_ids == [
        "us_wb_src"
    ]
    await world.app.files.delete(DeleteFile(principal=ann, file_id=mine))
    assert (await world.app.files.uploaded_workbooks(ListUploadedWorkbooks(principal=ann))).workbook_ids == []


def test_the_extractor_writes_as_the_actor_the_read_model_trusts() -> None:
    assert extractor.ACTOR == EXTRACTOR_ACTOR
    assert extractor.principal(ENV).actor == EXTRACTOR_ACTOR
