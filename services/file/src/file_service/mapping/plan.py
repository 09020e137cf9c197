"""Mapping plans, pure: which source field goes to which destination field (Flatfile's JobExecutionPlan).

`compute_plan` matches by normalised names (lowercase, only a-z0-9): first an exact match of the
source key or label with a destination key, label or alternative name; then the best token /
edit-distance score at or above `THRESHOLD`. One destination per source, one source per
destination. `map_record` applies a plan to one record's values, mapping enum values to the
destination's option values (by normalised value, label or alternative name).
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from typing import Any

import msgspec

Json = dict[str, Any]
THRESHOLD = 0.75
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_TOKENS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")


class SourceField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str | None = None


class EnumChoice(msgspec.Struct, frozen=True, kw_only=True):
    value: Any
    label: str | None = None
    alternative_names: list[str] = msgspec.field(default_factory=list)


class DestinationField(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    label: str | None = None
    type: str = "string"
    alternative_names: list[str] = msgspec.field(default_factory=list)
    options: list[EnumChoice] = msgspec.field(default_factory=list)  # enum / enum-list only


def normalise(text: str) -> str:
    return _NOT_ALNUM.sub("", text.lower())


def tokens(text: str) -> set[str]:
    """Words of `text`, camelCase and separators split: "firstName" and "First Name" -> {first, name}."""
    return {t.lower() for t in _TOKENS.findall(text)}


def _names(key: str, label: str | None, extra: list[str] | None = None) -> list[str]:
    return [n for n in (key, label, *(extra or [])) if n]


def score(source: SourceField, destination: DestinationField) -> float:
    """1.0 for an exact normalised name match; else the best token overlap or edit similarity."""
    left = _names(source.key, source.label)
    right = _names(destination.key, destination.label, destination.alternative_names)
    exact = {normalise(n) for n in right} - {""}
    if any(normalise(n) in exact for n in left):
        return 1.0
    best = 0.0
    for a in left:
        for b in right:
            na, nb = normalise(a), normalise(b)
            if not na or not nb:
                continue
            ta, tb = tokens(a), tokens(b)
            jaccard = len(ta & tb) / len(ta | tb) if ta and tb else 0.0
            best = max(best, jaccard, SequenceMatcher(None, na, nb).ratio())
    return min(best, 0.99)


def _source(field: SourceField) -> Json:
    return {"key": field.key, "label": field.label or field.key}


def _destination(field: DestinationField) -> Json:
    return {"key": field.key, "label": field.label or field.key, "type": field.type}


def compute_plan(sources: list[SourceField], destinations: list[DestinationField]) -> Json:
    """The JobExecutionPlan: best pairs first (exact matches win), each field used at most once."""
    pairs = [
        (s, i, j)
        for i, src in enumerate(sources)
        for j, dst in enumerate(destinations)
        if (s := score(src, dst)) >= THRESHOLD
    ]
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for _, i, j in pairs:
        if i not in chosen and j not in taken:
            chosen[i] = j
            taken.add(j)
    mapping = [
        {"sourceField": _source(sources[i]), "destinationField": _destination(destinations[j])}
        for i, j in sorted(chosen.items())
    ]
    return {
        "fieldMapping": mapping,
        "unmappedSourceFields": [{"sourceField": _source(s)} for i, s in enumerate(sources) if i not in chosen],
        "unmappedDestinationFields": [
            {"destinationField": _destination(d)} for j, d in enumerate(destinations) if j not in taken
        ],
    }


def enum_value(value: Any, options: list[EnumChoice]) -> Any:
    """The option value `value` names (by normalised value, label or alternative name); else `value`."""
    if value is None or not options:
        return value
    wanted = normalise(str(value))
    for option in options:
        if wanted in {normalise(str(n)) for n in _names(str(option.value), option.label, option.alternative_names)}:
            return option.value
    return value


def map_record(values: dict[str, Any], plan: Json, destinations: dict[str, DestinationField]) -> Json:
    """One record's `{sourceKey: value}` as the destination's `{destKey: {"value": v}}` body."""
    out: Json = {}
    for pair in plan.get("fieldMapping") or []:
        source_key = pair["sourceField"]["key"]
        destination_key = pair["destinationField"]["key"]
        if source_key not in values:
            continue
        value = values[source_key]
        field = destinations.get(destination_key)
        if field is not None and field.options:
            value = enum_value(value, field.options)
        out[destination_key] = {"value": value}
    return out
