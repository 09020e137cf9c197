"""App aggregate (a Flatfile App of an environment, with its stored constraints): pure state, decide and evolve.

The constraints live in the app's stream, so one decision sees them all: validators are unique
per app, a blueprint's `stored` constraints must name one of them, and a constraint a blueprint
still uses cannot be deleted. An update of a constraint is a new version (the full state after it).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from space_service.domain import limits
from spaceport.blueprint_rules import check_sheet, check_workbook, with_slug
from spaceport.contracts.blueprint import SheetConfig, StoredConstraint
from spaceport.contracts.space import (
    APP_TYPES,
    AppCreated,
    AppDeleted,
    AppFields,
    AppUpdated,
    ConstraintCreated,
    ConstraintDeleted,
    ConstraintFields,
    ConstraintUpdated,
    Json,
)
from spaceport.errors import ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailedError
from spaceport.events import Event

MAX_ICON = 64 * 1024  # an SVG, in characters
MAX_FUNCTION = 256 * 1024  # a constraint's source code, in characters
MAX_DESCRIPTION = 4096
MAX_BLUEPRINT_BYTES = 512 * 1024  # encoded: one event stays well under JetStream's 1 MB message limit
MAX_BLUEPRINT_WORKBOOKS = 100
MAX_CONSTRAINTS = 1000
_VALIDATOR = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MISSING = re.compile(r"^Object missing required field `([^`]+)`$")


class BlueprintWorkbook(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One workbook config of an app's blueprint (what `POST /v1/workbooks` takes, without its space)."""

    name: str
    sheets: list[SheetConfig]
    labels: list[str] | None = None
    namespace: str | None = None
    metadata: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    settings: dict[str, Any] | None = None


class ConstraintState(msgspec.Struct, frozen=True, kw_only=True):
    constraint_id: str
    validator: str
    version: int = 1
    description: str | None = None
    function: str | None = None
    options: Json | None = None
    label: str | None = None


class AppState(msgspec.Struct, frozen=True, kw_only=True):
    exists: bool = False
    deleted: bool = False
    environment_id: str = ""
    blueprint: list[Json] | None = None
    constraints: dict[str, ConstraintState] = msgspec.field(default_factory=dict)  # live ones, by id

    @property
    def live(self) -> bool:
        return self.exists and not self.deleted

    def validators(self) -> set[str]:
        return {c.validator for c in self.constraints.values()}


def initial() -> AppState:
    return AppState()


def evolve(state: AppState, event: Event) -> AppState:
    match event:
        case AppCreated() as e:
            return AppState(exists=True, environment_id=e.environment_id, blueprint=e.blueprint)
        case AppUpdated(blueprint=blueprint) if blueprint is not None:
            return msgspec.structs.replace(state, blueprint=blueprint)
        case AppDeleted():
            return msgspec.structs.replace(state, deleted=True)
        case ConstraintCreated() | ConstraintUpdated() | ConstraintDeleted():
            return msgspec.structs.replace(state, constraints=_constraints(state.constraints, event))
    return state


def _constraints(constraints: dict[str, ConstraintState], event: Event) -> dict[str, ConstraintState]:
    match event:
        case ConstraintCreated() as e:
            created = ConstraintState(
                constraint_id=e.constraint_id,
                validator=e.validator,
                description=e.description,
                function=e.function,
                options=e.options,
                label=e.label,
            )
            return {**constraints, e.constraint_id: created}
        case ConstraintUpdated() as e if e.constraint_id in constraints:
            changed = msgspec.structs.replace(
                constraints[e.constraint_id],
                version=e.version,
                description=e.description,
                function=e.function,
                options=e.options,
                label=e.label,
            )
            return {**constraints, e.constraint_id: changed}
        case ConstraintDeleted() as e:
            return {k: v for k, v in constraints.items() if k != e.constraint_id}
    return constraints


# ---- checks -----------------------------------------------------------------------------


def slugify(name: str) -> str:
    """The namespace of an app created without one: `Nightly Loads` -> `nightly-loads`."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")[: limits.MAX_NAME] or "app"


def check_type(app_type: str) -> None:
    if app_type not in APP_TYPES:
        raise ValidationFailedError(f"type must be one of {', '.join(APP_TYPES)} (got {app_type!r})", key="type")


def check_fields(fields: AppFields) -> None:
    """Lengths and sizes of what a create or update sets (None: not set)."""
    if fields.name is not None:
        limits.required_text(fields.name, "name")
    if fields.namespace is not None:
        limits.required_text(fields.namespace, "namespace")
    limits.text(fields.entity, "entity")
    limits.text(fields.entity_plural, "entityPlural")
    limits.text(fields.icon, "icon", MAX_ICON)
    limits.json_size(fields.metadata, "metadata")
    limits.json_size(fields.environment_filters, "environmentFilters")


def _where(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's message without its path, and the path (`[0].sheets[1].name`) after `$`."""
    text = str(error)
    message, _, path = text.partition(" - at `$")
    path = path.rstrip("`")
    missing = _MISSING.match(message)
    return message, f"{path}.{missing.group(1)}" if missing else path


def blueprint(value: list[Json] | None, validators: set[str]) -> list[Json] | None:
    """The blueprint, decoded as workbook configs and checked (sheet slugs filled in), as stored;
    400 naming the path (`blueprint[0].sheets[1].fields[2].type`) of what is wrong."""
    if value is None:
        return None
    if len(value) > MAX_BLUEPRINT_WORKBOOKS:
        raise ValidationFailedError(f"a blueprint has at most {MAX_BLUEPRINT_WORKBOOKS} workbooks", key="blueprint")
    if len(msgspec.json.encode(value)) > MAX_BLUEPRINT_BYTES:
        raise PayloadTooLargeError(f"the blueprint is larger than {MAX_BLUEPRINT_BYTES // 1024} KB", key="blueprint")
    try:
        workbooks = msgspec.convert(value, list[BlueprintWorkbook])
    except msgspec.ValidationError as error:
        message, path = _where(error)
        key = f"blueprint{path}"
        raise ValidationFailedError(f"{key}: {message}", key=key) from None
    checked = [_workbook(workbook, f"blueprint[{index}]", validators) for index, workbook in enumerate(workbooks)]
    out: list[Json] = msgspec.to_builtins(checked)
    return out


def _workbook(workbook: BlueprintWorkbook, path: str, validators: set[str]) -> BlueprintWorkbook:
    if not workbook.name.strip() or len(workbook.name) > limits.MAX_NAME:
        raise ValidationFailedError(f"a workbook needs a name of 1-{limits.MAX_NAME} characters", key=f"{path}.name")
    limits.strings(workbook.labels, f"{path}.labels")
    limits.text(workbook.namespace, f"{path}.namespace")
    for key, document in (
        ("metadata", workbook.metadata),
        ("actions", workbook.actions),
        ("settings", workbook.settings),
    ):
        limits.json_size(document, f"{path}.{key}")
    sheets = [with_slug(sheet) for sheet in workbook.sheets]
    for index, sheet in enumerate(sheets):
        check_sheet(sheet, f"{path}.sheets[{index}]")
        _stored(sheet, f"{path}.sheets[{index}]", validators)
    check_workbook(sheets, f"{path}.sheets")
    return msgspec.structs.replace(workbook, sheets=sheets)


def _stored(sheet: SheetConfig, path: str, validators: set[str]) -> None:
    """Every `stored` field constraint names a validator the app has as a constraint."""
    for f_index, field in enumerate(sheet.fields):
        for c_index, constraint in enumerate(field.constraints or []):
            if isinstance(constraint, StoredConstraint) and constraint.validator not in validators:
                raise ValidationFailedError(
                    f"field {field.key!r} uses stored constraint {constraint.validator!r}, which this app does not"
                    f" have (its validators: {sorted(validators)}); create it with POST /v1/apps/{{appId}}/constraints",
                    key=f"{path}.fields[{f_index}].constraints[{c_index}].validator",
                )


def _used(value: list[Json] | None) -> set[str]:
    """The validators the stored constraints of a (checked) blueprint name."""
    found: set[str] = set()
    for workbook in value or []:
        for sheet in workbook.get("sheets", []):
            for field in sheet.get("fields", []):
                for constraint in field.get("constraints") or []:
                    if constraint.get("type") == "stored":
                        found.add(str(constraint.get("validator")))
    return found


def check_constraint(fields: ConstraintFields) -> None:
    limits.text(fields.description, "description", MAX_DESCRIPTION)
    limits.text(fields.function, "function", MAX_FUNCTION)
    limits.text(fields.label, "label")
    limits.json_size(fields.options, "options")


def check_validator(validator: str | None) -> str:
    if validator is None or not validator.strip():
        raise ValidationFailedError(
            "validator is required: the name blueprints use for this constraint", key="validator"
        )
    if len(validator) > limits.MAX_NAME or not _VALIDATOR.match(validator):
        raise ValidationFailedError(
            f"validator must be 1-{limits.MAX_NAME} letters, digits, '_', '.', ':' or '-'", key="validator"
        )
    return validator


# ---- decisions --------------------------------------------------------------------------


def _require_live(state: AppState, app_id: str) -> None:
    if not state.live:
        raise NotFoundError(f"app {app_id} not found", key="appId")


def create(
    state: AppState, app_id: str, *, environment_id: str, app_type: str, fields: AppFields, created_by: str
) -> list[Event]:
    if state.exists:
        raise ConflictError(f"app {app_id} already exists")
    if fields.name is None:
        raise ValidationFailedError("name is required", key="name")
    check_type(app_type)
    check_fields(fields)
    return [
        AppCreated(
            app_id=app_id,
            environment_id=environment_id,
            name=fields.name,
            namespace=fields.namespace or slugify(fields.name),
            app_type=app_type,
            entity=fields.entity or "",
            entity_plural=fields.entity_plural or "",
            icon=fields.icon,
            metadata=fields.metadata,
            environment_filters=fields.environment_filters,
            blueprint=blueprint(fields.blueprint, set()),
            created_by=created_by,
        )
    ]


def update(state: AppState, app_id: str, fields: AppFields) -> list[Event]:
    """Only the fields set change; nothing set changes nothing (no event)."""
    _require_live(state, app_id)
    check_fields(fields)
    if fields == AppFields():
        return []
    changes = msgspec.structs.asdict(fields)
    changes["blueprint"] = blueprint(fields.blueprint, state.validators())
    return [AppUpdated(app_id=app_id, **changes)]


def delete(state: AppState, app_id: str) -> list[Event]:
    _require_live(state, app_id)
    return [AppDeleted(app_id=app_id)]


def create_constraint(state: AppState, app_id: str, constraint_id: str, fields: ConstraintFields) -> list[Event]:
    _require_live(state, app_id)
    validator = check_validator(fields.validator)
    check_constraint(fields)
    if constraint_id in state.constraints:
        raise ConflictError(f"constraint {constraint_id} already exists")
    if validator in state.validators():
        raise ConflictError(f"app {app_id} already has a constraint with validator {validator!r}", key="validator")
    if len(state.constraints) >= MAX_CONSTRAINTS:
        raise ValidationFailedError(f"an app has at most {MAX_CONSTRAINTS} constraints", key="validator")
    return [
        ConstraintCreated(
            app_id=app_id,
            constraint_id=constraint_id,
            validator=validator,
            description=fields.description,
            function=fields.function,
            options=fields.options,
            label=fields.label,
        )
    ]


def _constraint(state: AppState, app_id: str, constraint_id: str) -> ConstraintState:
    _require_live(state, app_id)
    found = state.constraints.get(constraint_id)
    if found is None:
        raise NotFoundError(f"constraint {constraint_id} not found in app {app_id}", key="constraintId")
    return found


def update_constraint(state: AppState, app_id: str, constraint_id: str, fields: ConstraintFields) -> list[Event]:
    """A new version: the fields set replace the current version's, the others carry over."""
    current = _constraint(state, app_id, constraint_id)
    if fields.validator is not None and fields.validator != current.validator:
        raise ValidationFailedError("a constraint's validator cannot change; create a new constraint", key="validator")
    check_constraint(fields)
    return [
        ConstraintUpdated(
            app_id=app_id,
            constraint_id=constraint_id,
            version=current.version + 1,
            description=current.description if fields.description is None else fields.description,
            function=current.function if fields.function is None else fields.function,
            options=current.options if fields.options is None else fields.options,
            label=current.label if fields.label is None else fields.label,
        )
    ]


def delete_constraint(state: AppState, app_id: str, constraint_id: str) -> list[Event]:
    current = _constraint(state, app_id, constraint_id)
    if current.validator in _used(state.blueprint):
        raise ConflictError(
            f"the app's blueprint still uses stored constraint {current.validator!r};"
            " remove it from the blueprint first",
            key="constraintId",
        )
    return [ConstraintDeleted(app_id=app_id, constraint_id=constraint_id)]
