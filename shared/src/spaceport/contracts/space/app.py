"""Apps (aggregate `app`; scope: the environment of the key that created them) and their stored constraints.

A constraint lives in its app's stream (aggregate `app`, aggregate id the app id): validators are
unique per app and a blueprint's `stored` constraints must name one of them, both checked by one
decision over one stream. Every constraint update is a new version (1, 2, …), all kept.
Add fields with defaults only; never change a recorded shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from spaceport.contracts.space.common import Json, Wire
from spaceport.contracts.space.principal import Principal
from spaceport.events import Event

AppType = Literal["PORTAL", "PROJECTS", "MAPPING", "WORKBOOKS", "CUSTOM"]
APP_TYPES: tuple[str, ...] = ("PORTAL", "PROJECTS", "MAPPING", "WORKBOOKS", "CUSTOM")

# ---- events ----------------------------------------------------------------------------


class AppCreated(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "app"
    app_id: str
    environment_id: str
    name: str
    namespace: str
    app_type: str = "CUSTOM"
    entity: str = ""
    entity_plural: str = ""
    icon: str | None = None
    metadata: Json | None = None
    environment_filters: Json | None = None
    blueprint: list[Json] | None = None
    created_by: str = ""


class AppUpdated(Event, frozen=True, kw_only=True):
    """Only the fields that changed are set; None means unchanged."""

    aggregate: ClassVar[str] = "app"
    app_id: str
    name: str | None = None
    namespace: str | None = None
    entity: str | None = None
    entity_plural: str | None = None
    icon: str | None = None
    metadata: Json | None = None
    environment_filters: Json | None = None
    blueprint: list[Json] | None = None
    activated_at: datetime | None = None


class AppDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "app"
    app_id: str


class ConstraintCreated(Event, frozen=True, kw_only=True):
    """Version 1 of a stored constraint, in its app's stream."""

    aggregate: ClassVar[str] = "app"
    app_id: str
    constraint_id: str
    validator: str
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None


class ConstraintUpdated(Event, frozen=True, kw_only=True):
    """A new version: the constraint's full state after the update (unset fields carried over)."""

    aggregate: ClassVar[str] = "app"
    app_id: str
    constraint_id: str
    version: int
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None


class ConstraintDeleted(Event, frozen=True, kw_only=True):
    aggregate: ClassVar[str] = "app"
    app_id: str
    constraint_id: str


APP_EVENTS: tuple[type[Event], ...] = (
    AppCreated,
    AppUpdated,
    AppDeleted,
    ConstraintCreated,
    ConstraintUpdated,
    ConstraintDeleted,
)

# ---- views (wire shapes) ---------------------------------------------------------------


class AppView(Wire, frozen=True, kw_only=True):
    """Flatfile's `App`, plus the environment it belongs to."""

    id: str
    name: str
    namespace: str
    type: str
    entity: str
    entity_plural: str
    environment_id: str
    created_at: datetime
    updated_at: datetime
    icon: str | None = None
    metadata: Json | None = None
    environment_filters: Json | None = None
    blueprint: list[Json] | None = None
    deleted_at: datetime | None = None
    activated_at: datetime | None = None


class AppList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[AppView]


class ConstraintView(Wire, frozen=True, kw_only=True):
    """Flatfile's `ConstraintResource` (its latest version)."""

    id: str
    app_id: str
    validator: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None
    version: int = 1


class ConstraintList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[ConstraintView]


class ConstraintVersionView(Wire, frozen=True, kw_only=True):
    """Flatfile's `ConstraintVersionResource`: one recorded version of a constraint."""

    id: str
    app_id: str
    validator: str
    version: int
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None
    prompt: str | None = None


class ConstraintVersionList(msgspec.Struct, frozen=True, kw_only=True):
    data: list[ConstraintVersionView]


# ---- commands and queries --------------------------------------------------------------


class AppFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a client may set on an app; on update None means unchanged."""

    name: str | None = None
    namespace: str | None = None
    entity: str | None = None
    entity_plural: str | None = None
    icon: str | None = None
    metadata: Json | None = None
    environment_filters: Json | None = None
    blueprint: list[Json] | None = None
    activated_at: datetime | None = None  # update only


class CreateApp(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    type: str
    fields: AppFields
    idempotency_key: str | None = None


class UpdateApp(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    app_id: str
    fields: AppFields


class DeleteApp(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    app_id: str


class AppWritten(msgspec.Struct, frozen=True, kw_only=True):
    """Where an app write landed; read the app back with `GetApp(min_position=position)`."""

    app_id: str
    position: int


class GetApp(msgspec.Struct, frozen=True, kw_only=True):
    """404 (`NotFoundError`) for an unknown, deleted or other-environment app."""

    environment_id: str
    app_id: str
    min_position: int = 0


class ListApps(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    min_position: int = 0


class ConstraintFields(msgspec.Struct, frozen=True, kw_only=True):
    """What a client may set on a constraint; on update None means unchanged (validator: create only)."""

    validator: str | None = None
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None


class CreateConstraint(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    app_id: str
    fields: ConstraintFields


class UpdateConstraint(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    app_id: str
    constraint_id: str
    fields: ConstraintFields


class DeleteConstraint(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    environment_id: str
    app_id: str
    constraint_id: str


class ConstraintWritten(msgspec.Struct, frozen=True, kw_only=True):
    app_id: str
    constraint_id: str
    position: int


class ListConstraints(msgspec.Struct, frozen=True, kw_only=True):
    """The app's live constraints (404 for an unknown app)."""

    environment_id: str
    app_id: str
    min_position: int = 0


class GetConstraint(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    app_id: str
    constraint_id: str
    min_position: int = 0


class ListConstraintVersions(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    app_id: str
    constraint_id: str
    min_position: int = 0


class GetConstraintVersion(msgspec.Struct, frozen=True, kw_only=True):
    environment_id: str
    app_id: str
    constraint_id: str
    version: int
    min_position: int = 0
