"""Environments, keys, spaces and documents through `SpaceApplication` on fakes: no servers, milliseconds.

Each test calls the handlers the RPC entrypoint binds and checks the events that landed in the
in-memory store, the replies, the refusals and the auth broadcasts.
"""

from __future__ import annotations

import pytest

from space_service.application import keys
from space_service.testing import World, world
from spaceport.contracts.space import (
    ApiKeyIssued,
    ApiKeyRevoked,
    Authenticate,
    AuthInvalidated,
    ChangeSpaceLifecycle,
    CreateDocument,
    CreateEnvironment,
    CreateSpace,
    DeleteDocument,
    DeleteEnvironment,
    DocumentCreated,
    DocumentDeleted,
    DocumentFields,
    DocumentUpdated,
    EnvironmentCreated,
    EnvironmentDeleted,
    GetDocument,
    GetEnvironment,
    GetSpace,
    ListDocuments,
    ListEnvironments,
    ListSpaces,
    Principal,
    RotateKeys,
    SpaceArchived,
    SpaceDeleted,
    SpaceFields,
    SpaceUnarchived,
    SpaceUpdated,
    UpdateDocument,
    UpdateSpace,
)
from spaceport.errors import NotFoundError, UnauthorizedError, ValidationFailedError

pytestmark = pytest.mark.unit


async def with_environment(w: World, name: str = "dev") -> tuple[str, str, Principal]:
    """An environment: (its id, its raw secret key, a principal of that key)."""
    reply = await w.app.environments.create(CreateEnvironment(name=name))
    assert reply.secret_key is not None
    who = await w.app.auth.authenticate(Authenticate(token=reply.secret_key))
    return reply.environment.id, reply.secret_key, who


async def with_space(w: World, name: str = "Space") -> tuple[str, str, Principal]:
    """An environment with one space: (environment id, space id, principal)."""
    env_id, _, who = await with_environment(w)
    written = await w.app.spaces.create(
        CreateSpace(principal=who, environment_id=env_id, fields=SpaceFields(name=name))
    )
    return env_id, written.space_id, who


# ---- environments and keys ---------------------------------------------------------------


async def test_an_environment_is_created_with_a_secret_and_a_publishable_key() -> None:
    w = world()
    reply = await w.app.environments.create(CreateEnvironment(name="dev"))
    created, *issued = await w.events("environment")
    assert isinstance(created, EnvironmentCreated) and created.environment_id == reply.environment.id
    assert [(k.kind, k.key_hash) for k in issued if isinstance(k, ApiKeyIssued)] == [
        ("secret", keys.hash_key(reply.secret_key or "")),
        ("publishable", keys.hash_key(reply.publishable_key or "")),
    ]
    assert reply.environment.name == "dev"
    assert reply.position == await w.store.last_seq()


async def test_a_secret_key_authenticates_as_its_environment() -> None:
    w = world()
    env_id, secret, who = await with_environment(w)
    issued = [e for e in await w.events("environment") if isinstance(e, ApiKeyIssued) and e.kind == "secret"]
    assert who == Principal(environment_id=env_id, kind="secret", actor=issued[0].key_id)
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=secret + "x"))


async def test_creating_an_environment_again_with_its_key_answers_it_without_keys() -> None:
    w = world()
    cmd = CreateEnvironment(name="dev", idempotency_key="k1")
    first = await w.app.environments.create(cmd)
    again = await w.app.environments.create(cmd)
    assert (again.environment, again.position) == (first.environment, first.position)
    assert (again.secret_key, again.publishable_key) == (None, None)
    assert len(await w.events("environment")) == 3


async def test_rotating_revokes_the_old_key_and_tells_the_gateways() -> None:
    w = world()
    env_id, old, _ = await with_environment(w)
    rotated = await w.app.environments.rotate(RotateKeys(actor="us_key_x", environment_id=env_id, kinds=["secret"]))
    revoked, issued = (await w.events("environment"))[-2:]
    assert isinstance(revoked, ApiKeyRevoked) and isinstance(issued, ApiKeyIssued) and issued.kind == "secret"
    assert rotated.keys.secret_key is not None and rotated.keys.publishable_key is None
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=old))
    assert (await w.app.auth.authenticate(Authenticate(token=rotated.keys.secret_key))).actor == issued.key_id
    assert w.broadcasts.sent == [AuthInvalidated(reason="keys_rotated", environment_id=env_id)]


async def test_a_deleted_environment_is_gone_for_reads_keys_and_new_spaces() -> None:
    w = world()
    env_id, secret, who = await with_environment(w)
    await w.app.environments.delete(DeleteEnvironment(actor=who.actor, environment_id=env_id))
    assert (await w.events("environment"))[-1] == EnvironmentDeleted(environment_id=env_id)
    assert w.broadcasts.sent == [AuthInvalidated(reason="environment_deleted", environment_id=env_id)]
    with pytest.raises(NotFoundError):
        await w.app.environments.get(GetEnvironment(environment_id=env_id))
    with pytest.raises(UnauthorizedError):
        await w.app.auth.authenticate(Authenticate(token=secret))
    with pytest.raises(NotFoundError) as refused:
        await w.app.spaces.create(CreateSpace(principal=who, environment_id=env_id))
    assert refused.value.key == "environmentId"


async def test_environments_are_listed_in_pages() -> None:
    w = world()
    for name in ("a", "b", "c"):
        await w.app.environments.create(CreateEnvironment(name=name))
    page = await w.app.environments.list_environments(ListEnvironments(page_size=2, page_number=2))
    assert [e.name for e in page.data] == ["c"]
    assert (page.pagination.page_count, page.pagination.total_count) == (2, 3)


# ---- spaces ------------------------------------------------------------------------------


async def test_a_space_is_created_and_updated_with_only_the_changed_fields() -> None:
    w = world()
    env_id, space_id, who = await with_space(w, "Before")
    unchanged = await w.app.spaces.update(
        UpdateSpace(principal=who, environment_id=env_id, space_id=space_id, fields=SpaceFields())
    )
    await w.app.spaces.update(
        UpdateSpace(principal=who, environment_id=env_id, space_id=space_id, fields=SpaceFields(name="After"))
    )
    assert (await w.events("space"))[1:] == [SpaceUpdated(space_id=space_id, name="After")]
    assert unchanged.position == 0  # nothing to append
    assert (await w.app.spaces.get(GetSpace(environment_id=env_id, space_id=space_id))).name == "After"


async def test_archive_is_idempotent_and_closes_the_space_for_guests() -> None:
    w = world()
    env_id, space_id, who = await with_space(w)
    archive = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[space_id], transition="archive")
    await w.app.spaces.change_lifecycle(archive)
    await w.app.spaces.change_lifecycle(archive)
    unarchive = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[space_id], transition="unarchive")
    await w.app.spaces.change_lifecycle(unarchive)
    assert (await w.events("space"))[1:] == [SpaceArchived(space_id=space_id), SpaceUnarchived(space_id=space_id)]
    closed = AuthInvalidated(reason="space_closed", environment_id=env_id, space_ids=[space_id])
    assert w.broadcasts.sent == [closed]  # the repeated archive appended nothing: nothing to announce


async def test_archived_spaces_are_listed_apart_and_deleted_ones_not_at_all() -> None:
    w = world()
    env_id, kept, who = await with_space(w, "kept")
    archived = (await w.app.spaces.create(CreateSpace(principal=who, environment_id=env_id))).space_id
    deleted = (await w.app.spaces.create(CreateSpace(principal=who, environment_id=env_id))).space_id
    archive = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[archived], transition="archive")
    delete = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[deleted], transition="delete")
    await w.app.spaces.change_lifecycle(archive)
    await w.app.spaces.change_lifecycle(delete)
    live = await w.app.spaces.list_spaces(ListSpaces(environment_id=env_id))
    only_archived = await w.app.spaces.list_spaces(ListSpaces(environment_id=env_id, archived=True))
    assert ([s.id for s in live.data], [s.id for s in only_archived.data]) == ([kept], [archived])
    assert (await w.events("space"))[-1] == SpaceDeleted(space_id=deleted)
    with pytest.raises(NotFoundError):
        await w.app.spaces.get(GetSpace(environment_id=env_id, space_id=deleted))


async def test_one_unknown_space_refuses_the_whole_bulk_change() -> None:
    w = world()
    env_id, space_id, who = await with_space(w)
    cmd = ChangeSpaceLifecycle(
        principal=who, environment_id=env_id, space_ids=[space_id, "us_sp_unknown"], transition="delete"
    )
    with pytest.raises(NotFoundError) as refused:
        await w.app.spaces.change_lifecycle(cmd)
    assert refused.value.key == "spaceId"
    assert len(await w.events("space")) == 1
    too_many = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[], transition="delete")
    with pytest.raises(ValidationFailedError):
        await w.app.spaces.change_lifecycle(too_many)


async def test_another_environment_cannot_see_or_change_the_space() -> None:
    w = world()
    _, space_id, _ = await with_space(w)
    other_env, _, stranger = await with_environment(w, "other")
    with pytest.raises(NotFoundError):
        await w.app.spaces.update(
            UpdateSpace(principal=stranger, environment_id=other_env, space_id=space_id, fields=SpaceFields(name="x"))
        )
    with pytest.raises(NotFoundError):
        await w.app.spaces.get(GetSpace(environment_id=other_env, space_id=space_id))


# ---- documents ---------------------------------------------------------------------------


async def test_a_document_is_created_updated_and_deleted_in_its_space() -> None:
    w = world()
    env_id, space_id, who = await with_space(w)
    written = await w.app.documents.create(
        CreateDocument(principal=who, environment_id=env_id, space_id=space_id, title="Doc", body="# hi")
    )
    doc_id = written.document_id
    fields = DocumentFields(title="Renamed")
    cmd = UpdateDocument(principal=who, environment_id=env_id, space_id=space_id, document_id=doc_id, fields=fields)
    await w.app.documents.update(cmd)
    view = await w.app.documents.get(GetDocument(environment_id=env_id, space_id=space_id, document_id=doc_id))
    assert (view.title, view.body) == ("Renamed", "# hi")
    await w.app.documents.delete(
        DeleteDocument(principal=who, environment_id=env_id, space_id=space_id, document_id=doc_id)
    )
    created, updated, deleted = await w.events("document")
    assert isinstance(created, DocumentCreated) and created.document_id == doc_id
    assert (updated, deleted) == (
        DocumentUpdated(document_id=doc_id, title="Renamed"),
        DocumentDeleted(document_id=doc_id),
    )
    assert await w.app.documents.list_documents(ListDocuments(environment_id=env_id, space_id=space_id)) == []


async def test_documents_of_a_deleted_space_are_refused_and_not_listed() -> None:
    w = world()
    env_id, space_id, who = await with_space(w)
    delete = ChangeSpaceLifecycle(principal=who, environment_id=env_id, space_ids=[space_id], transition="delete")
    await w.app.spaces.change_lifecycle(delete)
    with pytest.raises(NotFoundError) as refused:
        await w.app.documents.create(
            CreateDocument(principal=who, environment_id=env_id, space_id=space_id, title="Doc", body="")
        )
    assert refused.value.key == "spaceId"
    with pytest.raises(NotFoundError):
        await w.app.documents.list_documents(ListDocuments(environment_id=env_id, space_id=space_id))
    assert await w.events("document") == []


async def test_an_unknown_document_is_not_found() -> None:
    w = world()
    env_id, space_id, who = await with_space(w)
    for document_id in ("us_dc_unknown", "not.an.id"):
        with pytest.raises(NotFoundError) as refused:
            await w.app.documents.delete(
                DeleteDocument(principal=who, environment_id=env_id, space_id=space_id, document_id=document_id)
            )
        assert refused.value.key == "documentId"
