"""Cell validation: type coercion, required, enum options, list types. Pure, no I/O.

A bad value is never dropped: the cell keeps what the client sent and gets an error message,
so nothing is lost and the user can fix it. Uniqueness and reference links need the rest of the
sheet (or another sheet) and are decided by the application layer (`checks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from spaceport.contracts.blueprint import (
    BooleanField,
    EnumConfig,
    EnumField,
    EnumListField,
    Field,
    ReferenceField,
    ReferenceListField,
    RequiredConstraint,
    SheetConfig,
    UniqueConstraint,
    UniqueSheetConstraint,
)
from spaceport.contracts.record import Message

# Messages the server itself writes; they are recomputed on every write of the cell. Any other
# source (custom-logic by default) belongs to the client and stays until the client replaces it.
SERVER_SOURCES = frozenset({"required-constraint", "unique-constraint", "invalid-option", "unlinked", "type-cast"})
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})
MAX_LIST_ITEMS = 100
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DMY_OR_MDY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


@dataclass(frozen=True)
class UniqueKey:
    """A uniqueness rule: one field (`name` = key) or a sheet constraint over several fields."""

    name: str
    fields: tuple[str, ...]
    case_sensitive: bool = False
    ignore_empty: bool = True


@dataclass(frozen=True)
class FieldRule:
    key: str
    kind: str
    required: bool
    options: dict[str, Any] = field(default_factory=dict)  # lowercased value/label -> canonical value
    allow_custom: bool = False
    indeterminate: bool = False
    ref: tuple[str, str] | None = None  # (sheet slug, field key) for references


@dataclass(frozen=True)
class Schema:
    rules: dict[str, FieldRule]
    uniques: tuple[UniqueKey, ...]
    allow_additional: bool = False
    readonly: frozenset[str] = frozenset()  # field keys marked `readonly`
    sheet_readonly: bool = False

    def rule(self, key: str) -> FieldRule | None:
        return self.rules.get(key)

    @property
    def has_references(self) -> bool:
        """Reference fields link to other sheets' records: their writes are decided row by row,
        after this process's own commits are projected."""
        return any(rule.ref is not None for rule in self.rules.values())


def compile_schema(config: SheetConfig) -> Schema:
    rules = {f.key: _rule(f) for f in config.fields}
    uniques = [_field_unique(f) for f in config.fields]
    for constraint in config.constraints or []:
        if isinstance(constraint, UniqueSheetConstraint):
            uniques.append(UniqueKey(name=f"constraint:{constraint.name}", fields=tuple(constraint.fields)))
    return Schema(
        rules,
        tuple(u for u in uniques if u is not None),
        bool(config.allow_additional_fields),
        readonly=frozenset(f.key for f in config.fields if f.readonly),
        sheet_readonly=bool(config.readonly),
    )


def _field_unique(f: Field) -> UniqueKey | None:
    for c in f.constraints or []:
        if isinstance(c, UniqueConstraint):
            cfg = c.config or {}
            return UniqueKey(
                name=f.key,
                fields=(f.key,),
                case_sensitive=bool(cfg.get("caseSensitive", False)),
                ignore_empty=bool(cfg.get("ignoreEmpty", True)),
            )
    return None


def _rule(f: Field) -> FieldRule:
    required = any(isinstance(c, RequiredConstraint) for c in f.constraints or [])
    kind = f.__struct_config__.tag
    assert isinstance(kind, str)
    if isinstance(f, EnumField) and (f.multi or f.is_array):
        kind = "enum-list"
    if isinstance(f, EnumField | EnumListField):
        return FieldRule(f.key, kind, required, _options(f.config), bool(f.config.allow_custom))
    if isinstance(f, ReferenceField | ReferenceListField):
        return FieldRule(f.key, kind, required, ref=(f.config.ref, f.config.key))
    if isinstance(f, BooleanField):
        return FieldRule(f.key, kind, required, indeterminate=bool((f.config or {}).get("allowIndeterminate")))
    return FieldRule(f.key, kind, required)


def _options(config: EnumConfig) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for option in config.options:
        for alias in (option.label, *(option.alternative_names or [])):
            if alias is not None:
                options.setdefault(str(alias).strip().lower(), option.value)
    for option in config.options:
        options[str(option.value).strip().lower()] = option.value  # values win over labels
    return options


def is_empty(value: Any) -> bool:
    return value is None or value in ("", [])


def error(message: str, source: str, key: str) -> Message:
    return Message(message=message, type="error", source=source, field=key)


NO_MESSAGES: list[Message] = []  # shared: message lists are never mutated, only replaced


def coerce(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    """The stored value and the server's messages for one cell."""
    if value.__class__ is str and value and rule.kind == "string":
        return value, NO_MESSAGES  # the common case, without the generic path's calls
    if is_empty(value):
        if rule.required:
            return value, [error(f"{rule.key} is required", "required-constraint", rule.key)]
        return value, []
    caster = _CASTERS.get(rule.kind, _as_string)
    return caster(rule, value)


def _as_string(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, str):
        return value, []
    if isinstance(value, bool):
        return ("true" if value else "false"), []
    if isinstance(value, int | float):
        return str(value), []
    return value, [error("must be text", "type-cast", rule.key)]


def _as_number(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, bool):
        return value, [error("must be a number", "type-cast", rule.key)]
    if isinstance(value, int | float):
        return value, NO_MESSAGES
    if isinstance(value, str):
        if value.isascii() and value.isdigit():
            return int(value), NO_MESSAGES
        text = value.strip().replace(",", "")
        if _NUMBER.match(text):
            number = float(text)
            return (int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number), []
    return value, [error(f"{value!r} is not a number", "type-cast", rule.key)]


def _as_boolean(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, bool):
        return value, []
    word = str(value).strip().lower() if isinstance(value, str | int) else None
    if word in TRUE_WORDS:
        return True, NO_MESSAGES
    if word in FALSE_WORDS:
        return False, NO_MESSAGES
    return value, [error(f"{value!r} is not true or false", "type-cast", rule.key)]


def _as_date(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if not isinstance(value, str):
        return value, [error("must be a date (YYYY-MM-DD)", "type-cast", rule.key)]
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value).isoformat(), NO_MESSAGES
        except ValueError:
            pass
    parsed, reason = parse_date(value.strip())
    if parsed is None:
        return value, [error(reason, "type-cast", rule.key)]
    return parsed.isoformat(), []


def parse_date(text: str) -> tuple[date | None, str]:
    """A calendar date from common spellings; day/month order must be unambiguous."""
    try:
        if m := _ISO_DATE.match(text) or _YMD.match(text):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))), ""
        if m := _DMY_OR_MDY.match(text):
            first, second, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
            if first > 12 >= second:
                return date(year, second, first), ""
            if second > 12 >= first or first == second:
                return date(year, first, second), ""
            return None, f"{text!r} is ambiguous (day/month); write it as YYYY-MM-DD"
        return datetime.fromisoformat(text).date(), ""
    except ValueError:
        return None, f"{text!r} is not a date (YYYY-MM-DD)"


def _as_enum(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, list):
        return value, [error("must be a single option", "type-cast", rule.key)]
    found = rule.options.get(str(value).strip().lower(), _MISSING)
    if found is not _MISSING:
        return found, NO_MESSAGES
    if rule.allow_custom:
        return value, []
    return value, [error(f"{value!r} is not one of the allowed options", "invalid-option", rule.key)]


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return None


def _as_string_list(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    items = _as_list(value)
    if items is None or any(isinstance(i, dict | list) for i in items):
        return value, [error("must be a list of text values", "type-cast", rule.key)]
    if len(items) > MAX_LIST_ITEMS:
        return value, [error(f"at most {MAX_LIST_ITEMS} items", "type-cast", rule.key)]
    return [str(i) for i in items], []


def _as_enum_list(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    items, messages = _as_string_list(rule, value)
    if messages:
        return items, messages
    out: list[Any] = []
    for item in items:
        canonical, problems = _as_enum(rule, item)
        out.append(canonical)
        messages.extend(problems)
    return out, messages


def _as_reference(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value, []
    return value, [error("must be the key of a record in the referenced sheet", "type-cast", rule.key)]


def _as_reference_list(rule: FieldRule, value: Any) -> tuple[Any, list[Message]]:
    return _as_string_list(rule, value)


_MISSING = object()
_CASTERS = {
    "string": _as_string,
    "number": _as_number,
    "boolean": _as_boolean,
    "date": _as_date,
    "enum": _as_enum,
    "enum-list": _as_enum_list,
    "string-list": _as_string_list,
    "reference": _as_reference,
    "reference-list": _as_reference_list,
}


def unique_value(key: UniqueKey, values: dict[str, Any]) -> str | None:
    """The normalised value a record claims under `key`; None when it claims nothing."""
    parts = [values.get(f) for f in key.fields]
    if key.ignore_empty and all(is_empty(p) for p in parts):
        return None
    texts = ["" if p is None else str(p) for p in parts]
    if not key.case_sensitive:
        texts = [t.lower() for t in texts]
    return texts[0] if len(texts) == 1 else "\x1f".join(texts)
