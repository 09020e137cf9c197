"""A fake of the space read model: the read ports answered from the event store's events.

`FoldedDirectory` answers every read port (`application.ports.Directory`) by folding the event
store's events on each call, the way `projections.directory.SpaceDirectory` folds them into
Postgres; `tests/test_directory_contract.py` holds both to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from space_service.application import keys
from space_service.application.ports import SecretRow
from space_service.projections.queries import SORT_COLUMNS
from space_service.projections.rows import ACCOUNT_ID
from spaceport.contracts import workbook
from spaceport.contracts.space import (
    ActorRoleView,
    ApiKeyIssued,
    ApiKeyRevoked,
    ApiKeyView,
    AppCreated,
    AppDeleted,
    AppUpdated,
    AppView,
    ConstraintCreated,
    ConstraintDeleted,
    ConstraintUpdated,
    ConstraintVersionView,
    ConstraintView,
    DocumentCreated,
    DocumentDeleted,
    DocumentUpdated,
    DocumentView,
    EnvironmentCreated,
    EnvironmentDeleted,
    EnvironmentUpdated,
    EnvironmentView,
    GuestCreated,
    GuestDeleted,
    GuestGrant,
    GuestSpaceView,
    GuestUpdated,
    GuestView,
    GuestWorkbookView,
    ListSpaces,
    Principal,
    SecretCreated,
    SecretDeleted,
    SecretUpdated,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceUnarchived,
    SpaceUpdated,
    SpaceView,
    actor_role_id,
    role_id,
)
from spaceport.contracts.workbook import WorkbookCreated, WorkbookDeleted
from spaceport.events import Event, StoredEvent
from spaceport.ports import EventStorePort

# ListSpaces sort fields -> SpaceView attributes (the SQL sorts by the columns in SORT_COLUMNS).
SORT_ATTRIBUTES = {
    "name": "name",
    "workbooksCount": "workbooks_count",
    "filesCount": "files_count",
    "environmentId": "environment_id",
    "createdByUserName": "created_by_user_id",
    "createdAt": "created_at",
    "lastActivityAt": "last_activity_at",
}
assert SORT_ATTRIBUTES.keys() == SORT_COLUMNS.keys()  # a new sort field needs both


@dataclass
class _Model:
    environments: dict[str, tuple[EnvironmentView, datetime]] = field(default_factory=dict)
    deleted_environments: set[str] = field(default_factory=set)
    keys: dict[str, tuple[str, Principal]] = field(default_factory=dict)  # live key hash -> (key id, holder)
    spaces: dict[str, SpaceView] = field(default_factory=dict)
    deleted_spaces: set[str] = field(default_factory=set)
    documents: dict[str, DocumentView] = field(default_factory=dict)
    guests: dict[str, GuestView] = field(default_factory=dict)
    secrets: dict[str, SecretRow] = field(default_factory=dict)
    key_views: dict[str, ApiKeyView] = field(default_factory=dict)  # live keys by key id
    grant_times: dict[tuple[str, str], tuple[datetime, datetime]] = field(default_factory=dict)  # (guest, space)
    apps: dict[str, AppView] = field(default_factory=dict)  # live ones
    versions: dict[str, list[ConstraintVersionView]] = field(default_factory=dict)  # live constraints' versions

    def live_environment(self, environment_id: str) -> bool:
        return environment_id in self.environments and environment_id not in self.deleted_environments

    def live_space(self, environment_id: str | None, space_id: str) -> SpaceView | None:
        view = self.spaces.get(space_id)
        if view is None or space_id in self.deleted_spaces:
            return None
        return view if environment_id in (None, view.environment_id) else None


class FoldedDirectory:
    """`Directory` folded from `store` on each call (always caught up)."""

    def __init__(self, store: EventStorePort) -> None:
        self.store = store

    async def caught_up(self, position: int) -> bool:
        """Its `WaitFor`: a fold on each call has nothing to wait for."""
        return True

    async def environment(self, environment_id: str) -> EnvironmentView | None:
        model = await self._fold()
        return model.environments[environment_id][0] if model.live_environment(environment_id) else None

    async def environments(self, page_size: int, page_number: int) -> tuple[list[EnvironmentView], int]:
        model = await self._fold()
        live = [(at, view.id, view) for view, at in model.environments.values() if model.live_environment(view.id)]
        ordered = [view for _, _, view in sorted(live, key=lambda item: item[:2])]
        start = (page_number - 1) * page_size
        return ordered[start : start + page_size], len(ordered)

    async def space(self, environment_id: str, space_id: str) -> SpaceView | None:
        return (await self._fold()).live_space(environment_id, space_id)

    async def spaces(self, query: ListSpaces) -> tuple[list[SpaceView], int]:
        model = await self._fold()
        found = [v for v in model.spaces.values() if model.live_space(query.environment_id, v.id) and _listed(query, v)]
        ordered = _sorted(found, SORT_ATTRIBUTES[query.sort_field], descending=query.sort_direction == "desc")
        start = (query.page_number - 1) * query.page_size
        return ordered[start : start + query.page_size], len(ordered)

    async def space_exists(self, environment_id: str, space_id: str) -> bool:
        return (await self._fold()).live_space(environment_id, space_id) is not None

    async def document(self, environment_id: str, space_id: str, document_id: str) -> DocumentView | None:
        model = await self._fold()
        view = model.documents.get(document_id)
        if view is None or (view.space_id, view.environment_id) != (space_id, environment_id):
            return None
        return view if model.live_space(None, space_id) else None

    async def documents(self, space_id: str) -> list[DocumentView]:
        found = [v for v in (await self._fold()).documents.values() if v.space_id == space_id]
        return sorted(found, key=lambda v: (v.created_at, v.id))[:1000]

    async def guests(self, environment_id: str, guest_ids: list[str]) -> list[GuestView]:
        model = await self._fold()
        found = [v for v in model.guests.values() if v.id in guest_ids and v.environment_id == environment_id]
        return sorted(found, key=lambda v: (v.created_at, v.id))

    async def guest_ids_in_space(self, space_id: str, email: str | None) -> list[str]:
        model = await self._fold()
        found = [v for v in model.guests.values() if space_id in _granted(v) and email in (None, v.email)]
        return [v.id for v in sorted(found, key=lambda v: (v.created_at, v.id))][:1000]

    async def secrets(self, environment_id: str, space_id: str | None, actor_id: str | None) -> list[SecretRow]:
        found = [
            row
            for row in (await self._fold()).secrets.values()
            if row.environment_id == environment_id
            and row.space_id in (None, space_id)
            and row.actor_id in (None, actor_id)
        ]
        return sorted(found, key=lambda row: (row.name, row.id))

    async def secret(self, environment_id: str, secret_id: str) -> SecretRow | None:
        row = (await self._fold()).secrets.get(secret_id)
        return row if row is not None and row.environment_id == environment_id else None

    async def app(self, environment_id: str, app_id: str) -> AppView | None:
        view = (await self._fold()).apps.get(app_id)
        return view if view is not None and view.environment_id == environment_id else None

    async def apps(self, environment_id: str) -> list[AppView]:
        found = [v for v in (await self._fold()).apps.values() if v.environment_id == environment_id]
        return sorted(found, key=lambda v: (v.created_at, v.id))[:1000]

    async def constraints(self, app_id: str) -> list[ConstraintView]:
        found = [_latest(v) for v in (await self._fold()).versions.values() if v[0].app_id == app_id]
        return sorted(found, key=lambda v: (v.created_at, v.id))[:1000]

    async def constraint_versions(self, app_id: str, constraint_id: str) -> list[ConstraintVersionView]:
        versions = (await self._fold()).versions.get(constraint_id, [])
        return [v for v in versions if v.app_id == app_id]

    async def key_holder(self, key_hash: str) -> Principal | None:
        model = await self._fold()
        _, holder = model.keys.get(key_hash, ("", None))
        return holder if holder is not None and model.live_environment(holder.environment_id) else None

    async def guest_role(self, guest_id: str, space_id: str, environment_id: str) -> str | None:
        grant = await self.guest_grant(guest_id, space_id, environment_id)
        return None if grant is None else grant.role

    async def guest_grant(self, guest_id: str, space_id: str, environment_id: str) -> GuestGrant | None:
        model = await self._fold()
        guest = model.guests.get(guest_id)
        if guest is None or guest.environment_id != environment_id or not model.live_environment(environment_id):
            return None
        if model.live_space(None, space_id) is None:
            return None
        found = next((s for s in guest.spaces if s.id == space_id), None)
        if found is None:
            return None
        return GuestGrant(space_id=space_id, role=found.role, workbook_ids=[w.id for w in found.workbooks])

    async def api_keys(self, environment_id: str) -> list[ApiKeyView]:
        model = await self._fold()
        if not model.live_environment(environment_id):
            return []
        found = [v for v in model.key_views.values() if v.environment_id == environment_id]
        return sorted(found, key=lambda v: (v.created_at, v.id))

    async def guest_roles(self, environment_id: str, guest_id: str) -> list[ActorRoleView]:
        model = await self._fold()
        guest = model.guests.get(guest_id)
        if guest is None or guest.environment_id != environment_id:
            return []
        return [
            ActorRoleView(
                id=actor_role_id(guest_id, s.id),
                role_id=role_id(s.role),
                actor_id=guest_id,
                resource_id=s.id,
                created_at=model.grant_times[guest_id, s.id][0],
                updated_at=model.grant_times[guest_id, s.id][1],
            )
            for s in guest.spaces
        ]

    async def _fold(self) -> _Model:
        model = _Model()
        async for stored in self.store.read(f"{self.store.prefix}.>"):
            _apply(model, stored)
        return model


def _granted(view: GuestView) -> list[str]:
    return [s.id for s in view.spaces]


def _listed(query: ListSpaces, view: SpaceView) -> bool:
    """The filters of `ListSpaces`, as the SQL WHERE clause applies them."""
    checks = [
        (view.archived_at is not None) == bool(query.archived),
        query.space_ids is None or view.id in query.space_ids,
        query.namespace is None or view.namespace == query.namespace,
        not query.search or query.search.lower() in view.name.lower(),
        query.is_collaborative is None or view.is_collaborative == query.is_collaborative,
        query.app_id is None or view.app_id == query.app_id,
        query.is_app_template is None or view.is_app_template == query.is_app_template,
    ]
    return all(checks)


def _sorted(views: list[SpaceView], attribute: str, *, descending: bool) -> list[SpaceView]:
    """ORDER BY <attribute> <direction> NULLS LAST, id <direction>; names compare lowercased."""

    def key(view: SpaceView) -> tuple[Any, str]:
        value = getattr(view, attribute)
        return (value.lower() if isinstance(value, str) and attribute == "name" else value), view.id

    present = sorted((v for v in views if getattr(v, attribute) is not None), key=key, reverse=descending)
    missing = sorted((v for v in views if getattr(v, attribute) is None), key=lambda v: v.id, reverse=descending)
    return present + missing


def _changes(event: Event, *, skip: str) -> dict[str, Any]:
    """The fields an update event sets (None = unchanged), but its id field."""
    return {k: v for k, v in msgspec.structs.asdict(event).items() if v is not None and k != skip}


def _apply(model: _Model, stored: StoredEvent) -> None:
    for fold in (_environment, _space, _document, _guest, _secret, _app, _constraint, _workbook):
        fold(model, stored)


def _environment(model: _Model, stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    match stored.event:
        case EnvironmentCreated() as e if e.environment_id not in model.environments:
            fields = _changes(e, skip="environment_id")
            model.environments[e.environment_id] = (
                EnvironmentView(id=e.environment_id, account_id=ACCOUNT_ID, **fields),
                at,
            )
        case EnvironmentUpdated() as e if e.environment_id in model.environments:
            view, created = model.environments[e.environment_id]
            changed = msgspec.structs.replace(view, **_changes(e, skip="environment_id"))
            model.environments[e.environment_id] = (changed, created)
        case EnvironmentDeleted() as e:
            model.deleted_environments.add(e.environment_id)
            model.keys = {h: k for h, k in model.keys.items() if k[1].environment_id != e.environment_id}
            model.key_views = {i: v for i, v in model.key_views.items() if v.environment_id != e.environment_id}
        case ApiKeyIssued() as e:
            holder = Principal(environment_id=stored.envelope.environment_id, kind=e.kind, actor=e.key_id)
            model.keys.setdefault(e.key_hash, (e.key_id, holder))
            model.key_views.setdefault(e.key_id, keys.view(e, stored.envelope.environment_id, at))
        case ApiKeyRevoked() as e:
            model.keys = {h: k for h, k in model.keys.items() if k[0] != e.key_id}
            model.key_views.pop(e.key_id, None)


def _space(model: _Model, stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    match stored.event:
        case SpaceCreated() as e if e.space_id not in model.spaces:
            fields = _changes(e, skip="space_id")
            fields["created_by_user_id"] = fields.pop("created_by")
            model.spaces[e.space_id] = SpaceView(
                id=e.space_id, created_at=at, updated_at=at, last_activity_at=at, **fields
            )
        case SpaceUpdated() as e:
            _set_space(model, e.space_id, updated_at=at, last_activity_at=at, **_changes(e, skip="space_id"))
        case SpaceArchived() as e:
            _set_space(model, e.space_id, archived_at=at, updated_at=at)
        case SpaceUnarchived() as e:
            _set_space(model, e.space_id, archived_at=None, updated_at=at)
        case SpaceDeleted() as e:
            model.deleted_spaces.add(e.space_id)
            for guest_id, view in model.guests.items():
                model.guests[guest_id] = msgspec.structs.replace(
                    view, spaces=[s for s in view.spaces if s.id != e.space_id]
                )


def _set_space(model: _Model, space_id: str, **changes: Any) -> None:
    if space_id in model.spaces:
        model.spaces[space_id] = msgspec.structs.replace(model.spaces[space_id], **changes)


def _document(model: _Model, stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    match stored.event:
        case DocumentCreated() as e if e.document_id not in model.documents:
            fields = _changes(e, skip="document_id")
            environment_id = stored.envelope.environment_id
            view = DocumentView(id=e.document_id, environment_id=environment_id, created_at=at, updated_at=at, **fields)
            model.documents[e.document_id] = view
        case DocumentUpdated() as e if e.document_id in model.documents:
            changes = _changes(e, skip="document_id")
            model.documents[e.document_id] = msgspec.structs.replace(
                model.documents[e.document_id], updated_at=at, **changes
            )
        case DocumentDeleted() as e:
            model.documents.pop(e.document_id, None)
        case _:
            return
    if stored.envelope.space_id is not None:  # a document changed: the space saw activity
        _set_space(model, stored.envelope.space_id, last_activity_at=at)


def _guest(model: _Model, stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    _grant_times(model, stored.event, at)
    match stored.event:
        case GuestCreated() as e:
            model.guests[e.guest_id] = GuestView(
                id=e.guest_id,
                environment_id=e.environment_id,
                email=e.email,
                name=e.name,
                spaces=_grants(e.spaces),
                created_at=at,
                updated_at=at,
            )
        case GuestUpdated() as e if e.guest_id in model.guests:
            changes: dict[str, Any] = _changes(e, skip="guest_id")
            if e.spaces is not None:
                changes["spaces"] = _grants(e.spaces)
            model.guests[e.guest_id] = msgspec.structs.replace(model.guests[e.guest_id], updated_at=at, **changes)
        case GuestDeleted() as e:
            model.guests.pop(e.guest_id, None)


def _grant_times(model: _Model, event: Event | None, at: datetime) -> None:
    """When each grant was made and last changed, as the projection's guest_space upsert keeps them."""
    match event:
        case GuestCreated(guest_id=guest_id, spaces=spaces) | GuestUpdated(guest_id=guest_id, spaces=list() as spaces):
            current = model.guests.get(guest_id)
            before = {} if current is None or isinstance(event, GuestCreated) else {v.id: v for v in current.spaces}
            times = {}
            for view in _grants(spaces):
                created, updated = model.grant_times.get((guest_id, view.id), (at, at))
                old = before.get(view.id)
                times[guest_id, view.id] = (at, at) if old is None else (created, updated if old == view else at)
            model.grant_times = {k: v for k, v in model.grant_times.items() if k[0] != guest_id} | times
        case GuestDeleted(guest_id=guest_id):
            model.grant_times = {k: v for k, v in model.grant_times.items() if k[0] != guest_id}
        case SpaceDeleted(space_id=space_id):
            model.grant_times = {k: v for k, v in model.grant_times.items() if k[1] != space_id}


def _grants(grants: list[GuestGrant]) -> list[GuestSpaceView]:
    views = [
        GuestSpaceView(id=g.space_id, role=g.role, workbooks=[GuestWorkbookView(id=w) for w in g.workbook_ids])
        for g in grants
    ]
    return sorted(views, key=lambda v: v.id)


def _workbook(model: _Model, stored: StoredEvent) -> None:
    """Any workbook event is activity in its space; creates and deletes move `workbooks_count`."""
    space_id, event = stored.envelope.space_id, stored.event
    if space_id is None or space_id not in model.spaces or not isinstance(event, workbook.EVENTS):
        return
    step = 1 if isinstance(event, WorkbookCreated) else -1 if isinstance(event, WorkbookDeleted) else 0
    count = max(model.spaces[space_id].workbooks_count + step, 0)
    _set_space(model, space_id, workbooks_count=count, last_activity_at=stored.envelope.occurred_at)


def _secret(model: _Model, stored: StoredEvent) -> None:
    match stored.event:
        case SecretCreated() as e:
            model.secrets[e.secret_id] = SecretRow(
                id=e.secret_id,
                name=e.name,
                ciphertext=e.ciphertext,
                environment_id=e.environment_id,
                space_id=e.space_id,
                actor_id=e.actor_id,
            )
        case SecretUpdated() as e if e.secret_id in model.secrets:
            model.secrets[e.secret_id] = msgspec.structs.replace(model.secrets[e.secret_id], ciphertext=e.ciphertext)
        case SecretDeleted() as e:
            model.secrets.pop(e.secret_id, None)


def _app(model: _Model, stored: StoredEvent) -> None:
    at = stored.envelope.occurred_at
    match stored.event:
        case AppCreated() as e if e.app_id not in model.apps:
            model.apps[e.app_id] = AppView(
                id=e.app_id,
                name=e.name,
                namespace=e.namespace,
                type=e.app_type,
                entity=e.entity,
                entity_plural=e.entity_plural,
                environment_id=e.environment_id,
                created_at=at,
                updated_at=at,
                icon=e.icon,
                metadata=e.metadata,
                environment_filters=e.environment_filters,
                blueprint=e.blueprint,
            )
        case AppUpdated() as e if e.app_id in model.apps:
            changes = _changes(e, skip="app_id")
            model.apps[e.app_id] = msgspec.structs.replace(model.apps[e.app_id], updated_at=at, **changes)
        case AppDeleted() as e:
            model.apps.pop(e.app_id, None)


def _constraint(model: _Model, stored: StoredEvent) -> None:
    """Every version of each live constraint, in order; the last one is the constraint."""
    at = stored.envelope.occurred_at
    match stored.event:
        case ConstraintCreated() as e if e.constraint_id not in model.versions:
            model.versions[e.constraint_id] = [
                ConstraintVersionView(
                    id=e.constraint_id,
                    app_id=e.app_id,
                    validator=e.validator,
                    version=1,
                    created_at=at,
                    updated_at=at,
                    description=e.description,
                    function=e.function,
                    options=e.options,
                    label=e.label,
                )
            ]
        case ConstraintUpdated() as e if e.constraint_id in model.versions:
            versions = model.versions[e.constraint_id]
            if e.version > versions[-1].version:
                versions.append(
                    msgspec.structs.replace(
                        versions[0],
                        version=e.version,
                        created_at=at,
                        updated_at=at,
                        description=e.description,
                        function=e.function,
                        options=e.options,
                        label=e.label,
                    )
                )
        case ConstraintDeleted() as e:
            model.versions.pop(e.constraint_id, None)


def _latest(versions: list[ConstraintVersionView]) -> ConstraintView:
    """The constraint as its latest version has it, created when its first version was."""
    first, last = versions[0], versions[-1]
    return ConstraintView(
        id=last.id,
        app_id=last.app_id,
        validator=last.validator,
        created_at=first.created_at,
        updated_at=last.created_at,
        description=last.description,
        function=last.function,
        options=last.options,
        label=last.label,
        version=last.version,
    )
