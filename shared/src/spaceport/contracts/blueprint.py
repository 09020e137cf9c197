"""Sheet blueprints: Flatfile's field (Property) types, constraints and sheet config, as Structs.

The workbook service stores them (in its events and read model); the record service folds the
same events to know how to validate cells. Wire names are Flatfile's camelCase.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    pass


# ---- field constraints (a union tagged on `type`) ----------------------------------------


class RequiredConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="required"):
    config: dict[str, Any] | None = None


class UniqueConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="unique"):
    config: dict[str, Any] | None = None  # {caseSensitive?, ignoreEmpty?}


class ComputedConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="computed"):
    pass


class ExternalConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="external"):
    validator: str
    config: dict[str, Any] | None = None


class StoredConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="stored"):
    validator: str
    version: int | None = None
    description: str | None = None
    label: str | None = None
    config: dict[str, Any] | None = None


FieldConstraint = RequiredConstraint | UniqueConstraint | ComputedConstraint | ExternalConstraint | StoredConstraint


# ---- fields (a union tagged on `type`) ------------------------------------------------------


class EnumOption(Wire, frozen=True, kw_only=True):
    value: str | int | float | bool
    label: str | None = None
    description: str | None = None
    color: str | None = None
    icon: str | None = None
    meta: dict[str, Any] | None = None
    alternative_names: list[str] | None = None
    ordinal: int | None = None


class EnumConfig(Wire, frozen=True, kw_only=True):
    options: list[EnumOption]
    allow_custom: bool | None = None
    sort_by: Literal["label", "value", "ordinal"] | None = None


class ReferenceConfig(Wire, frozen=True, kw_only=True):
    ref: str  # sheet slug in the same workbook
    key: str  # field key in that sheet
    relationship: Literal["has-one", "has-many"] | None = None
    filter: dict[str, Any] | None = None


class BaseField(Wire, frozen=True, kw_only=True):
    key: str
    label: str | None = None
    description: str | None = None
    constraints: list[FieldConstraint] | None = None
    readonly: bool | None = None
    appearance: dict[str, Any] | None = None
    actions: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    treatments: list[str] | None = None
    alternative_names: list[str] | None = None


class StringField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="string"):
    config: dict[str, Any] | None = None  # {size: tiny|normal|medium|long}


class NumberField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="number"):
    config: dict[str, Any] | None = None  # {decimalPlaces?}
    is_array: bool | None = None


class BooleanField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="boolean"):
    config: dict[str, Any] | None = None  # {allowIndeterminate}


class DateField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="date"):
    pass


class EnumField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="enum"):
    config: EnumConfig
    multi: bool | None = None
    is_array: bool | None = None


class ReferenceField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="reference"):
    config: ReferenceConfig
    is_array: bool | None = None


class ReferenceListField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="reference-list"):
    config: ReferenceConfig


class StringListField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="string-list"):
    pass


class EnumListField(BaseField, frozen=True, kw_only=True, tag_field="type", tag="enum-list"):
    config: EnumConfig


Field = (
    StringField
    | NumberField
    | BooleanField
    | DateField
    | EnumField
    | ReferenceField
    | ReferenceListField
    | StringListField
    | EnumListField
)


# ---- sheet config ---------------------------------------------------------------------------


class UniqueSheetConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="unique"):
    name: str
    fields: list[str]
    required_fields: list[str] | None = None
    strategy: Literal["hash", "concat"] | None = None


class ExternalSheetConstraint(Wire, frozen=True, kw_only=True, tag_field="type", tag="external"):
    validator: str
    fields: list[str]
    name: str | None = None
    config: dict[str, Any] | None = None


SheetConstraint = UniqueSheetConstraint | ExternalSheetConstraint


class SheetConfig(Wire, frozen=True, kw_only=True):
    name: str
    fields: list[Field]
    slug: str | None = None
    description: str | None = None
    readonly: bool | None = None
    allow_additional_fields: bool | None = None
    mapping_confidence_threshold: float | None = None
    access: list[str] | None = None
    actions: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None = None
    constraints: list[SheetConstraint] | None = None
