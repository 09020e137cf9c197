"""Blueprint rules: what makes a sheet config, and a workbook's set of sheets, valid.

Shared: the workbook service checks workbooks with them, the space service an app's blueprint
(`workbook_service.domain.blueprint` re-exports them). Pure functions that raise
ValidationFailedError with the offending path as `key`. A sheet is checked alone (`check_sheet`);
references and slugs are checked once the whole workbook is assembled (`check_workbook`), so
sheets may reference each other in any order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import msgspec

from spaceport.contracts.blueprint import (
    EnumConfig,
    EnumField,
    EnumListField,
    ExternalConstraint,
    ExternalSheetConstraint,
    Field,
    ReferenceField,
    ReferenceListField,
    SheetConfig,
    StoredConstraint,
    UniqueSheetConstraint,
)
from spaceport.errors import PayloadTooLargeError, ValidationFailedError

MAX_NAME = 255
MAX_KEY = 255
MAX_FIELDS = 1000
MAX_CONSTRAINTS = 10
MAX_ENUM_OPTIONS = 100
MAX_LABELS = 100
MAX_JSON = 64 * 1024  # metadata, settings, actions: encoded bytes
MAX_EVENT = 900 * 1024  # one event stays under JetStream's 1 MB message limit
SHEET_ACCESS = frozenset({"*", "add", "edit", "delete", "import"})
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """The slug Flatfile-style clients expect when none is given: `My Contacts` -> `my-contacts`."""
    return _NOT_SLUG.sub("-", name.lower()).strip("-")[:MAX_KEY] or "sheet"


def with_slug(config: SheetConfig) -> SheetConfig:
    """The config with its slug filled in (derived from the name when absent)."""
    return msgspec.structs.replace(config, slug=config.slug or slugify(config.name))


def check_name(name: str | None, what: str, key: str) -> None:
    if name is None or not name.strip():
        raise ValidationFailedError(f"{what} needs a name", key=key)
    if len(name) > MAX_NAME:
        raise ValidationFailedError(f"{what} name is longer than {MAX_NAME} characters", key=key)


def check_sheet(config: SheetConfig, path: str) -> None:
    """A sheet on its own: name, slug, fields and sheet-level constraints."""
    check_name(config.name, "a sheet", f"{path}.name")
    slug = config.slug or ""
    if len(slug) > MAX_KEY or not _SLUG.match(slug):
        raise ValidationFailedError(
            f"sheet slug {slug!r} must be 1-{MAX_KEY} letters, digits, '-', '_' or '.'", key=f"{path}.slug"
        )
    _check_sheet_options(config, path)
    if len(config.fields) > MAX_FIELDS:
        raise ValidationFailedError(f"a sheet has at most {MAX_FIELDS} fields", key=f"{path}.fields")
    keys: set[str] = set()
    for index, field in enumerate(config.fields):
        where = f"{path}.fields[{index}]"
        check_field(field, where)
        if field.key in keys:
            raise ValidationFailedError(f"field key {field.key!r} appears twice in sheet {slug!r}", key=f"{where}.key")
        keys.add(field.key)
    _check_sheet_constraints(config, keys, path)


def _check_sheet_options(config: SheetConfig, path: str) -> None:
    threshold = config.mapping_confidence_threshold
    if threshold is not None and not 0 <= threshold <= 1:
        raise ValidationFailedError(
            "mappingConfidenceThreshold must be between 0 and 1", key=f"{path}.mappingConfidenceThreshold"
        )
    unknown = sorted(set(config.access or ()) - SHEET_ACCESS)
    if unknown:
        raise ValidationFailedError(f"unknown sheet access {unknown}; use {sorted(SHEET_ACCESS)}", key=f"{path}.access")


def check_field(field: Field, path: str) -> None:
    if not field.key.strip() or len(field.key) > MAX_KEY:
        raise ValidationFailedError(f"a field key must be 1-{MAX_KEY} characters", key=f"{path}.key")
    constraints = field.constraints or []
    if len(constraints) > MAX_CONSTRAINTS:
        raise ValidationFailedError(
            f"field {field.key!r} has {len(constraints)} constraints; at most {MAX_CONSTRAINTS}",
            key=f"{path}.constraints",
        )
    validators = [c.validator for c in constraints if isinstance(c, ExternalConstraint | StoredConstraint)]
    if len(validators) != len(set(validators)):
        raise ValidationFailedError(f"field {field.key!r} names the same validator twice", key=f"{path}.constraints")
    if isinstance(field, EnumField | EnumListField):
        _check_enum(field.key, field.config, f"{path}.config.options")


def _check_enum(key: str, config: EnumConfig, path: str) -> None:
    if len(config.options) > MAX_ENUM_OPTIONS:
        raise ValidationFailedError(
            f"enum field {key!r} has {len(config.options)} options; at most {MAX_ENUM_OPTIONS}", key=path
        )
    values = [option.value for option in config.options]
    if len(values) != len(set(values)):
        raise ValidationFailedError(f"enum field {key!r} lists the same option value twice", key=path)


def _check_sheet_constraints(config: SheetConfig, keys: set[str], path: str) -> None:
    names: set[str] = set()
    for index, constraint in enumerate(config.constraints or []):
        where = f"{path}.constraints[{index}]"
        if not constraint.fields:
            raise ValidationFailedError("a sheet constraint must name at least one field", key=f"{where}.fields")
        named = [*constraint.fields]
        if isinstance(constraint, UniqueSheetConstraint):
            named += constraint.required_fields or []
            if constraint.name in names:
                raise ValidationFailedError(f"sheet constraint {constraint.name!r} appears twice", key=f"{where}.name")
            names.add(constraint.name)
        missing = [key for key in named if key not in keys]
        if missing:
            label = constraint.name or (constraint.validator if isinstance(constraint, ExternalSheetConstraint) else "")
            raise ValidationFailedError(
                f"sheet constraint {label!r} names unknown fields {missing}", key=f"{where}.fields"
            )


def check_workbook(sheets: Sequence[SheetConfig], path: str = "") -> None:
    """The assembled workbook: unique slugs, and every reference resolves to a sheet and field.

    `path` prefixes the error keys (`blueprint[0].sheets`); without it they are `slug`, `config.ref`."""
    by_slug: dict[str, SheetConfig] = {}
    for sheet in sheets:
        slug = sheet.slug or ""
        if slug in by_slug:
            raise ValidationFailedError(
                f"two sheets share the slug {slug!r}; slugs are unique in a workbook", key=_at(path, "slug")
            )
        by_slug[slug] = sheet
    for sheet in sheets:
        for field in sheet.fields:
            if isinstance(field, ReferenceField | ReferenceListField):
                _check_reference(sheet.slug or "", field, by_slug, path)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_reference(
    slug: str, field: ReferenceField | ReferenceListField, by_slug: dict[str, SheetConfig], path: str
) -> None:
    target = by_slug.get(field.config.ref)
    where = f"field {field.key!r} of sheet {slug!r}"
    if target is None:
        raise ValidationFailedError(
            f"{where} references sheet {field.config.ref!r}, which is not in this workbook (sheets: {sorted(by_slug)})",
            key=_at(path, "config.ref"),
        )
    if all(f.key != field.config.key for f in target.fields):
        raise ValidationFailedError(
            f"{where} references field {field.config.key!r}, which sheet {field.config.ref!r} does not have",
            key=_at(path, "config.key"),
        )


def check_attributes(labels: Sequence[str] | None, **documents: object) -> None:
    """Labels and free-form JSON (metadata, settings, actions) within limits."""
    if labels is not None and (len(labels) > MAX_LABELS or any(len(label) > MAX_NAME for label in labels)):
        raise ValidationFailedError(f"at most {MAX_LABELS} labels of at most {MAX_NAME} characters", key="labels")
    for key, value in documents.items():
        if value is not None and len(msgspec.json.encode(value)) > MAX_JSON:
            raise ValidationFailedError(f"{key} is larger than {MAX_JSON // 1024} KB encoded", key=key)


def check_size(event: msgspec.Struct) -> None:
    """A blueprint too big for one event is refused rather than split."""
    if len(msgspec.json.encode(event)) > MAX_EVENT:
        raise PayloadTooLargeError(f"the workbook definition is larger than {MAX_EVENT // 1024} KB", key="sheets")
