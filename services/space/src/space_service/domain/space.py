"""Space aggregate: pure state, decide and evolve."""

from __future__ import annotations

import msgspec

from space_service.domain import limits
from spaceport.contracts.space import (
    CreateSpace,
    SpaceArchived,
    SpaceCreated,
    SpaceDeleted,
    SpaceFields,
    SpaceTransition,
    SpaceUnarchived,
    SpaceUpdated,
)
from spaceport.errors import ConflictError, NotFoundError, ValidationFailedError
from spaceport.events import Event

MAX_NAME = limits.MAX_NAME
ACCESS = frozenset({"*", "upload"})
GUEST_AUTHENTICATION = frozenset({"shared_link", "magic_link"})


class SpaceState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    archived: bool = False
    environment_id: str = ""
    allowed_domains: tuple[str, ...] = ()
    app_id: str | None = None
    namespace: str | None = None  # carried by `SpaceDeleted` (the feed's `namespaces` after erasure)


def initial() -> SpaceState:
    return SpaceState()


def evolve(state: SpaceState, event: Event) -> SpaceState:
    match event:
        case SpaceCreated(environment_id=environment_id, allowed_domains=domains, app_id=app_id, namespace=namespace):
            return SpaceState(
                exists=True,
                environment_id=environment_id,
                allowed_domains=tuple(domains),
                app_id=app_id,
                namespace=namespace,
            )
        case SpaceUpdated(allowed_domains=domains, namespace=namespace):
            if domains is not None:
                state = msgspec.structs.replace(state, allowed_domains=tuple(domains))
            if namespace is not None:
                state = msgspec.structs.replace(state, namespace=namespace)
            return state
        case SpaceArchived():
            return msgspec.structs.replace(state, archived=True)
        case SpaceUnarchived():
            return msgspec.structs.replace(state, archived=False)
        case SpaceDeleted():
            return msgspec.structs.replace(state, deleted=True)
    return state


def check_fields(fields: SpaceFields) -> None:
    """Refuse values over the limits or outside Flatfile's enums; None fields are not checked."""
    limits.text(fields.name, "name")
    limits.text(fields.namespace, "namespace")
    limits.strings(fields.labels, "labels")
    limits.json_size(fields.metadata, "metadata")
    limits.json_size(fields.settings, "settings")
    limits.json_size(fields.actions, "actions")
    limits.text(fields.translations_path, "translationsPath", 2048)
    limits.strings(fields.allowed_domains, "allowedDomains")
    if fields.access is not None and not set(fields.access) <= ACCESS:
        raise ValidationFailedError("access items must be '*' or 'upload'", key="access")
    if fields.guest_authentication is not None and not set(fields.guest_authentication) <= GUEST_AUTHENTICATION:
        raise ValidationFailedError(
            "guestAuthentication items must be 'shared_link' or 'magic_link'", key="guestAuthentication"
        )


def require_app_for_template(app_id: str | None, is_app_template: bool | None) -> None:
    """A space can be the template only of the app it belongs to."""
    if is_app_template and app_id is None:
        raise ValidationFailedError(
            "isAppTemplate needs the space to belong to an app: create it with appId", key="isAppTemplate"
        )


def create(state: SpaceState, space_id: str, cmd: CreateSpace, template_id: str | None = None) -> list[Event]:
    """`template_id`: what the space was copied from (a template space, or an app's blueprint)."""
    if state.exists:
        raise ConflictError(f"space {space_id} already exists")
    f = cmd.fields
    check_fields(f)
    require_app_for_template(cmd.app_id, f.is_app_template)
    return [
        SpaceCreated(
            space_id=space_id,
            environment_id=cmd.environment_id,
            name=f.name or "",
            namespace=f.namespace,
            labels=f.labels or [],
            metadata=f.metadata or {},
            settings=f.settings or {},
            auto_configure=cmd.auto_configure,
            created_by=cmd.principal.actor,
            access=f.access,
            guest_authentication=f.guest_authentication or ["magic_link"],
            actions=f.actions or [],
            primary_workbook_id=f.primary_workbook_id,
            translations_path=f.translations_path,
            language_override=f.language_override,
            display_order=f.display_order,
            allowed_domains=[normalise_domain(d) for d in f.allowed_domains or []],
            is_collaborative=cmd.is_collaborative,
            app_id=cmd.app_id,
            is_app_template=bool(f.is_app_template),
            template_id=template_id,
        )
    ]


def require_live(state: SpaceState, space_id: str, environment_id: str | None = None) -> None:
    """A space that is missing, deleted or in another environment is 'not found' (never leaked)."""
    if not state.exists or state.deleted or (environment_id is not None and state.environment_id != environment_id):
        raise NotFoundError(f"space {space_id} not found", key="spaceId")


def update(state: SpaceState, space_id: str, environment_id: str, fields: SpaceFields) -> list[Event]:
    require_live(state, space_id, environment_id)
    check_fields(fields)
    require_app_for_template(state.app_id, fields.is_app_template)
    changes = msgspec.structs.asdict(fields)
    if fields.allowed_domains is not None:
        changes["allowed_domains"] = [normalise_domain(d) for d in fields.allowed_domains]
    if all(value is None for value in changes.values()):
        return []
    return [SpaceUpdated(space_id=space_id, **changes)]


def transition(state: SpaceState, space_id: str, environment_id: str, change: SpaceTransition) -> list[Event]:
    """Archive, unarchive or delete; repeating an archive or unarchive changes nothing."""
    require_live(state, space_id, environment_id)
    if change == "archive":
        return [] if state.archived else [SpaceArchived(space_id=space_id)]
    if change == "unarchive":
        return [SpaceUnarchived(space_id=space_id)] if state.archived else []
    return [SpaceDeleted(space_id=space_id, namespace=state.namespace or None, app_id=state.app_id)]


def normalise_domain(domain: str) -> str:
    """`@Customer.com`, `customer.com` -> `customer.com`."""
    return domain.strip().lstrip("@").lower()


def email_allowed(state: SpaceState, email: str) -> bool:
    """An empty list allows every domain."""
    if not state.allowed_domains:
        return True
    return email.rpartition("@")[2].lower() in state.allowed_domains
