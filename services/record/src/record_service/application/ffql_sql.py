"""FFQL (`q`) compiled to one SQL boolean over `record r`; every name and value is a parameter.

Semantics per field type (the field's compiled rule, `sheet.schema`):
- `eq`: `""` = the cell is empty (missing, null, `""` or `[]`). A number field with a numeric
  value compares numbers (a cell holding an invalid non-number never equals); a boolean field
  reads `true/yes/1…` and `false/no/0…` as the validation does; a date field reads the value as a
  date (`03/25/1990` = `1990-03-25`); an enum field maps an option's label or value (any case) to
  its value. Otherwise the cell's text (`->>'value'`; lists as `a, b`) equals the value exactly.
- `ne` = NOT `eq`: it also matches empty cells (`ne ""` = not empty).
- `lt gt lte gte`: numeric on a number field with a numeric value (non-numbers never match),
  otherwise the cell's text in code point order (`COLLATE "C"`; dates as ISO text); empty cells never match.
- `like` / `ilike`: SQL LIKE on the cell's text (`%`, `_`, backslash escapes), with / without case.
- `contains`: list fields (string-list, enum-list, reference-list): the list has the value as an
  item (exactly; enum options mapped as for `eq`); other fields: substring, any case.
- No field: the condition holds for some field of the sheet; `ne` without a field = no field equals.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import msgspec

from record_service.domain import ffql
from record_service.domain.validation import FALSE_WORDS, TRUE_WORDS, FieldRule, parse_date

if TYPE_CHECKING:
    from record_service.application.context import Sheet
    from record_service.application.query import Selection

LIST_KINDS = frozenset({"string-list", "enum-list", "reference-list"})
COMPARISONS = {"lt": "<", "gt": ">", "lte": "<=", "gte": ">="}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def condition(expr: ffql.Expr | str, sel: Selection, sheet: Sheet) -> str:
    """The SQL of `expr` (FFQL text is parsed first: 400 naming the position when malformed)."""
    tree = ffql.parse(expr) if isinstance(expr, str) else expr
    return _Compiler(sel, sheet).expr(tree)


def number(value: str) -> Decimal | None:
    """`value` as a number when it reads as one (commas as thousands separators), else None."""
    text = value.strip().replace(",", "")
    if not _NUMBER.match(text):
        return None
    try:
        found = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern only admits decimals
        return None
    return found if abs(found.adjusted()) <= 1000 else None  # far inside Postgres numeric's range


def resolve(sheet: Sheet, name: str, at: int) -> FieldRule:
    """A field named by key, else label, else key or label in any case (when only one matches)."""
    fields = sheet.config.fields
    key = next((f.key for f in fields if f.key == name), None)
    key = key or next((f.key for f in fields if f.label == name), None)
    if key is None:
        lowered = name.lower()
        keys = {f.key for f in fields if lowered in (f.key.lower(), (f.label or "").lower())}
        key = keys.pop() if len(keys) == 1 else None
    if key is None:
        raise ffql.fail(f"unknown field {name!r} at position {at}; name a field of this sheet by its key or label")
    return sheet.schema.rule(key) or FieldRule(key, "string", False)


class _Compiler:
    def __init__(self, sel: Selection, sheet: Sheet) -> None:
        self.sel = sel
        self.sheet = sheet
        self._placeholders: dict[tuple[type, object, str], str] = {}

    def p(self, value: object, cast: str) -> str:
        """A placeholder for `value` (each distinct value is passed once)."""
        key = (type(value), value, cast)
        found = self._placeholders.get(key)
        if found is None:
            found = self._placeholders[key] = f"{self.sel.param(value)}::{cast}"
        return found

    def expr(self, expr: ffql.Expr) -> str:
        match expr:
            case ffql.And(items=items):
                return "(" + " AND ".join(self.expr(i) for i in items) + ")"
            case ffql.Or(items=items):
                return "(" + " OR ".join(self.expr(i) for i in items) + ")"
            case ffql.Is(field=None, status=status):
                return "(NOT r.valid)" if status == "error" else "r.valid"
            case ffql.Is(field=str(name), status=status, at=at):
                has_error = f"({self.p(resolve(self.sheet, name, at).key, 'text')} = ANY(r.error_fields))"
                return has_error if status == "error" else f"(NOT {has_error})"
            case ffql.Cond(field=None):
                return self.any_field(expr)
            case ffql.Cond(field=str(name), at=at):
                return self.cond(resolve(self.sheet, name, at), expr)
        raise AssertionError(expr)

    def any_field(self, cond: ffql.Cond) -> str:
        rules = [self.sheet.schema.rule(f.key) or FieldRule(f.key, "string", False) for f in self.sheet.config.fields]
        if cond.op == "ne":
            some = [self.eq(rule, cond.value) for rule in rules]
            return f"(NOT ({' OR '.join(some) or 'false'}))"
        return f"({' OR '.join(self.cond(rule, cond) for rule in rules) or 'false'})"

    def cond(self, rule: FieldRule, cond: ffql.Cond) -> str:
        """A condition on one field; never NULL (so that NOT and `ne` mean what they say)."""
        if cond.op == "eq":
            return self.eq(rule, cond.value)
        if cond.op == "ne":
            return f"(NOT {self.eq(rule, cond.value)})"
        if cond.op in COMPARISONS:
            return self.compare(rule, COMPARISONS[cond.op], cond.value)
        if cond.op in ("like", "ilike"):
            return self.like(rule, cond)
        return self.contains(rule, cond.value)

    # ---- cell expressions -------------------------------------------------------------------

    def value(self, rule: FieldRule) -> str:
        """The cell's value as jsonb."""
        return f"(r.cells->{self.p(rule.key, 'text')}->'value')"

    def raw_text(self, rule: FieldRule) -> str:
        return f"(r.cells->{self.p(rule.key, 'text')}->>'value')"

    def text(self, rule: FieldRule) -> str:
        """The cell's value as text: `->>'value'`, a list's items joined with ', ' (as in CSV)."""
        if rule.kind not in LIST_KINDS:
            return self.raw_text(rule)
        v = self.value(rule)
        return (
            f"(CASE WHEN jsonb_typeof({v}) = 'array'"
            f" THEN (SELECT coalesce(string_agg(x, ', '), '') FROM jsonb_array_elements_text({v}) x)"
            f" ELSE {self.raw_text(rule)} END)"
        )

    def empty(self, rule: FieldRule) -> str:
        return f"(coalesce({self.raw_text(rule)}, '') = '' OR coalesce({self.value(rule)} = '[]'::jsonb, false))"

    def numeric(self, rule: FieldRule, op: str, n: Decimal) -> str:
        v = self.value(rule)
        compared = f"({v})::numeric {op} {self.p(n, 'numeric')}"
        return f"(CASE WHEN jsonb_typeof({v}) = 'number' THEN {compared} ELSE false END)"

    # ---- operators ----------------------------------------------------------------------------

    def eq(self, rule: FieldRule, value: str) -> str:
        if value == "":
            return self.empty(rule)
        if rule.kind == "number" and (n := number(value)) is not None:
            return self.numeric(rule, "=", n)
        return f"coalesce({self.text(rule)} = {self.p(normal(rule, value), 'text')}, false)"

    def compare(self, rule: FieldRule, op: str, value: str) -> str:
        if rule.kind == "number" and (n := number(value)) is not None:
            return self.numeric(rule, op, n)
        t = self.text(rule)
        return f"coalesce({t} <> '' AND {t} COLLATE \"C\" {op} {self.p(normal(rule, value), 'text')}, false)"

    def like(self, rule: FieldRule, cond: ffql.Cond) -> str:
        trailing = len(cond.value) - len(cond.value.rstrip("\\"))
        if trailing % 2:
            raise ffql.fail(
                f"the {cond.op} pattern of the condition at position {cond.at} ends with a lone backslash"
                " (write \\\\ for a backslash)"
            )
        op = "LIKE" if cond.op == "like" else "ILIKE"
        return f"coalesce({self.text(rule)} {op} {self.p(cond.value, 'text')}, false)"

    def contains(self, rule: FieldRule, value: str) -> str:
        if rule.kind in LIST_KINDS:
            item = rule.options.get(value.strip().lower(), value) if rule.kind == "enum-list" else value
            v = self.value(rule)
            wanted = self.p(msgspec.json.encode([item]).decode(), "jsonb")
            return f"(CASE WHEN jsonb_typeof({v}) = 'array' THEN {v} @> {wanted} ELSE false END)"
        return f"coalesce(strpos(lower({self.text(rule)}), lower({self.p(value, 'text')})) > 0, false)"


def normal(rule: FieldRule, value: str) -> str:
    """`value` as the validation would store it in a field of `rule` (its text), when it can."""
    if rule.kind == "boolean":
        word = value.strip().lower()
        return "true" if word in TRUE_WORDS else "false" if word in FALSE_WORDS else value
    if rule.kind == "date":
        parsed, _ = parse_date(value.strip())
        return parsed.isoformat() if parsed is not None else value
    if rule.kind == "enum":
        found = rule.options.get(value.strip().lower())
        if found is not None:
            return found if isinstance(found, str) else msgspec.json.encode(found).decode()
    return value
